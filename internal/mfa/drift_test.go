package mfa_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/mfa"
)

// CheckDrift measures how far a phone's clock is off and only reads: the
// code it checked still works once, and a wrong one is refused without
// being counted.
func TestCheckDrift(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("cid@example.com")
		sess := e.login(a)
		if _, err := e.MFA.CheckDrift(e.ctx, a, "123456"); !errors.Is(err, mfa.ErrNotEnabled) {
			t.Fatalf("without an app: %v, want ErrNotEnabled", err)
		}
		secret, _ := e.enrolTOTP(a, sess)
		a = e.Reload(t, a)
		e.Clock.Add(time.Minute)
		for _, c := range []struct {
			offset time.Duration
			want   time.Duration
		}{
			{-2 * time.Minute, -2 * time.Minute},
			{3 * time.Minute, 3 * time.Minute},
			{30 * time.Second, 30 * time.Second},
			{0, 0},
		} {
			got, err := e.MFA.CheckDrift(e.ctx, a, e.code(secret, c.offset))
			if err != nil || got != c.want {
				t.Errorf("code for now%+v: %v, %v; want %v", c.offset, got, err, c.want)
			}
		}
		for _, wrong := range []string{e.code(secret, 11*time.Minute), "12345", "abcdef"} {
			if _, err := e.MFA.CheckDrift(e.ctx, a, wrong); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Errorf("code %q: %v, want ErrInvalidCode", wrong, err)
			}
		}
		// The code checked above is not spent.
		if err := e.MFA.StepUp(e.ctx, a, sess.ID, totp(e.code(secret, 0)), meta); err != nil {
			t.Fatalf("step-up with the checked code: %v", err)
		}
	})
}
