package securitycenter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

type fakeFactors struct {
	f   mfa.Factors
	err error
}

func (f fakeFactors) FactorsOf(context.Context, string) (mfa.Factors, error) { return f.f, f.err }

type fakeDevices []session.Device

func (d fakeDevices) Devices(context.Context, string) ([]session.Device, error) { return d, nil }

type fakeSettings withdrawal.Settings

func (s fakeSettings) Settings(context.Context, string) (withdrawal.Settings, error) {
	return withdrawal.Settings(s), nil
}

func TestCountDevices(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	devices := []session.Device{
		{ID: "this", FirstSeenAt: now.Add(-time.Hour), LastSeenAt: now},               // the one asking: never to review
		{ID: "new", FirstSeenAt: now.Add(-2 * day), LastSeenAt: now.Add(-day)},        // new and recent: to review
		{ID: "old", FirstSeenAt: now.Add(-90 * day), LastSeenAt: now.Add(-day)},       // known for long: recent only
		{ID: "gone", FirstSeenAt: now.Add(-40 * day), LastSeenAt: now.Add(-31 * day)}, // not used in 30 days
		{ID: "edge", FirstSeenAt: now.Add(-30 * day), LastSeenAt: now.Add(-30 * day)}, // exactly 30 days: counts
	}
	recent, toReview := CountDevices(devices, "this", now)
	if recent != 4 || toReview != 2 {
		t.Fatalf("recent %d, to review %d; want 4 and 2", recent, toReview)
	}
}

func TestGather(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	a := account.Account{ID: "acc_1", EmailVerifiedAt: now.Add(-time.Hour), MFAEnabled: true, AntiPhishingCode: "heron", VerificationTier: 1}
	src := Sources{
		Factors: fakeFactors{f: mfa.Factors{TOTP: true, Passkeys: []mfa.Passkey{{ID: "pk"}}, RecoveryCodesLeft: 7}},
		Devices: fakeDevices{{ID: "this", FirstSeenAt: now, LastSeenAt: now}, {ID: "other", FirstSeenAt: now.Add(-time.Hour), LastSeenAt: now}},
		// Turning the allow-list off was confirmed, but takes effect later: it is still on.
		Withdrawals: fakeSettings{AllowList: true, OffEffectiveAt: now.Add(time.Hour)},
		Tiers:       verification.DefaultTiers(),
	}
	s, err := Gather(context.Background(), src, a, "this", now)
	if err != nil {
		t.Fatal(err)
	}
	want := State{EmailVerified: true, MFAEnabled: true, Passkeys: 1, RecoveryCodesLeft: 7, AntiPhishingCode: true, AllowList: true,
		VerificationTier: 1, TopTier: 2, DevicesToReview: 1, DevicesLast30Days: 2, Now: now}
	if s != want {
		t.Fatalf("state %+v\nwant  %+v", s, want)
	}

	// Past its effective time the allow-list is off; without a withdrawal
	// service it is off too.
	s, _ = Gather(context.Background(), src, a, "this", now.Add(2*time.Hour))
	if s.AllowList {
		t.Error("the allow-list is on after its switch-off took effect")
	}
	src.Withdrawals = nil
	if s, _ = Gather(context.Background(), src, a, "this", now); s.AllowList {
		t.Error("the allow-list is on without a withdrawal service")
	}

	a.FrozenAt = now
	if rep, _ := Check(context.Background(), src, a, "this", now); rep.Level != LevelBasic {
		t.Errorf("frozen account at level %s", rep.Level)
	}

	src.Factors = fakeFactors{err: errors.New("database down")}
	if _, err := Check(context.Background(), src, a, "this", now); err == nil {
		t.Error("a failed read gave a report")
	}
}
