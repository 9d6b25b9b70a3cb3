// Package withdrawal guards the action that cannot be undone: sending funds
// out. It keeps the address book and its allow-list, decides withdrawal
// requests (frozen or restricted accounts, security cooldowns, verification
// tier, limits, address holds), asks for their confirmations (a second
// factor and an email link), and tells the platform's payout system what
// was approved through the outbox. It never moves funds.
//
// Rules live here, free of HTTP and SQL; the store implements Tx.
package withdrawal

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/verification"
)

// Address statuses.
const (
	AddressPendingConfirmation = "pending_confirmation"
	AddressOnHold              = "on_hold"
	AddressActive              = "active"
)

// Address is an entry of the address book.
type Address struct {
	ID               string
	AccountID        string
	Asset            string
	Network          string
	Address          string
	Memo             string
	Label            string
	Status           string // as stored: pending_confirmation or on_hold
	ConfirmTokenHash string
	CreatedAt        time.Time
	ConfirmBy        time.Time
	ConfirmedAt      time.Time
	AvailableAt      time.Time
	DeletedAt        time.Time
}

// StatusAt is the address's status at now: an address on hold becomes
// active by itself when its hold ends.
func (a Address) StatusAt(now time.Time) string {
	if a.Status == AddressOnHold && !now.Before(a.AvailableAt) {
		return AddressActive
	}
	return a.Status
}

// Settings are a user's withdrawal settings.
type Settings struct {
	AccountID string
	AllowList bool
	// A switch-off of the allow-list waits for the email link, then for
	// the hold: the list stays on until OffEffectiveAt.
	OffTokenHash   string
	OffRequestedAt time.Time
	OffConfirmedAt time.Time
	OffEffectiveAt time.Time
	UpdatedAt      time.Time
}

// AllowListAt tells whether the allow-list is on at now.
func (s Settings) AllowListAt(now time.Time) bool {
	if !s.AllowList {
		return false
	}
	return s.OffEffectiveAt.IsZero() || now.Before(s.OffEffectiveAt)
}

// Withdrawal statuses.
const (
	StatusAwaitingConfirmation = "awaiting_confirmation"
	StatusPendingReview        = "pending_review"
	StatusApproved             = "approved"
	StatusCompleted            = "completed"
	StatusRejected             = "rejected"
	StatusCancelled            = "cancelled"
	StatusExpired              = "expired"
)

// Confirmations a withdrawal may need.
const (
	RequireSecondFactor = "second_factor"
	RequireEmail        = "email"
)

// Withdrawal is a request to send funds out.
type Withdrawal struct {
	ID        string
	AccountID string
	Asset     string
	Network   string
	AddressID string
	Address   string
	Memo      string
	// Amount is in the asset's smallest unit (a big integer: 18-decimal
	// assets pass 64 bits at 9.2 units); ReferenceValue in the reference
	// currency's, valued by Warden at Price.
	Amount         *big.Int
	ReferenceValue int64
	Price          string
	Status         string
	Required       []string
	Satisfied      []string
	EmailTokenHash string
	MFAFailures    int
	// Held is set when monitoring, asked when the request was made, wants
	// staff to review it once confirmed; Reasons say why (rule ids).
	// ReviewReason is staff's note.
	Held           bool
	Reasons        []string
	ReviewReason   string
	Reviewer       string
	TxID           string
	IdempotencyKey string
	RequestHash    string
	DeviceID       string
	IP             string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UpdatedAt      time.Time
	ApprovedAt     time.Time
	CompletedAt    time.Time
}

// StatusAt is the status at now: an unconfirmed request past its time has expired.
func (w Withdrawal) StatusAt(now time.Time) string {
	if w.Status == StatusAwaitingConfirmation && !now.Before(w.ExpiresAt) {
		return StatusExpired
	}
	return w.Status
}

// Pending lists the confirmations still missing.
func (w Withdrawal) Pending() []string {
	var out []string
	for _, r := range w.Required {
		if !contains(w.Satisfied, r) {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Restriction limits what an account may do.
type Restriction struct {
	ID        string
	AccountID string
	Kind      string // withdrawals, login, trading
	Reason    string
	Source    string
	// LiftOn names what lifts it by itself: "verification" (an approved
	// verification), or empty (staff, or the expiry).
	LiftOn    string
	CreatedAt time.Time
	ExpiresAt time.Time
	LiftedAt  time.Time
	LiftedBy  string
}

// ActiveAt tells whether the restriction holds at now.
func (r Restriction) ActiveAt(now time.Time) bool {
	return r.LiftedAt.IsZero() && (r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt))
}

// Price is a reference price as the platform fed it.
type Price struct {
	Asset     string
	Price     string
	AsOf      time.Time
	UpdatedAt time.Time
}

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	account.Tx
	// LockWithdrawals serialises one account's withdrawal decisions across
	// nodes: the limit check and the reservation are one step.
	LockWithdrawals(ctx context.Context, accountID string) error
	InsertAddress(ctx context.Context, a Address) error
	UpdateAddress(ctx context.Context, accountID, id string, fn func(old Address) (Address, error)) (Address, error)
	AddressByID(ctx context.Context, accountID, id string) (Address, error)
	// AddressesOf lists the account's addresses not deleted, oldest first.
	AddressesOf(ctx context.Context, accountID string) ([]Address, error)
	SettingsOf(ctx context.Context, accountID string) (Settings, error)
	PutSettings(ctx context.Context, s Settings) error
	SettingsByOffToken(ctx context.Context, tokenHash string) (Settings, error)
	InsertWithdrawal(ctx context.Context, w Withdrawal) error
	UpdateWithdrawal(ctx context.Context, id string, fn func(old Withdrawal) (Withdrawal, error)) (Withdrawal, error)
	WithdrawalByID(ctx context.Context, id string) (Withdrawal, error)
	WithdrawalByIdempotencyKey(ctx context.Context, accountID, key string) (Withdrawal, error)
	WithdrawalByEmailToken(ctx context.Context, tokenHash string) (Withdrawal, error)
	// Withdrawals lists by account (all when empty) and status (all when
	// empty), newest first.
	Withdrawals(ctx context.Context, accountID, status string, limit int) ([]Withdrawal, error)
	// UsedSince sums the reference value of the account's withdrawals
	// created since, that hold their limit at now: awaiting confirmation
	// and not expired, pending review, approved or completed.
	UsedSince(ctx context.Context, accountID string, since, now time.Time) (int64, error)
	// ExpireWithdrawals marks unconfirmed requests past their time expired
	// and returns them.
	ExpireWithdrawals(ctx context.Context, now time.Time, limit int) ([]Withdrawal, error)
	PriceOf(ctx context.Context, asset string) (Price, error)
	PutPrice(ctx context.Context, p Price) error
	InsertRestriction(ctx context.Context, r Restriction) error
	UpdateRestriction(ctx context.Context, accountID, id string, fn func(old Restriction) (Restriction, error)) (Restriction, error)
	// RestrictionsOf lists the account's restrictions not lifted.
	RestrictionsOf(ctx context.Context, accountID string) ([]Restriction, error)
	// HasWithdrawalInReview tells whether one of the account's withdrawals
	// waits for staff (pending_review).
	HasWithdrawalInReview(ctx context.Context, accountID string) (bool, error)
	// RestrictionsExpired lists restrictions not lifted whose expiry passed.
	RestrictionsExpired(ctx context.Context, now time.Time, limit int) ([]Restriction, error)
	// RefreshSessions makes every node drop the account's sessions from
	// its cache (they carry its restrictions) and returns their hashes.
	RefreshSessions(ctx context.Context, accountID string) ([]string, error)
	DeviceByID(ctx context.Context, accountID, id string) (session.Device, error)
}

// Review is monitoring's say on a withdrawal request, asked in the request's
// transaction before the answer: hold it for staff (once confirmed) with
// reasons, or let it through. An error holds it.
type Review func(ctx context.Context, tx Tx, w Withdrawal) (hold bool, reasons []string, err error)

// Policy holds the withdrawal rules that are configuration.
type Policy struct {
	// AddressHold is how long a confirmed address waits before use (24h);
	// turning the allow-list off waits as long.
	AddressHold time.Duration
	// ConfirmationTTL is how long an email link for an address or a
	// withdrawal works, and how long a request waits for its confirmations (30m).
	ConfirmationTTL time.Duration
	// Cooldowns after security changes (24h each).
	CooldownPassword  time.Duration
	CooldownMFA       time.Duration
	CooldownNewDevice time.Duration
	CooldownUnfreeze  time.Duration
	// RequireSecondFactor and RequireEmail are the confirmations asked.
	RequireSecondFactor bool
	RequireEmail        bool
	// OneInReview: while one of the account's withdrawals waits for staff,
	// new ones are refused (withdrawals_locked, reason review).
	OneInReview bool
	// PriceMaxAge is the oldest price used; older counts as missing.
	PriceMaxAge time.Duration
	// MaxMFAFailures wrong codes cancel a request (5).
	MaxMFAFailures int
}

// Service carries out withdrawal actions.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	Accounts *account.Service
	MFA      *mfa.Service
	Assets   Catalog
	// Tiers give the limits; Currency is the reference currency.
	Tiers    []verification.Tier
	Currency money.Currency
	Policy   Policy
	// Review, if set, is asked about every confirmed withdrawal.
	Review Review
	Now    func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// Refusal is a withdrawal (or address) refused, with the API's code.
type Refusal struct {
	Code   string
	Reason string // cooldown, frozen, restricted, review … for withdrawals_locked
	Detail string
	Until  time.Time
}

func (r *Refusal) Error() string {
	if r.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", r.Code, r.Reason, r.Detail)
	}
	return r.Code + ": " + r.Detail
}

// Codes of refusals (API.md).
const (
	CodeLocked               = "withdrawals_locked"
	CodeVerificationRequired = "verification_required"
	CodeLimitExceeded        = "limit_exceeded"
	CodeAddressOnHold        = "address_on_hold"
	CodeAddressNotAllowed    = "address_not_allowed"
	CodeMFARequired          = "mfa_required"
	CodePriceUnavailable     = "price_unavailable"
	CodeInvalidAddress       = "invalid_address"
	CodeInvalidAmount        = "invalid_amount"
)

// Errors that are not refusals of policy.
var (
	ErrNotFound       = errors.New("not found")
	ErrInvalidToken   = errors.New("invalid or expired token")
	ErrNotPending     = errors.New("withdrawal is not waiting for this")
	ErrIdempotencyKey = errors.New("idempotency key reused with a different request")
)
