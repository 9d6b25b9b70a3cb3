package verification

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

// A lost second factor without recovery codes is the account takeover's
// favourite door, so its reset is slow on purpose: the password (proven on
// the login's challenge), a fresh selfie (and ID when the tier has one)
// reviewed like a verification, then a waiting period with an email at its
// start and every day, each with the freeze link. The owner, who still has
// the factor if this is an attack, cancels it with a normal login.

// ErrNoMFA: the account has no second factor to reset.
var ErrNoMFA = errors.New("no second factor to reset")

// errNothingDue: another node did the step first.
var errNothingDue = errors.New("nothing due")

// ResetRequirements lists what a 2FA reset must send: a government ID and
// a fresh selfie, whatever the tier. A selfie alone proves little when
// there is no earlier verified face to compare it with, and a reset is the
// door an account takeover knocks on.
func (s *Service) ResetRequirements(a account.Account) []string {
	return []string{RequireIDDocument, RequireSelfie}
}

func accessHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RequestReset opens a 2FA reset for a, whose password the caller has just
// checked, and returns the token that lets its owner (who cannot log in)
// upload and submit. Asking again replaces the token.
func (s *Service) RequestReset(ctx context.Context, a account.Account, m account.Meta) (string, Verification, error) {
	if a.Frozen() {
		return "", Verification{}, ErrNoReset // a freeze stops everything, a reset first
	}
	if !a.MFAEnabled {
		return "", Verification{}, ErrNoMFA
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	var v Verification
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		if v, err = s.open(ctx, tx, a, PurposeMFAReset, now); err != nil {
			return err
		}
		if v, err = tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
			old.AccessHash, old.UpdatedAt = accessHash(token), now
			return old, nil
		}); err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "mfa_reset.requested", m, now, map[string]any{"verification_id": v.ID}); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "Someone asked to remove two-factor authentication from your account",
			"lines": []string{
				fmt.Sprintf("A reset of your second factor was requested at %s from %s, after your password was entered.", now.Format("2006-01-02 15:04 UTC"), orUnknown(m.IP)),
				"If this was you, send the selfie asked for; after review and a waiting period your second factor will be removed.",
				"If it was not you, someone knows your password: freeze your account now with the link below, then change your password.",
			},
		}, true, now)
	})
	if err != nil {
		return "", Verification{}, err
	}
	s.Accounts.AfterCommit(nil)
	return token, v, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

// ResetByToken finds the open 2FA reset a token gives access to, with its
// account. A reset that was cancelled, rejected, or completed no longer opens.
func (s *Service) ResetByToken(ctx context.Context, token string) (account.Account, Verification, error) {
	var a account.Account
	var v Verification
	err := s.View(ctx, func(tx Tx) error {
		var err error
		if token == "" {
			return ErrNoReset
		}
		v, err = tx.VerificationByAccess(ctx, accessHash(token))
		if isNotFound(err) {
			return ErrNoReset
		}
		if err != nil {
			return err
		}
		if v.Purpose != PurposeMFAReset || !v.CancelledAt.IsZero() || !v.CompletedAt.IsZero() || v.Status == StatusRejected {
			return ErrNoReset
		}
		if a, err = tx.AccountByID(ctx, v.AccountID); err != nil {
			return err
		}
		if a.Frozen() {
			return ErrNoReset // a freeze stops everything, a reset first
		}
		return nil
	})
	return a, v, err
}

// ResetDocuments lists the current documents of a reset.
func (s *Service) ResetDocuments(ctx context.Context, v Verification) ([]Document, error) {
	var docs []Document
	err := s.View(ctx, func(tx Tx) error {
		var err error
		docs, err = tx.DocumentsOf(ctx, v.ID)
		return err
	})
	return current(docs), err
}

// SubmitReset sends a reset to review once it has what ResetRequirements asks.
func (s *Service) SubmitReset(ctx context.Context, token string, m account.Meta) (Verification, error) {
	a, v, err := s.ResetByToken(ctx, token)
	if err != nil {
		return Verification{}, err
	}
	now := s.now()
	err = s.Transact(ctx, func(tx Tx) error {
		docs, err := tx.DocumentsOf(ctx, v.ID)
		if err != nil {
			return err
		}
		got := have(a, Verification{}, current(docs))
		if missing := Missing(Tier{Requires: s.ResetRequirements(a)}, got); len(missing) > 0 {
			return &IncompleteError{Missing: missing}
		}
		if v, err = tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
			to, err := Next(old.Status, EventSubmit)
			if err != nil {
				return old, ErrLocked
			}
			old.Status, old.SubmittedAt, old.UpdatedAt, old.Reason = to, now, now, ""
			return old, nil
		}); err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "mfa_reset.submitted", m, now, map[string]any{"verification_id": v.ID})
	})
	return v, err
}

// CancelReset ends the account's open or waiting 2FA reset: the owner, logged
// in, says it was not them (or no longer needed).
func (s *Service) CancelReset(ctx context.Context, a account.Account, m account.Meta) error {
	now := s.now()
	err := s.Transact(ctx, func(tx Tx) error {
		return s.cancelReset(ctx, tx, a, "cancelled by the owner", m, now)
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return err
}

func (s *Service) cancelReset(ctx context.Context, tx Tx, a account.Account, why string, m account.Meta, now time.Time) error {
	v, err := tx.LatestVerification(ctx, a.ID, PurposeMFAReset, "")
	if isNotFound(err) {
		return ErrNoReset
	}
	if err != nil {
		return err
	}
	if !v.CancelledAt.IsZero() || !v.CompletedAt.IsZero() || v.Status == StatusRejected {
		return ErrNoReset
	}
	if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
		old.CancelledAt, old.UpdatedAt, old.AccessHash, old.Reason = now, now, "", why
		return old, nil
	}); err != nil {
		return err
	}
	if err := s.Accounts.Record(ctx, tx, a, "mfa_reset.cancelled", m, now, map[string]any{"verification_id": v.ID, "why": why}); err != nil {
		return err
	}
	return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
		"subject": "The two-factor reset was cancelled",
		"lines":   []string{"The request to remove your second factor was cancelled (" + why + "). Your second factor stays as it is."},
	}, false, now)
}

// RunResets does what approved resets are due for: a reminder every
// ResetReminder while they wait, and at the end the removal of every second
// factor, the end of all sessions and the start of the withdrawal cooldown.
// A frozen account's reset is cancelled instead. It returns how many resets
// took effect.
func (s *Service) RunResets(ctx context.Context) (int, error) {
	now := s.now()
	var due []Verification
	if err := s.View(ctx, func(tx Tx) error {
		var err error
		due, err = tx.ResetsDue(ctx, now, s.Policy.ResetReminder, 100)
		return err
	}); err != nil {
		return 0, err
	}
	done := 0
	system := account.Meta{Actor: "system"}
	for _, v := range due {
		var revoked []string
		completed := false
		err := s.Transact(ctx, func(tx Tx) error {
			a, err := tx.AccountByID(ctx, v.AccountID)
			if err != nil {
				return err
			}
			// Every node runs this: the lock makes a second node wait, then
			// find the step done.
			v, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
				if !old.Waiting() || (now.Before(old.EffectiveAt) && now.Sub(old.RemindedAt) < s.Policy.ResetReminder) {
					return old, errNothingDue
				}
				return old, nil
			})
			if errors.Is(err, errNothingDue) {
				return nil
			}
			if err != nil {
				return err
			}
			if a.Frozen() {
				return s.cancelReset(ctx, tx, a, "the account was frozen", system, now)
			}
			if now.Before(v.EffectiveAt) {
				if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
					old.RemindedAt = now
					return old, nil
				}); err != nil {
					return err
				}
				return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
					"subject": "Two-factor authentication will be removed from your account",
					"lines": []string{
						fmt.Sprintf("As requested, your second factor will be removed on %s.", v.EffectiveAt.Format("2006-01-02 15:04 UTC")),
						"If you did not ask for this, freeze your account now with the link below, or log in with your second factor and cancel the reset.",
					},
				}, true, now)
			}
			if a, err = s.Factors(ctx, tx, a, now); err != nil {
				return err
			}
			if revoked, err = tx.RevokeSessions(ctx, a.ID, "", "", "mfa_reset", now); err != nil {
				return err
			}
			if _, err := tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
				old.CompletedAt, old.UpdatedAt, old.AccessHash = now, now, ""
				return old, nil
			}); err != nil {
				return err
			}
			completed = true
			if err := s.Accounts.Record(ctx, tx, a, "mfa_reset.completed", system, now, map[string]any{
				"verification_id": v.ID, "sessions_revoked": len(revoked),
			}); err != nil {
				return err
			}
			return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
				"subject": "Two-factor authentication was removed from your account",
				"lines": []string{
					"Your second factor was removed after the waiting period and every session was ended. Log in with your password and set up two-factor authentication again.",
					"Withdrawals are paused for a while after this change, to protect you.",
				},
			}, true, now)
		})
		if err != nil {
			return done, fmt.Errorf("run 2FA reset %s: %w", v.ID, err)
		}
		if completed {
			done++
		}
		s.Accounts.AfterCommit(revoked)
	}
	return done, nil
}
