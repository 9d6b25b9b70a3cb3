package mfa

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/totp"
)

// CheckDrift tells how far the clock of the account's authenticator app is
// off, from a code the app shows now: the signed offset of the time step
// the code belongs to (positive: the phone is ahead), a multiple of
// totp.Period. A code of the accepted window gives at most one period
// either way; one that matches only further off, up to totp.DriftLimit,
// gives how far. ErrInvalidCode: the code matches no step that near;
// ErrNotEnabled: the account has no confirmed authenticator app.
//
// It only reads: the code's time step is not spent (it still works once
// for a login or a step-up) and a wrong code is counted nowhere, neither
// on a lockout lane nor in the activity. It tells whether a code is right,
// so callers must rate-limit it per account.
func (s *Service) CheckDrift(ctx context.Context, a account.Account, code string) (time.Duration, error) {
	now := s.now()
	var sec TOTPSecret
	err := s.View(ctx, func(tx Tx) error {
		var err error
		sec, err = tx.TOTPSecretOf(ctx, a.ID)
		return err
	})
	switch {
	case isNotFound(err) || (err == nil && !sec.Confirmed()):
		return 0, ErrNotEnabled
	case err != nil:
		return 0, err
	}
	norm, err := totp.NormalizeCode(code)
	if err != nil {
		return 0, ErrInvalidCode
	}
	secret, err := s.Keys.Open(sec.Sealed, secretBinding(sec.AccountID))
	if err != nil {
		return 0, fmt.Errorf("open totp secret of %s: %w", sec.AccountID, err)
	}
	res, err := totp.Verify(string(secret), norm, now)
	if err != nil {
		return 0, fmt.Errorf("verify totp code: %w", err)
	}
	switch {
	case res.Drifted:
		return time.Duration(res.DriftSeconds) * time.Second, nil
	case res.OK:
		return time.Duration(res.Step-totp.StepAt(now)) * totp.Period, nil
	}
	return 0, ErrInvalidCode
}
