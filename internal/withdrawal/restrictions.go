package withdrawal

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/notify"
)

// Restriction kinds.
var RestrictionKinds = []string{account.RestrictionWithdrawals, account.RestrictionLogin, "trading"}

// restrictionWords names what each kind pauses, for the user.
var restrictionWords = map[string]string{account.RestrictionWithdrawals: "withdrawals", account.RestrictionLogin: "logins", "trading": "trading"}

// NewRestriction is a restriction as staff, an admin key or a rule sets it.
type NewRestriction struct {
	Kind   string
	Reason string
	// ExpiresAt, if set, ends it by itself.
	ExpiresAt time.Time
	// LiftOn "verification": an approved verification lifts it.
	LiftOn string
}

// Restrict puts a restriction on an account; the user is told why and what
// lifts it, the platform gets account.restricted.
func (s *Service) Restrict(ctx context.Context, accountID string, n NewRestriction, m account.Meta) (Restriction, error) {
	now := s.now()
	var fields []FieldError
	if !contains(RestrictionKinds, n.Kind) {
		fields = append(fields, FieldError{"kind", "invalid", "one of " + strings.Join(RestrictionKinds, ", ")})
	}
	if n.Reason = strings.TrimSpace(n.Reason); n.Reason == "" || len(n.Reason) > 500 {
		fields = append(fields, FieldError{"reason", "required", "say why, in up to 500 characters"})
	}
	if !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(now) {
		fields = append(fields, FieldError{"expires_at", "invalid", "a time in the future"})
	}
	switch {
	case n.LiftOn != "" && n.LiftOn != "verification":
		fields = append(fields, FieldError{"lift_on", "invalid", `empty or "verification"`})
	case n.LiftOn == "verification" && n.Kind == account.RestrictionLogin:
		// Verifying takes a login: the owner could never lift it.
		fields = append(fields, FieldError{"lift_on", "invalid", "a login restriction cannot wait for a verification, which needs a login"})
	}
	if len(fields) > 0 {
		return Restriction{}, &ValidationError{Code: "validation_failed", Fields: fields}
	}
	var r Restriction
	var stale []string
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		r, stale, err = s.RestrictIn(ctx, tx, accountID, n, m, now)
		return err
	})
	if err == nil {
		s.Accounts.AfterCommit(stale)
	}
	return r, err
}

// RestrictIn is Restrict in the caller's transaction (a monitoring rule's
// action); it returns the sessions whose caches it outdated.
func (s *Service) RestrictIn(ctx context.Context, tx Tx, accountID string, n NewRestriction, m account.Meta, now time.Time) (Restriction, []string, error) {
	r := Restriction{ID: id.New("rst"), AccountID: accountID, Kind: n.Kind, Reason: strings.TrimSpace(n.Reason), Source: m.Actor,
		LiftOn: n.LiftOn, CreatedAt: now, ExpiresAt: n.ExpiresAt.UTC().Truncate(time.Microsecond)}
	a, err := tx.AccountByID(ctx, accountID)
	if isNotFound(err) || (err == nil && a.Realm != account.RealmUser) {
		return r, nil, ErrNotFound
	}
	if err != nil {
		return r, nil, err
	}
	if err := tx.InsertRestriction(ctx, r); err != nil {
		return r, nil, err
	}
	stale, err := syncRestrictions(ctx, tx, a.ID, now)
	if err != nil {
		return r, nil, err
	}
	if r.Kind == account.RestrictionLogin {
		// Logins are refused from now on; the sessions already open end too.
		revoked, err := tx.RevokeSessions(ctx, a.ID, "", "", "restricted", now)
		if err != nil {
			return r, nil, err
		}
		stale = append(stale, revoked...)
	}
	if err := s.Accounts.Record(ctx, tx, a, "account.restricted", m, now, map[string]any{
		"restriction_id": r.ID, "kind": r.Kind, "reason": r.Reason, "lift_on": r.LiftOn, "expires_at": r.ExpiresAt,
	}); err != nil {
		return r, nil, err
	}
	if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "account.restricted", map[string]any{
		"user_id": a.ID, "restriction_id": r.ID, "kind": r.Kind, "reason": r.Reason, "restricted_at": now,
	}); err != nil {
		return r, nil, err
	}
	lift := "Our team will contact you, or you can contact support."
	if r.LiftOn == "verification" {
		lift = "Completing identity verification lifts it: " + s.Accounts.BaseURL + "/verification"
	}
	return r, stale, s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
		"subject": "Some actions on your account are paused",
		"lines":   []string{"We paused " + restrictionWords[r.Kind] + " on your account while we check recent activity.", lift},
	}, true, now)
}

// syncRestrictions writes the kinds in force onto the account row (which
// introspection reads) and returns the sessions whose caches it outdates.
func syncRestrictions(ctx context.Context, tx Tx, accountID string, now time.Time) ([]string, error) {
	rs, err := tx.RestrictionsOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var kinds []string
	for _, r := range rs {
		if r.ActiveAt(now) && !contains(kinds, r.Kind) {
			kinds = append(kinds, r.Kind)
		}
	}
	slices.Sort(kinds)
	if _, err := tx.UpdateAccount(ctx, accountID, func(old account.Account) (account.Account, error) {
		old.Restrictions = kinds
		return old, nil
	}); err != nil {
		return nil, err
	}
	return tx.RefreshSessions(ctx, accountID)
}

// ExpireRestrictions lifts restrictions whose expiry passed, so the account
// row (and introspection) no longer carries them.
func (s *Service) ExpireRestrictions(ctx context.Context) (int, error) {
	now := s.now()
	var stale []string
	var n int
	err := s.Transact(ctx, func(tx Tx) error {
		due, err := tx.RestrictionsExpired(ctx, now, 500)
		if err != nil {
			return err
		}
		n = len(due)
		for _, r := range due {
			if _, err := tx.UpdateRestriction(ctx, r.AccountID, r.ID, func(old Restriction) (Restriction, error) {
				old.LiftedAt, old.LiftedBy = now, "expiry"
				return old, nil
			}); err != nil {
				return err
			}
			hashes, err := syncRestrictions(ctx, tx, r.AccountID, now)
			if err != nil {
				return err
			}
			stale = append(stale, hashes...)
		}
		return nil
	})
	if err == nil && n > 0 {
		s.Accounts.AfterCommit(stale)
	}
	return n, err
}

// Lift ends a restriction.
func (s *Service) Lift(ctx context.Context, accountID, restrictionID string, m account.Meta) (Restriction, error) {
	now := s.now()
	var r Restriction
	var stale []string
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		r, err = tx.UpdateRestriction(ctx, accountID, restrictionID, func(old Restriction) (Restriction, error) {
			if !old.LiftedAt.IsZero() {
				return old, ErrNotFound
			}
			old.LiftedAt, old.LiftedBy = now, m.Actor
			return old, nil
		})
		if isNotFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if stale, err = syncRestrictions(ctx, tx, accountID, now); err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, accountID)
		if err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "account.restriction_lifted", m, now, map[string]any{"restriction_id": r.ID, "kind": r.Kind})
	})
	if err == nil {
		s.Accounts.AfterCommit(stale)
	}
	return r, err
}

// Restrictions lists the account's restrictions in force at now.
func (s *Service) Restrictions(ctx context.Context, accountID string) ([]Restriction, error) {
	now := s.now()
	var out []Restriction
	err := s.View(ctx, func(tx Tx) error {
		all, err := tx.RestrictionsOf(ctx, accountID)
		for _, r := range all {
			if r.ActiveAt(now) {
				out = append(out, r)
			}
		}
		return err
	})
	return out, err
}

// AwaitsVerification tells whether a restriction in force on the account
// waits for a verification to lift it.
func AwaitsVerification(ctx context.Context, tx Tx, accountID string, now time.Time) (bool, error) {
	rs, err := tx.RestrictionsOf(ctx, accountID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(rs, func(r Restriction) bool { return r.LiftOn == "verification" && r.ActiveAt(now) }), nil
}

// LiftOnVerification lifts the account's restrictions that a verification
// lifts; the verification service calls it in its approval's transaction.
func LiftOnVerification(ctx context.Context, tx Tx, accounts *account.Service, a account.Account, now time.Time) error {
	rs, err := tx.RestrictionsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.LiftOn != "verification" || !r.ActiveAt(now) {
			continue
		}
		if _, err := tx.UpdateRestriction(ctx, a.ID, r.ID, func(old Restriction) (Restriction, error) {
			old.LiftedAt, old.LiftedBy = now, "verification"
			return old, nil
		}); err != nil {
			return err
		}
		if err := accounts.Record(ctx, tx, a, "account.restriction_lifted", account.Meta{Actor: "system"}, now,
			map[string]any{"restriction_id": r.ID, "kind": r.Kind, "by": "verification"}); err != nil {
			return err
		}
	}
	// The approval refreshes the account's sessions itself.
	_, err = syncRestrictions(ctx, tx, a.ID, now)
	return err
}
