package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// A password-reset request for an email without an account does no work,
// yet answers no sooner than one for a real account would: it waits out
// the time real work takes (ARCHITECTURE: a timing delay hides whether a
// user exists).
func TestPasswordResetForUnknownEmailTakesAsLong(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	svc := servicetest.New(t, st, nil, servicetest.NewClock(time.Now())).Accounts
	for _, email := range []string{"nobody@example.com", "not an email"} {
		started := time.Now()
		if err := svc.RequestPasswordReset(context.Background(), email, account.Meta{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		// No real work was timed yet: the assumed work (10 ms) is the floor.
		if took := time.Since(started); took < 10*time.Millisecond {
			t.Errorf("%q answered in %v, sooner than a real account's reset", email, took)
		}
	}
}
