package withdrawal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/verification"
)

// Request is a withdrawal as the user asks for it: to a book address
// (AddressID), or, with the allow-list off, to an address typed in.
type Request struct {
	Asset, Network, Amount string
	AddressID              string
	Address, Memo          string
	IdempotencyKey         string
	Session                session.Session
	Meta                   account.Meta
}

// hash identifies the request's content, to tell a repeat from a reuse of
// its Idempotency-Key.
func (r Request) hash() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{r.Asset, r.Network, r.Amount, r.AddressID, r.Address, r.Memo}, "\x00")))
	return hex.EncodeToString(sum[:])
}

// Decided is a new (or repeated) withdrawal request.
type Decided struct {
	Withdrawal Withdrawal
	// Repeat is set when an earlier request with the same Idempotency-Key
	// is returned.
	Repeat bool
}

// Limits is what a user may withdraw and has used.
type Limits struct {
	Tier           int
	PerTransaction int64
	Rolling24h     int64
	Used24h        int64
}

// Available is what is left of the rolling limit.
func (l Limits) Available() int64 { return max(0, l.Rolling24h-l.Used24h) }

func (s *Service) tier(level int) verification.Tier {
	for _, t := range s.Tiers {
		if t.Level == level {
			return t
		}
	}
	return verification.Tier{Level: level}
}

// LimitsOf reads the account's limits and their use.
func (s *Service) LimitsOf(ctx context.Context, a account.Account) (Limits, error) {
	now := s.now()
	t := s.tier(a.VerificationTier)
	l := Limits{Tier: t.Level, PerTransaction: t.PerTransaction, Rolling24h: t.Rolling24h}
	err := s.View(ctx, func(tx Tx) error {
		var err error
		l.Used24h, err = tx.UsedSince(ctx, a.ID, now.Add(-24*time.Hour), now)
		return err
	})
	return l, err
}

// Request decides a withdrawal request, in this order, each refusal with
// its code: frozen or restricted; a security cooldown; the tier; the
// amount's value against the limits; the address. An accepted request
// waits for its confirmations. The limit check and the reservation are one
// serialised step per account, on every node.
func (s *Service) Request(ctx context.Context, a account.Account, r Request) (Decided, error) {
	now := s.now()
	asset, network, err := s.Assets.Find(r.Asset, r.Network)
	if err != nil {
		return Decided{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"network", "unknown", err.Error()}}}
	}
	amount, err := money.ParseUnits(r.Amount, asset.Decimals)
	if err == nil && amount.Sign() <= 0 {
		err = fmt.Errorf("%w: must be more than 0", money.ErrAmount)
	}
	if err != nil {
		return Decided{}, &ValidationError{Code: CodeInvalidAmount, Fields: []FieldError{{"amount", "invalid", err.Error()}}}
	}
	if len(r.IdempotencyKey) > 200 {
		return Decided{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"Idempotency-Key", "too_long", "at most 200 characters"}}}
	}
	var out Decided
	var emailToken string
	err = s.Transact(ctx, func(tx Tx) error {
		if err := tx.LockWithdrawals(ctx, a.ID); err != nil {
			return err
		}
		if r.IdempotencyKey != "" {
			prev, err := tx.WithdrawalByIdempotencyKey(ctx, a.ID, r.IdempotencyKey)
			switch {
			case err == nil && prev.RequestHash != r.hash():
				return ErrIdempotencyKey
			case err == nil:
				out = Decided{Withdrawal: prev, Repeat: true}
				return nil
			case !isNotFound(err):
				return err
			}
		}
		acct, err := tx.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := s.checkAccount(ctx, tx, acct, r.Session, now); err != nil {
			return err
		}
		if s.Policy.RequireSecondFactor && !acct.MFAEnabled {
			// It could never be confirmed.
			return &Refusal{Code: CodeMFARequired, Detail: "turn on two-factor authentication to withdraw"}
		}
		t := s.tier(acct.VerificationTier)
		if t.PerTransaction <= 0 || t.Rolling24h <= 0 {
			return &Refusal{Code: CodeVerificationRequired, Detail: "verify your identity to withdraw"}
		}
		price, err := s.price(ctx, tx, asset.Code, now)
		if err != nil {
			return err
		}
		rat, _ := ParsePrice(price.Price)
		value, err := Value(amount, asset.Decimals, rat, s.Currency.Decimals)
		if err != nil {
			return &ValidationError{Code: CodeInvalidAmount, Fields: []FieldError{{"amount", "too_large", err.Error()}}}
		}
		if value > t.PerTransaction {
			return &Refusal{Code: CodeLimitExceeded, Detail: fmt.Sprintf("worth %s, above your limit of %s a withdrawal",
				s.Currency.Format(value), s.Currency.Format(t.PerTransaction))}
		}
		used, err := tx.UsedSince(ctx, a.ID, now.Add(-24*time.Hour), now)
		if err != nil {
			return err
		}
		if used+value > t.Rolling24h {
			return &Refusal{Code: CodeLimitExceeded, Detail: fmt.Sprintf("worth %s; %s of your 24-hour limit of %s is left",
				s.Currency.Format(value), s.Currency.Format(max(0, t.Rolling24h-used)), s.Currency.Format(t.Rolling24h))}
		}
		to, memo, err := s.destination(ctx, tx, a.ID, r, network, now)
		if err != nil {
			return err
		}
		w := Withdrawal{ID: id.New("wdr"), AccountID: a.ID, Asset: asset.Code, Network: network.Name, AddressID: r.AddressID,
			Address: to, Memo: memo, Amount: amount, ReferenceValue: value, Price: price.Price, Status: StatusAwaitingConfirmation,
			IdempotencyKey: r.IdempotencyKey, RequestHash: r.hash(), DeviceID: r.Session.DeviceID, IP: r.Meta.IP,
			CreatedAt: now, ExpiresAt: now.Add(s.Policy.ConfirmationTTL), UpdatedAt: now}
		if s.Policy.RequireSecondFactor {
			w.Required = append(w.Required, RequireSecondFactor)
		}
		if s.Review != nil {
			hold, reasons, err := s.Review(ctx, tx, w)
			if err != nil {
				// Monitoring could not decide: a person does, never a default yes.
				hold, reasons = true, []string{"monitoring_unavailable"}
			}
			w.Held, w.Reasons = hold, reasons
		}
		if s.Policy.RequireEmail {
			w.Required = append(w.Required, RequireEmail)
			emailToken, w.EmailTokenHash = newToken()
		}
		if err := tx.InsertWithdrawal(ctx, w); err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, acct, "withdrawal.requested", r.Meta, now, map[string]any{
			"withdrawal_id": w.ID, "asset": w.Asset, "network": w.Network, "amount": money.Plain(money.FormatUnits(w.Amount, asset.Decimals)),
			"address": w.Address, "reference_value": s.Currency.Format(w.ReferenceValue),
			"value_minor": w.ReferenceValue, "held": w.Held, "reasons": w.Reasons,
		}); err != nil {
			return err
		}
		if emailToken != "" {
			if err := s.Accounts.Notify(ctx, tx, acct, "account_notice", map[string]any{
				"subject": "Confirm your withdrawal",
				"lines": []string{
					fmt.Sprintf("Withdrawal of %s %s on %s to %s%s (about %s).", money.Plain(money.FormatUnits(w.Amount, asset.Decimals)), w.Asset, w.Network, w.Address, memoText(w.Memo), s.Currency.Format(w.ReferenceValue)),
					fmt.Sprintf("Requested at %s from %s (%s).", now.Format("2006-01-02 15:04 UTC"), orUnknown(r.Meta.IP), session.DescribeAgent(r.Meta.UserAgent)),
					fmt.Sprintf("Confirm it with the link below within %d minutes. If you did not ask for it, do not confirm: freeze your account with the link below.", int(s.Policy.ConfirmationTTL.Minutes())),
				},
				"action_url":   s.Accounts.BaseURL + "/withdrawals/confirm?" + url.Values{"token": {emailToken}}.Encode(),
				"action_label": "Confirm this withdrawal",
			}, true, now); err != nil {
				return err
			}
		}
		if len(w.Pending()) == 0 {
			if w, err = s.confirmed(ctx, tx, acct, w, r.Meta, now); err != nil {
				return err
			}
		}
		out = Decided{Withdrawal: w}
		return nil
	})
	if err != nil {
		return Decided{}, err
	}
	s.Accounts.AfterCommit(nil)
	return out, nil
}

// checkAccount refuses withdrawals from a frozen or restricted account,
// while another waits for staff, or during a cooldown after a security
// change (or a new device's first login).
func (s *Service) checkAccount(ctx context.Context, tx Tx, a account.Account, sess session.Session, now time.Time) error {
	if a.Frozen() {
		return &Refusal{Code: CodeLocked, Reason: "frozen", Detail: "the account is frozen"}
	}
	rs, err := tx.RestrictionsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Kind == account.RestrictionWithdrawals && r.ActiveAt(now) {
			// The reason is staff's (or a rule's) and stays with them: the
			// user is told that withdrawals are paused and what lifts it.
			ref := &Refusal{Code: CodeLocked, Reason: "restricted", Until: r.ExpiresAt,
				Detail: "withdrawals are paused while we check recent activity; our team will contact you"}
			if r.LiftOn == "verification" {
				ref.Detail = "withdrawals are paused while we check recent activity; completing identity verification lifts it"
			}
			return ref
		}
	}
	// One withdrawal held for staff holds the next ones: a rule that found
	// one suspicious should not be worked around by asking again, or in
	// smaller amounts, while staff look.
	if s.Policy.OneInReview {
		if held, err := tx.HasWithdrawalInReview(ctx, a.ID); err != nil || held {
			if err != nil {
				return err
			}
			return &Refusal{Code: CodeLocked, Reason: "review",
				Detail: "a withdrawal of yours is being reviewed by our team; new withdrawals wait until it is decided"}
		}
	}
	var until time.Time
	var why string
	consider := func(at time.Time, d time.Duration, what string) {
		if !at.IsZero() && at.Add(d).After(now) && at.Add(d).After(until) {
			until, why = at.Add(d), what
		}
	}
	consider(a.PasswordChangedAt, s.Policy.CooldownPassword, "your password was changed")
	consider(a.MFAChangedAt, s.Policy.CooldownMFA, "two-factor authentication was turned off or reset")
	consider(a.UnfrozenAt, s.Policy.CooldownUnfreeze, "the account was unfrozen")
	if sess.DeviceID != "" {
		d, err := tx.DeviceByID(ctx, a.ID, sess.DeviceID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err == nil {
			consider(d.FirstSeenAt, s.Policy.CooldownNewDevice, "this device logged in for the first time")
		}
	}
	if !until.IsZero() {
		return &Refusal{Code: CodeLocked, Reason: "cooldown", Until: until,
			Detail: fmt.Sprintf("withdrawals are paused until %s because %s", until.Format("2006-01-02 15:04 UTC"), why)}
	}
	return nil
}

// price is the asset's price if fresh enough.
func (s *Service) price(ctx context.Context, tx Tx, asset string, now time.Time) (Price, error) {
	p, err := tx.PriceOf(ctx, asset)
	if isNotFound(err) || (err == nil && now.Sub(p.AsOf) > s.Policy.PriceMaxAge) {
		return Price{}, &Refusal{Code: CodePriceUnavailable, Detail: "no recent price for " + asset + "; try again shortly"}
	}
	return p, err
}

// destination checks where the funds go: a book address that is usable, or
// with the allow-list off an address typed in and valid for the network.
func (s *Service) destination(ctx context.Context, tx Tx, accountID string, r Request, network address.Network, now time.Time) (string, string, error) {
	settings, err := tx.SettingsOf(ctx, accountID)
	if err != nil {
		return "", "", err
	}
	if r.AddressID == "" {
		if settings.AllowListAt(now) {
			return "", "", &Refusal{Code: CodeAddressNotAllowed, Detail: "your allow-list is on: choose a confirmed address from your address book"}
		}
		norm, err := address.Validate(network, r.Address, r.Memo)
		if err != nil {
			return "", "", &ValidationError{Code: CodeInvalidAddress, Fields: []FieldError{{"address", "invalid", err.Error()}}}
		}
		return norm.Address, norm.Memo, nil
	}
	a, err := tx.AddressByID(ctx, accountID, r.AddressID)
	if isNotFound(err) || (err == nil && !a.DeletedAt.IsZero()) {
		return "", "", &Refusal{Code: CodeAddressNotAllowed, Detail: "no such address in your address book"}
	}
	if err != nil {
		return "", "", err
	}
	if a.Asset != r.Asset || a.Network != r.Network {
		return "", "", &Refusal{Code: CodeAddressNotAllowed, Detail: fmt.Sprintf("that address is for %s on %s", a.Asset, a.Network)}
	}
	switch a.StatusAt(now) {
	case AddressPendingConfirmation:
		return "", "", &Refusal{Code: CodeAddressNotAllowed, Detail: "confirm the address from the email first"}
	case AddressOnHold:
		return "", "", &Refusal{Code: CodeAddressOnHold, Until: a.AvailableAt,
			Detail: "the address can be used from " + a.AvailableAt.Format("2006-01-02 15:04 UTC")}
	}
	return a.Address, a.Memo, nil
}

// confirmed runs when the last confirmation arrived: held by monitoring, it
// waits for staff; otherwise it is approved and the payout system told.
func (s *Service) confirmed(ctx context.Context, tx Tx, a account.Account, w Withdrawal, m account.Meta, now time.Time) (Withdrawal, error) {
	hold, reasons := w.Held, w.Reasons
	w, err := tx.UpdateWithdrawal(ctx, w.ID, func(old Withdrawal) (Withdrawal, error) {
		old.UpdatedAt = now
		if hold {
			old.Status = StatusPendingReview
		} else {
			old.Status, old.ApprovedAt = StatusApproved, now
		}
		return old, nil
	})
	if err != nil {
		return w, err
	}
	if hold {
		return w, s.Accounts.Record(ctx, tx, a, "withdrawal.held", account.Meta{Actor: "system"}, now, map[string]any{"withdrawal_id": w.ID, "reasons": reasons})
	}
	return w, s.approved(ctx, tx, a, w, account.Meta{Actor: "system"}, now)
}

// approved records an approval, tells the payout system (the webhook is in
// the same transaction) and the user.
func (s *Service) approved(ctx context.Context, tx Tx, a account.Account, w Withdrawal, m account.Meta, now time.Time) error {
	asset, _, _ := s.Assets.Find(w.Asset, w.Network)
	amount := money.FormatUnits(w.Amount, asset.Decimals)
	if err := s.Accounts.Record(ctx, tx, a, "withdrawal.approved", m, now, map[string]any{"withdrawal_id": w.ID}); err != nil {
		return err
	}
	if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "withdrawal.approved", map[string]any{
		"withdrawal_id": w.ID, "user_id": w.AccountID, "asset": w.Asset, "network": w.Network, "amount": amount,
		"address": w.Address, "memo": w.Memo, "reference_value": money.Format(w.ReferenceValue, s.Currency.Decimals),
		"currency": s.Currency.Code, "approved_at": now,
	}); err != nil {
		return err
	}
	return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
		"subject": "Your withdrawal was approved",
		"lines": []string{fmt.Sprintf("Your withdrawal of %s %s on %s to %s%s was approved and is being sent.", money.Plain(amount), w.Asset, w.Network, w.Address, memoText(w.Memo)),
			"If you did not ask for it, freeze your account now with the link below."},
	}, true, now)
}

// ConfirmCode gives a withdrawal its second factor (a code from the app or
// a recovery code), in the user's session.
func (s *Service) ConfirmCode(ctx context.Context, a account.Account, sess session.Session, withdrawalID, code string, m account.Meta) (Withdrawal, error) {
	now := s.now()
	w, err := s.own(ctx, a.ID, withdrawalID)
	if err != nil {
		return Withdrawal{}, err
	}
	if w.StatusAt(now) != StatusAwaitingConfirmation || !contains(w.Pending(), RequireSecondFactor) {
		return Withdrawal{}, ErrNotPending
	}
	if err := s.MFA.StepUp(ctx, a, sess.ID, codeProof(code), m); err != nil {
		if errors.Is(err, mfa.ErrInvalidCode) {
			// Enough wrong codes cancel the request: its email link alone
			// must not keep it alive for guessing.
			s.countFailure(ctx, a, w.ID, m, now)
		}
		return Withdrawal{}, err
	}
	return s.satisfy(ctx, a, func(tx Tx) (Withdrawal, error) { return tx.WithdrawalByID(ctx, w.ID) }, RequireSecondFactor, m, now)
}

func (s *Service) countFailure(ctx context.Context, a account.Account, withdrawalID string, m account.Meta, now time.Time) {
	_ = s.Transact(ctx, func(tx Tx) error {
		w, err := tx.UpdateWithdrawal(ctx, withdrawalID, func(old Withdrawal) (Withdrawal, error) {
			old.MFAFailures++
			if old.MFAFailures >= s.Policy.MaxMFAFailures && old.Status == StatusAwaitingConfirmation {
				old.Status, old.UpdatedAt = StatusCancelled, now
			}
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "withdrawal.confirmation_failed", m, now, map[string]any{"withdrawal_id": w.ID}); err != nil {
			return err
		}
		if w.Status != StatusCancelled {
			return nil
		}
		return s.Accounts.Record(ctx, tx, a, "withdrawal.cancelled", m, now, map[string]any{"withdrawal_id": w.ID, "why": "too many wrong codes"})
	})
}

// ConfirmEmail follows a withdrawal's email link: the token alone names the
// withdrawal (a page that has a session checks the owner first, with
// PeekEmailToken).
func (s *Service) ConfirmEmail(ctx context.Context, token string, m account.Meta) (Withdrawal, error) {
	now := s.now()
	if token == "" {
		return Withdrawal{}, ErrInvalidToken
	}
	var a account.Account
	var w Withdrawal
	err := s.View(ctx, func(tx Tx) error {
		var err error
		if w, err = tx.WithdrawalByEmailToken(ctx, tokenHash(token)); err != nil {
			return err
		}
		a, err = tx.AccountByID(ctx, w.AccountID)
		return err
	})
	if isNotFound(err) {
		return Withdrawal{}, ErrInvalidToken
	}
	if err != nil {
		return Withdrawal{}, err
	}
	if w.StatusAt(now) != StatusAwaitingConfirmation || !contains(w.Pending(), RequireEmail) {
		return Withdrawal{}, ErrInvalidToken
	}
	return s.satisfy(ctx, a, func(tx Tx) (Withdrawal, error) { return tx.WithdrawalByEmailToken(ctx, tokenHash(token)) }, RequireEmail, m, now)
}

// satisfy records one confirmation and, when it was the last, moves on.
func (s *Service) satisfy(ctx context.Context, a account.Account, find func(Tx) (Withdrawal, error), what string, m account.Meta, now time.Time) (Withdrawal, error) {
	var w Withdrawal
	err := s.Transact(ctx, func(tx Tx) error {
		found, err := find(tx)
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if err := tx.LockWithdrawals(ctx, found.AccountID); err != nil {
			return err
		}
		w, err = tx.UpdateWithdrawal(ctx, found.ID, func(old Withdrawal) (Withdrawal, error) {
			if old.StatusAt(now) != StatusAwaitingConfirmation || !contains(old.Pending(), what) {
				return old, ErrNotPending
			}
			old.Satisfied, old.UpdatedAt = append(old.Satisfied, what), now
			if what == RequireEmail {
				old.EmailTokenHash = ""
			}
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "withdrawal.confirmed", m, now, map[string]any{"withdrawal_id": w.ID, "by": what}); err != nil {
			return err
		}
		if len(w.Pending()) > 0 {
			return nil
		}
		acct, err := tx.AccountByID(ctx, a.ID)
		if err != nil {
			return err
		}
		// Frozen in the meantime: the request stops here.
		if acct.Frozen() {
			w, err = tx.UpdateWithdrawal(ctx, w.ID, func(old Withdrawal) (Withdrawal, error) {
				old.Status, old.UpdatedAt = StatusCancelled, now
				return old, nil
			})
			return err
		}
		w, err = s.confirmed(ctx, tx, acct, w, m, now)
		return err
	})
	if err != nil {
		return Withdrawal{}, err
	}
	s.Accounts.AfterCommit(nil)
	return w, nil
}

// own reads one of the account's withdrawals.
func (s *Service) own(ctx context.Context, accountID, id string) (Withdrawal, error) {
	var w Withdrawal
	err := s.View(ctx, func(tx Tx) error {
		var err error
		w, err = tx.WithdrawalByID(ctx, id)
		return err
	})
	if isNotFound(err) || (err == nil && w.AccountID != accountID) {
		return Withdrawal{}, ErrNotFound
	}
	return w, err
}

// Get reads one of the account's withdrawals.
func (s *Service) Get(ctx context.Context, accountID, id string) (Withdrawal, error) {
	w, err := s.own(ctx, accountID, id)
	w.Status = w.StatusAt(s.now())
	return w, err
}

// List lists withdrawals by account (all when empty) and status, newest first.
func (s *Service) List(ctx context.Context, accountID, status string, limit int) ([]Withdrawal, error) {
	var out []Withdrawal
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Withdrawals(ctx, accountID, status, limit)
		return err
	})
	now := s.now()
	for i := range out {
		out[i].Status = out[i].StatusAt(now)
	}
	return out, err
}

// Cancel ends a request that is not approved yet; its limit is given back.
func (s *Service) Cancel(ctx context.Context, a account.Account, id string, m account.Meta) (Withdrawal, error) {
	now := s.now()
	var w Withdrawal
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		w, err = tx.UpdateWithdrawal(ctx, id, func(old Withdrawal) (Withdrawal, error) {
			if old.AccountID != a.ID {
				return old, ErrNotFound
			}
			if s := old.StatusAt(now); s != StatusAwaitingConfirmation && s != StatusPendingReview {
				return old, ErrNotPending
			}
			old.Status, old.UpdatedAt, old.EmailTokenHash = StatusCancelled, now, ""
			return old, nil
		})
		if isNotFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "withdrawal.cancelled", m, now, map[string]any{"withdrawal_id": w.ID})
	})
	return w, err
}

// ExpireDue marks unconfirmed requests past their time as expired (their
// limit was already free: UsedSince ignores them) and records it.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	now := s.now()
	var n int
	err := s.Transact(ctx, func(tx Tx) error {
		expired, err := tx.ExpireWithdrawals(ctx, now, 500)
		if err != nil {
			return err
		}
		n = len(expired)
		for _, w := range expired {
			a, err := tx.AccountByID(ctx, w.AccountID)
			if err != nil {
				return err
			}
			if err := s.Accounts.Record(ctx, tx, a, "withdrawal.expired", account.Meta{Actor: "system"}, now, map[string]any{"withdrawal_id": w.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Review decisions by staff.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// Decide approves or rejects a withdrawal held for review.
func (s *Service) Decide(ctx context.Context, id, decision, reason string, m account.Meta) (Withdrawal, error) {
	now := s.now()
	reason = strings.TrimSpace(reason)
	if decision == DecisionReject && reason == "" {
		return Withdrawal{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"reason", "required", "say why it is rejected"}}}
	}
	var w Withdrawal
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		w, err = tx.UpdateWithdrawal(ctx, id, func(old Withdrawal) (Withdrawal, error) {
			if old.Status != StatusPendingReview {
				return old, ErrNotPending
			}
			old.ReviewReason, old.Reviewer, old.UpdatedAt = reason, m.Actor, now
			if decision == DecisionApprove {
				old.Status, old.ApprovedAt = StatusApproved, now
			} else {
				old.Status = StatusRejected
			}
			return old, nil
		})
		if isNotFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, w.AccountID)
		if err != nil {
			return err
		}
		if decision == DecisionApprove {
			return s.approved(ctx, tx, a, w, m, now)
		}
		if err := s.Accounts.Record(ctx, tx, a, "withdrawal.rejected", m, now, map[string]any{"withdrawal_id": w.ID, "reason": reason}); err != nil {
			return err
		}
		if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "withdrawal.rejected", map[string]any{
			"withdrawal_id": w.ID, "user_id": w.AccountID, "reason": reason, "rejected_at": now,
		}); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "Your withdrawal was not approved",
			"lines":   []string{"Our team reviewed your withdrawal and did not approve it: " + reason, "The amount stays in your account."},
		}, false, now)
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return w, err
}

// Complete records the payout system's transaction id for an approved withdrawal.
func (s *Service) Complete(ctx context.Context, id, txid string, m account.Meta) (Withdrawal, error) {
	now := s.now()
	txid = strings.TrimSpace(txid)
	if txid == "" || len(txid) > 200 {
		return Withdrawal{}, &ValidationError{Code: "validation_failed", Fields: []FieldError{{"txid", "required", "the transaction id, 1 to 200 characters"}}}
	}
	var w Withdrawal
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		w, err = tx.UpdateWithdrawal(ctx, id, func(old Withdrawal) (Withdrawal, error) {
			if old.Status == StatusCompleted && old.TxID == txid {
				return old, nil // the payout system retried
			}
			if old.Status != StatusApproved {
				return old, ErrNotPending
			}
			old.Status, old.TxID, old.CompletedAt, old.UpdatedAt = StatusCompleted, txid, now, now
			return old, nil
		})
		if isNotFound(err) {
			return ErrNotFound
		}
		if err != nil || !w.CompletedAt.Equal(now) {
			return err
		}
		a, err := tx.AccountByID(ctx, w.AccountID)
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "withdrawal.completed", m, now, map[string]any{"withdrawal_id": w.ID, "txid": txid}); err != nil {
			return err
		}
		asset, _, _ := s.Assets.Find(w.Asset, w.Network)
		return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
			"subject": "Your withdrawal was sent",
			"lines": []string{fmt.Sprintf("%s %s on %s to %s%s was sent. Transaction: %s", money.Plain(money.FormatUnits(w.Amount, asset.Decimals)), w.Asset, w.Network, w.Address, memoText(w.Memo), txid),
				"If you did not ask for it, freeze your account now with the link below."},
		}, true, now)
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return w, err
}

// PriceInput is one price as the platform sends it.
type PriceInput struct {
	Asset string
	Price string
	AsOf  time.Time
}

// SetPrices stores the platform's reference prices; a price older than the
// one stored is ignored (feeds may arrive out of order). The feed is an
// audit record of m's actor: a wrong price moves what the limits allow.
func (s *Service) SetPrices(ctx context.Context, in []PriceInput, m account.Meta) error {
	now := s.now()
	var fields []FieldError
	for i, p := range in {
		if _, _, err := s.Assets.Find(p.Asset, ""); err != nil && !strings.Contains(err.Error(), "paid out on") {
			fields = append(fields, FieldError{fmt.Sprintf("prices[%d].asset", i), "unknown", err.Error()})
		}
		if _, err := ParsePrice(p.Price); err != nil {
			fields = append(fields, FieldError{fmt.Sprintf("prices[%d].reference_price", i), "invalid", err.Error()})
		}
		if p.AsOf.IsZero() || p.AsOf.After(now.Add(time.Minute)) {
			fields = append(fields, FieldError{fmt.Sprintf("prices[%d].as_of", i), "invalid", "a time not in the future"})
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Code: "validation_failed", Fields: fields}
	}
	return s.Transact(ctx, func(tx Tx) error {
		fed := map[string]string{}
		for _, p := range in {
			old, err := tx.PriceOf(ctx, p.Asset)
			if err != nil && !isNotFound(err) {
				return err
			}
			if err == nil && old.AsOf.After(p.AsOf) {
				continue
			}
			if err := tx.PutPrice(ctx, Price{Asset: p.Asset, Price: p.Price, AsOf: p.AsOf.UTC().Truncate(time.Microsecond), UpdatedAt: now}); err != nil {
				return err
			}
			fed[p.Asset] = p.Price
		}
		if len(fed) == 0 {
			return nil
		}
		actor := m.Actor
		if actor == "" {
			actor = "system"
		}
		_, err := audit.Append(ctx, tx, now, audit.Entry{Actor: actor, Action: "prices.updated", IP: m.IP, RequestID: m.RequestID,
			Data: map[string]any{"prices": fed}})
		return err
	})
}
