package securitycenter

import (
	"context"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// ReviewWindow is how far back the devices item looks: a device counts as
// to review when it was used within it, other than the one asking, and
// first seen within it too — a device the account has used for longer is
// known to its owner by now. Removing one (the devices page) or 30 days
// passing since its first login clears it.
const ReviewWindow = 30 * 24 * time.Hour

// FactorSource reads an account's second factors; *mfa.Service is one.
type FactorSource interface {
	FactorsOf(ctx context.Context, accountID string) (mfa.Factors, error)
}

// DeviceSource lists an account's devices; *session.Service is one.
type DeviceSource interface {
	Devices(ctx context.Context, accountID string) ([]session.Device, error)
}

// SettingsSource reads an account's withdrawal settings; *withdrawal.Service is one.
type SettingsSource interface {
	Settings(ctx context.Context, accountID string) (withdrawal.Settings, error)
}

// Sources are where Gather reads the state of an account beside the
// account itself. The pages and the JSON API fill them from the same
// services, so both show the same checklist.
type Sources struct {
	Factors FactorSource
	Devices DeviceSource
	// Withdrawals may be nil (no withdrawal pages): the allow-list is then off.
	Withdrawals SettingsSource
	// Tiers are the verification tiers (WARDEN_VERIFICATION_TIERS); the
	// highest is what the verification item asks for.
	Tiers []verification.Tier
}

// TopTier is the highest level of tiers, 0 when there are none.
func TopTier(tiers []verification.Tier) int {
	top := 0
	for _, t := range tiers {
		top = max(top, t.Level)
	}
	return top
}

// Gather reads the live state of account a for Assess. currentDeviceID is
// the device asking (its session's), never counted as one to review; now
// is the clock. The account should be fresh from the database, not from a
// session cache that may be behind the latest change.
func Gather(ctx context.Context, src Sources, a account.Account, currentDeviceID string, now time.Time) (State, error) {
	s := State{
		EmailVerified:    a.Verified(),
		MFAEnabled:       a.MFAEnabled,
		AntiPhishingCode: a.AntiPhishingCode != "",
		VerificationTier: a.VerificationTier,
		TopTier:          TopTier(src.Tiers),
		Frozen:           a.Frozen(),
		Now:              now,
	}
	f, err := src.Factors.FactorsOf(ctx, a.ID)
	if err != nil {
		return State{}, err
	}
	s.Passkeys, s.RecoveryCodesLeft = len(f.Passkeys), f.RecoveryCodesLeft
	devices, err := src.Devices.Devices(ctx, a.ID)
	if err != nil {
		return State{}, err
	}
	s.DevicesLast30Days, s.DevicesToReview = CountDevices(devices, currentDeviceID, now)
	if src.Withdrawals != nil {
		st, err := src.Withdrawals.Settings(ctx, a.ID)
		if err != nil {
			return State{}, err
		}
		s.AllowList = st.AllowListAt(now)
	}
	return s, nil
}

// CountDevices counts the devices used within ReviewWindow before now, and
// of them those to review: not currentDeviceID, and first seen within the
// window as well.
func CountDevices(devices []session.Device, currentDeviceID string, now time.Time) (recent, toReview int) {
	since := now.Add(-ReviewWindow)
	for _, d := range devices {
		if d.LastSeenAt.Before(since) {
			continue
		}
		recent++
		if d.ID != currentDeviceID && !d.FirstSeenAt.Before(since) {
			toReview++
		}
	}
	return recent, toReview
}

// Check is Assess of what Gather reads.
func Check(ctx context.Context, src Sources, a account.Account, currentDeviceID string, now time.Time) (Report, error) {
	s, err := Gather(ctx, src, a, currentDeviceID, now)
	if err != nil {
		return Report{}, err
	}
	return Assess(s), nil
}
