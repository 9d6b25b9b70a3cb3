package withdrawal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
)

// newToken returns an email link's token and the hash that is stored.
func newToken() (plain, hash string) {
	raw := make([]byte, 32)
	rand.Read(raw)
	plain = base64.RawURLEncoding.EncodeToString(raw)
	return plain, tokenHash(plain)
}

func tokenHash(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// NewAddress is an address as the user asks to add it.
type NewAddress struct {
	Asset, Network, Address, Memo, Label string
}

// FieldError is one invalid field of a request.
type FieldError struct{ Field, Code, Detail string }

// ValidationError lists the invalid fields of a request.
type ValidationError struct {
	Code   string // invalid_address, invalid_amount or validation_failed
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Detail)
	}
	return e.Code + ": " + strings.Join(parts, "; ")
}

// stepUp refuses a sensitive change unless the session proved a second
// factor recently; an account without one must turn it on first.
func (s *Service) stepUp(a account.Account, sess session.Session) error {
	if !a.MFAEnabled {
		return &Refusal{Code: CodeMFARequired, Detail: "turn on two-factor authentication first"}
	}
	if s.MFA.NeedsStepUp(a, sess) {
		return &Refusal{Code: CodeMFARequired, Detail: "confirm with your second factor first (POST /v1/step-up)"}
	}
	return nil
}

// validLabel accepts up to 60 printable characters.
func validLabel(l string) bool {
	return utf8.RuneCountInString(l) <= 60 && !strings.ContainsFunc(l, func(r rune) bool { return !unicode.IsPrint(r) })
}

// AddAddress puts an address in the book as pending_confirmation and emails
// the owner a confirmation link (with the details, the device and the
// freeze link). It needs a recent second factor.
func (s *Service) AddAddress(ctx context.Context, a account.Account, sess session.Session, n NewAddress, m account.Meta) (Address, error) {
	if err := s.stepUp(a, sess); err != nil {
		return Address{}, err
	}
	_, network, err := s.Assets.Find(n.Asset, n.Network)
	if err != nil {
		return Address{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"network", "unknown", err.Error()}}}
	}
	norm, err := address.Validate(network, n.Address, n.Memo)
	if err != nil {
		field := "address"
		if strings.Contains(err.Error(), "memo") {
			field = "memo"
		}
		return Address{}, &ValidationError{Code: CodeInvalidAddress, Fields: []FieldError{{field, "invalid", err.Error()}}}
	}
	label := strings.TrimSpace(n.Label)
	if !validLabel(label) {
		return Address{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"label", "invalid", "up to 60 printable characters"}}}
	}
	now := s.now()
	plain, hash := newToken()
	addr := Address{ID: id.New("adr"), AccountID: a.ID, Asset: n.Asset, Network: n.Network, Address: norm.Address, Memo: norm.Memo,
		Label: label, Status: AddressPendingConfirmation, ConfirmTokenHash: hash, CreatedAt: now, ConfirmBy: now.Add(s.Policy.ConfirmationTTL)}
	err = s.Transact(ctx, func(tx Tx) error {
		if err := tx.InsertAddress(ctx, addr); err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "address.added", m, now, map[string]any{
			"address_id": addr.ID, "asset": addr.Asset, "network": addr.Network, "address": addr.Address, "label": addr.Label,
		}); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "Confirm the new withdrawal address",
			"lines": []string{
				fmt.Sprintf("A withdrawal address was added to your account at %s from %s (%s):", now.Format("2006-01-02 15:04 UTC"), orUnknown(m.IP), session.DescribeAgent(m.UserAgent)),
				fmt.Sprintf("%s on %s: %s%s", addr.Asset, addr.Network, addr.Address, memoText(addr.Memo)),
				fmt.Sprintf("Confirm it with the link below and your second factor within %d minutes. It can be used %s after that.",
					int(s.Policy.ConfirmationTTL.Minutes()), humanDuration(s.Policy.AddressHold)),
				"If you did not add it, do not confirm: freeze your account with the link below.",
			},
			"action_url":   s.Accounts.BaseURL + "/addresses/confirm?" + url.Values{"id": {addr.ID}, "token": {plain}}.Encode(),
			"action_label": "Confirm this address",
		}, true, now)
	})
	if err != nil {
		return Address{}, err
	}
	s.Accounts.AfterCommit(nil)
	return addr, nil
}

func memoText(memo string) string {
	if memo == "" {
		return ""
	}
	return " (memo " + memo + ")"
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

// humanDuration writes a hold such as "24 hours" or "30 seconds".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d.Round(time.Second)/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// ConfirmAddress takes the email link's token and a second-factor code (in
// the user's session): the address goes on hold until AddressHold has passed.
func (s *Service) ConfirmAddress(ctx context.Context, a account.Account, sess session.Session, addressID, token, code string, m account.Meta) (Address, error) {
	now := s.now()
	var addr Address
	if err := s.View(ctx, func(tx Tx) error {
		var err error
		addr, err = tx.AddressByID(ctx, a.ID, addressID)
		return err
	}); err != nil {
		if isNotFound(err) {
			return Address{}, ErrNotFound
		}
		return Address{}, err
	}
	if addr.Status != AddressPendingConfirmation || !addr.DeletedAt.IsZero() || now.After(addr.ConfirmBy) ||
		token == "" || tokenHash(token) != addr.ConfirmTokenHash {
		return Address{}, ErrInvalidToken
	}
	// The code is checked (and spent) first, in its own transaction, like
	// every step-up: a wrong one counts against the account's lockout.
	if err := s.MFA.StepUp(ctx, a, sess.ID, codeProof(code), m); err != nil {
		return Address{}, err
	}
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		addr, err = tx.UpdateAddress(ctx, a.ID, addressID, func(old Address) (Address, error) {
			if old.Status != AddressPendingConfirmation || old.ConfirmTokenHash != tokenHash(token) {
				return old, ErrInvalidToken
			}
			old.Status, old.ConfirmTokenHash, old.ConfirmedAt, old.AvailableAt = AddressOnHold, "", now, now.Add(s.Policy.AddressHold)
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "address.confirmed", m, now, map[string]any{
			"address_id": addr.ID, "available_at": addr.AvailableAt,
		}); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "A withdrawal address was confirmed",
			"lines": []string{
				fmt.Sprintf("%s on %s: %s%s was confirmed and can be used from %s.", addr.Asset, addr.Network, addr.Address, memoText(addr.Memo),
					addr.AvailableAt.Format("2006-01-02 15:04 UTC")),
				"If this was not you, freeze your account now with the link below.",
			},
		}, true, now)
	})
	if err != nil {
		return Address{}, err
	}
	s.Accounts.AfterCommit(nil)
	return addr, nil
}

// Addresses lists the account's address book.
func (s *Service) Addresses(ctx context.Context, accountID string) ([]Address, error) {
	var out []Address
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.AddressesOf(ctx, accountID)
		return err
	})
	return out, err
}

// DeleteAddress removes an address at once: removing can only make the
// account safer.
func (s *Service) DeleteAddress(ctx context.Context, a account.Account, addressID string, m account.Meta) error {
	now := s.now()
	err := s.Transact(ctx, func(tx Tx) error {
		addr, err := tx.UpdateAddress(ctx, a.ID, addressID, func(old Address) (Address, error) {
			if !old.DeletedAt.IsZero() {
				return old, ErrNotFound
			}
			old.DeletedAt, old.ConfirmTokenHash = now, ""
			return old, nil
		})
		if isNotFound(err) || errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "address.deleted", m, now, map[string]any{"address_id": addr.ID, "address": addr.Address})
	})
	return err
}

// Settings reads the user's withdrawal settings.
func (s *Service) Settings(ctx context.Context, accountID string) (Settings, error) {
	var out Settings
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.SettingsOf(ctx, accountID)
		return err
	})
	return out, err
}

// EnableAllowList turns the allow-list on at once (and drops a pending
// switch-off): it only narrows where funds may go.
func (s *Service) EnableAllowList(ctx context.Context, a account.Account, m account.Meta) (Settings, error) {
	now := s.now()
	var out Settings
	err := s.Transact(ctx, func(tx Tx) error {
		st, err := tx.SettingsOf(ctx, a.ID)
		if err != nil {
			return err
		}
		out = Settings{AccountID: a.ID, AllowList: true, UpdatedAt: now}
		if err := tx.PutSettings(ctx, out); err != nil {
			return err
		}
		if st.AllowListAt(now) && st.OffRequestedAt.IsZero() {
			return nil
		}
		return s.Accounts.Record(ctx, tx, a, "allow_list.enabled", m, now, nil)
	})
	return out, err
}

// DisableAllowList asks to turn the allow-list off: it needs a recent
// second factor now, then the email link, and takes effect AddressHold
// after the link was followed.
func (s *Service) DisableAllowList(ctx context.Context, a account.Account, sess session.Session, m account.Meta) (Settings, error) {
	if err := s.stepUp(a, sess); err != nil {
		return Settings{}, err
	}
	now := s.now()
	plain, hash := newToken()
	var out Settings
	err := s.Transact(ctx, func(tx Tx) error {
		st, err := tx.SettingsOf(ctx, a.ID)
		if err != nil {
			return err
		}
		if !st.AllowListAt(now) {
			out = st
			return nil // already off
		}
		st.OffTokenHash, st.OffRequestedAt, st.OffConfirmedAt, st.OffEffectiveAt, st.UpdatedAt = hash, now, time.Time{}, time.Time{}, now
		if err := tx.PutSettings(ctx, st); err != nil {
			return err
		}
		out = st
		if err := s.Accounts.Record(ctx, tx, a, "allow_list.disable_requested", m, now, nil); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "Confirm turning off the withdrawal allow-list",
			"lines": []string{
				fmt.Sprintf("Someone asked at %s from %s to let withdrawals go to any address, not only to your confirmed ones.", now.Format("2006-01-02 15:04 UTC"), orUnknown(m.IP)),
				fmt.Sprintf("If it was you, confirm with the link below within %d minutes; it takes effect %s later.", int(s.Policy.ConfirmationTTL.Minutes()), humanDuration(s.Policy.AddressHold)),
				"If it was not you, do not confirm: freeze your account with the link below.",
			},
			"action_url":   s.Accounts.BaseURL + "/allow-list/confirm?" + url.Values{"token": {plain}}.Encode(),
			"action_label": "Turn the allow-list off",
		}, true, now)
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return out, err
}

// ConfirmAllowListOff follows the email link: the switch-off takes effect
// AddressHold from now.
func (s *Service) ConfirmAllowListOff(ctx context.Context, token string, m account.Meta) (Settings, error) {
	now := s.now()
	var out Settings
	err := s.Transact(ctx, func(tx Tx) error {
		if token == "" {
			return ErrInvalidToken
		}
		st, err := tx.SettingsByOffToken(ctx, tokenHash(token))
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if now.After(st.OffRequestedAt.Add(s.Policy.ConfirmationTTL)) || !st.OffConfirmedAt.IsZero() {
			return ErrInvalidToken
		}
		st.OffTokenHash, st.OffConfirmedAt, st.OffEffectiveAt, st.UpdatedAt = "", now, now.Add(s.Policy.AddressHold), now
		if err := tx.PutSettings(ctx, st); err != nil {
			return err
		}
		out = st
		a, err := tx.AccountByID(ctx, st.AccountID)
		if err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "allow_list.disable_confirmed", m, now, map[string]any{"effective_at": st.OffEffectiveAt})
	})
	return out, err
}

// codeProof reads a typed code as what it is: six digits from the app, or
// a longer recovery code.
func codeProof(code string) mfa.Proof {
	if len(strings.TrimSpace(code)) > 8 {
		return mfa.Proof{Method: mfa.MethodRecoveryCode, Code: code}
	}
	return mfa.Proof{Method: mfa.MethodTOTP, Code: code}
}
