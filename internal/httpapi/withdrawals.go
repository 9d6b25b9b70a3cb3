package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Withdrawal protection, the user's side: the address book and its
// allow-list, withdrawal requests (Idempotency-Key honoured) and their
// confirmations by a second-factor code and an email link. The rules are
// package withdrawal's; these handlers read the request, call it and map its
// refusals to their problems (withdrawals_admin.go has the staff's and the
// payout system's side).

// IdempotencyKeyHeader names a money-moving request so that a retry returns
// the first result instead of deciding again.
const IdempotencyKeyHeader = "Idempotency-Key"

// priceRetryAfter is the Retry-After of a price_unavailable answer, in
// seconds: the platform feeds prices every few seconds to minutes.
const priceRetryAfter = 30

// --- views ---

// bookAddressView is an entry of the address book.
type bookAddressView struct {
	ID      string `json:"id"`
	Asset   string `json:"asset"`
	Network string `json:"network"`
	Address string `json:"address"`
	Memo    string `json:"memo"`
	Label   string `json:"label"`
	// Status is pending_confirmation, on_hold or active, at the time of the answer.
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmBy   *time.Time `json:"confirm_by,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	AvailableAt *time.Time `json:"available_at"`
}

func (a *API) viewBookAddress(ad withdrawal.Address) bookAddressView {
	v := bookAddressView{ID: ad.ID, Asset: ad.Asset, Network: ad.Network, Address: ad.Address, Memo: ad.Memo, Label: ad.Label,
		Status: ad.StatusAt(a.Now()), CreatedAt: ad.CreatedAt, ConfirmedAt: timePtr(ad.ConfirmedAt), AvailableAt: timePtr(ad.AvailableAt)}
	if ad.Status == withdrawal.AddressPendingConfirmation {
		v.ConfirmBy = timePtr(ad.ConfirmBy)
	}
	return v
}

// withdrawalView is a withdrawal as its owner sees it.
type withdrawalView struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Asset          string `json:"asset"`
	Network        string `json:"network"`
	Amount         string `json:"amount"`
	AddressID      string `json:"address_id,omitempty"`
	Address        string `json:"address"`
	Memo           string `json:"memo,omitempty"`
	ReferenceValue string `json:"reference_value"`
	Currency       string `json:"currency"`
	Price          string `json:"price"`
	// Required are the confirmations asked (second_factor, email); Pending
	// those still missing while the request awaits confirmation.
	Required []string `json:"required"`
	Pending  []string `json:"pending"`
	// Reasons are why monitoring held it for review.
	Reasons      []string   `json:"reasons"`
	ReviewReason string     `json:"review_reason,omitempty"`
	TxID         string     `json:"txid,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	ApprovedAt   *time.Time `json:"approved_at,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
}

func (a *API) viewWithdrawal(w withdrawal.Withdrawal) withdrawalView {
	asset, _, _ := a.Withdrawals.Assets.Find(w.Asset, w.Network)
	status := w.StatusAt(a.Now())
	v := withdrawalView{ID: w.ID, Status: status, Asset: w.Asset, Network: w.Network, Amount: money.FormatUnits(w.Amount, asset.Decimals),
		AddressID: w.AddressID, Address: w.Address, Memo: w.Memo,
		ReferenceValue: money.Format(w.ReferenceValue, a.Withdrawals.Currency.Decimals), Currency: a.Withdrawals.Currency.Code, Price: w.Price,
		Required: nonNil(w.Required), Pending: []string{}, Reasons: nonNil(w.Reasons), TxID: w.TxID,
		CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt, ApprovedAt: timePtr(w.ApprovedAt), CompletedAt: timePtr(w.CompletedAt)}
	if status == withdrawal.StatusAwaitingConfirmation {
		v.Pending = nonNil(w.Pending())
	}
	if status == withdrawal.StatusRejected {
		// A rejection's reason was emailed to the user; an approval's note is staff's.
		v.ReviewReason = w.ReviewReason
	}
	return v
}

// allowListView is the allow-list switch as the user sees it.
type allowListView struct {
	// Enabled: withdrawals go only to active addresses of the book.
	Enabled bool `json:"enabled"`
	// PendingOff: a switch-off was asked and waits for its email link or,
	// once followed, for the hold (EffectiveOffAt).
	PendingOff       bool       `json:"pending_off"`
	OffRequestedAt   *time.Time `json:"off_requested_at,omitempty"`
	OffLinkExpiresAt *time.Time `json:"off_link_expires_at,omitempty"`
	EffectiveOffAt   *time.Time `json:"effective_off_at,omitempty"`
}

func (a *API) viewAllowList(st withdrawal.Settings) allowListView {
	now := a.Now()
	v := allowListView{Enabled: st.AllowListAt(now)}
	if !v.Enabled {
		return v
	}
	if !st.OffRequestedAt.IsZero() && st.OffConfirmedAt.IsZero() {
		if linkEnd := st.OffRequestedAt.Add(a.Withdrawals.Policy.ConfirmationTTL); now.Before(linkEnd) {
			v.PendingOff, v.OffRequestedAt, v.OffLinkExpiresAt = true, timePtr(st.OffRequestedAt), &linkEnd
		}
	}
	if !st.OffEffectiveAt.IsZero() && now.Before(st.OffEffectiveAt) {
		v.PendingOff, v.OffRequestedAt, v.EffectiveOffAt = true, timePtr(st.OffRequestedAt), timePtr(st.OffEffectiveAt)
	}
	return v
}

// --- errors ---

// refusalStatus is the HTTP status of each withdrawal refusal (API.md names
// the codes; the statuses are recorded in openapi.yaml).
var refusalStatus = map[string]int{
	withdrawal.CodeLocked:               http.StatusForbidden,
	withdrawal.CodeVerificationRequired: http.StatusForbidden,
	withdrawal.CodeLimitExceeded:        http.StatusUnprocessableEntity,
	withdrawal.CodeAddressOnHold:        http.StatusConflict,
	withdrawal.CodeAddressNotAllowed:    http.StatusForbidden,
	withdrawal.CodeMFARequired:          http.StatusForbidden,
	withdrawal.CodePriceUnavailable:     http.StatusServiceUnavailable,
	withdrawal.CodeInvalidAddress:       http.StatusBadRequest,
	withdrawal.CodeInvalidAmount:        http.StatusBadRequest,
}

// refusalProblem turns a refusal into its problem: the detail is written
// for the user; reason (withdrawals_locked) and until are added when known.
func refusalProblem(ref *withdrawal.Refusal) *Problem {
	status, ok := refusalStatus[ref.Code]
	if !ok {
		status = http.StatusForbidden
	}
	p := NewProblem(status, ref.Code, ref.Detail)
	if ref.Reason != "" {
		p.With("reason", ref.Reason)
	}
	if !ref.Until.IsZero() {
		p.With("until", ref.Until.UTC())
	}
	if ref.Code == withdrawal.CodePriceUnavailable {
		p.With("retry_after", priceRetryAfter)
	}
	return p
}

// withdrawalProblem maps the withdrawal package's errors to their problems;
// what names the thing a not-found error is about. Anything else goes to
// loginProblem (codes, lockout) and on.
func withdrawalProblem(err error, what string) error {
	var ref *withdrawal.Refusal
	var invalid *withdrawal.ValidationError
	switch {
	case errors.As(err, &invalid):
		fields := make([]FieldError, 0, len(invalid.Fields))
		for _, f := range invalid.Fields {
			fields = append(fields, FieldError{Field: f.Field, Code: f.Code, Detail: f.Detail})
		}
		detail := "one or more fields are invalid; see errors"
		switch invalid.Code {
		case withdrawal.CodeInvalidAddress:
			detail = "the address (or its memo) is not valid for this network; see errors"
		case withdrawal.CodeInvalidAmount:
			detail = "the amount must be a plain positive decimal with at most the asset's decimals, like 0.015; see errors"
		}
		p := NewProblem(http.StatusBadRequest, invalid.Code, detail)
		p.Errors = fields
		return p
	case errors.As(err, &ref):
		return refusalProblem(ref)
	case errors.Is(err, withdrawal.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, withdrawal.ErrInvalidToken):
		return NewProblem(http.StatusBadRequest, "invalid_token", "this link or token is invalid, was already used, or has expired")
	case errors.Is(err, withdrawal.ErrNotPending):
		return NewProblem(http.StatusConflict, "withdrawal_not_pending",
			"the withdrawal is not waiting for this: it was confirmed already, cancelled, expired or decided")
	case errors.Is(err, withdrawal.ErrIdempotencyKey):
		return NewProblem(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request; use a new key for a new withdrawal")
	}
	return loginProblem(err)
}

// --- helpers ---

// freshSession reads the caller's session from the database: a step-up
// made a moment ago, maybe on another node, is not in the cached copy.
func (a *API) freshSession(r *http.Request) (session.Session, error) {
	return a.Store.SessionByTokenHash(r.Context(), currentCaller(r.Context()).session.TokenHash)
}

// freshCaller is the caller's account and session as the database has them.
func (a *API) freshCaller(r *http.Request) (account.Account, session.Session, error) {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return acct, session.Session{}, err
	}
	sess, err := a.freshSession(r)
	return acct, sess, err
}

// listLimit reads ?limit= (1 to 500, default 50) for listings without cursors.
func listLimit(r *http.Request, fe *fieldErrors) int {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.add("limit", "out_of_range", "must be a whole number from 1 to 500")
		}
		limit = n
	}
	if r.URL.Query().Get("cursor") != "" {
		fe.add("cursor", "unsupported", "this listing has no pages: ask for up to 500 with limit")
	}
	return limit
}

var withdrawalStatuses = []string{
	withdrawal.StatusAwaitingConfirmation, withdrawal.StatusPendingReview, withdrawal.StatusApproved, withdrawal.StatusCompleted,
	withdrawal.StatusRejected, withdrawal.StatusCancelled, withdrawal.StatusExpired,
}

// statusFilter reads ?status= (empty: all).
func statusFilter(r *http.Request, fe *fieldErrors) string {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(withdrawalStatuses, status) {
		fe.add("status", "invalid", "one of "+strings.Join(withdrawalStatuses, ", "))
	}
	return status
}

// listWithdrawals lists by account (all when empty) and status, newest
// first. A request whose time ran out shows as expired even before the
// duties mark it so, and is left out of a filter on awaiting_confirmation.
func (a *API) listWithdrawalsOf(ctx context.Context, accountID, status string, limit int) ([]withdrawal.Withdrawal, error) {
	list, err := a.Withdrawals.List(ctx, accountID, status, limit)
	if err != nil {
		return nil, err
	}
	if status == "" {
		return list, nil
	}
	return slices.DeleteFunc(list, func(w withdrawal.Withdrawal) bool { return w.Status != status }), nil
}

// textField checks a required (or optional) short text field.
func textField(fe *fieldErrors, field, value string, required bool, maxLen int) {
	switch {
	case required && strings.TrimSpace(value) == "":
		fe.add(field, "required", "this field is required")
	case len(value) > maxLen:
		fe.add(field, "too_long", "at most "+strconv.Itoa(maxLen)+" characters")
	}
}

// --- address book ---

// listAddresses shows the address book, oldest first.
func (a *API) listAddresses(w http.ResponseWriter, r *http.Request) error {
	list, err := a.Withdrawals.Addresses(r.Context(), currentCaller(r.Context()).account.ID)
	if err != nil {
		return err
	}
	out := make([]bookAddressView, 0, len(list))
	for _, ad := range list {
		out = append(out, a.viewBookAddress(ad))
	}
	writeJSON(w, http.StatusOK, map[string]any{"addresses": out})
	return nil
}

type newAddressRequest struct {
	Asset   string `json:"asset"`
	Network string `json:"network"`
	Address string `json:"address"`
	Memo    string `json:"memo"`
	Label   string `json:"label"`
}

// addAddress puts an address in the book; it needs a recent second factor
// and is confirmed from the email it sends.
func (a *API) addAddress(w http.ResponseWriter, r *http.Request) error {
	var req newAddressRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	textField(&fe, "asset", req.Asset, true, 20)
	textField(&fe, "network", req.Network, true, 50)
	textField(&fe, "address", req.Address, true, 200)
	textField(&fe, "memo", req.Memo, false, 100)
	textField(&fe, "label", req.Label, false, 240)
	if p := fe.problem(); p != nil {
		return p
	}
	acct, sess, err := a.freshCaller(r)
	if err != nil {
		return err
	}
	ad, err := a.Withdrawals.AddAddress(r.Context(), acct, sess, withdrawal.NewAddress{
		Asset: req.Asset, Network: req.Network, Address: req.Address, Memo: req.Memo, Label: req.Label,
	}, a.accountMeta(r))
	if err != nil {
		return withdrawalProblem(err, "address")
	}
	writeJSON(w, http.StatusCreated, a.viewBookAddress(ad))
	return nil
}

type addressConfirmation struct {
	Token string `json:"token"`
	Code  string `json:"code"`
}

// confirmAddress takes the email link's token and a code from the
// authenticator app: the address goes on hold, then becomes active.
func (a *API) confirmAddress(w http.ResponseWriter, r *http.Request) error {
	var req addressConfirmation
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	fe.token(req.Token, "the token from the confirmation email's link")
	if strings.TrimSpace(req.Code) == "" {
		fe.add("code", "required", "enter the 6-digit code from your authenticator app")
	} else if len(req.Code) > 64 {
		fe.add("code", "too_long", "a code is at most 64 characters")
	}
	if p := fe.problem(); p != nil {
		return p
	}
	if err := a.codeAttempt(w, r); err != nil {
		return err
	}
	c := currentCaller(r.Context())
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	var ad withdrawal.Address
	err = a.Login.Guard(r.Context(), acct, a.sessionMeta(r), func() error {
		var err error
		ad, err = a.Withdrawals.ConfirmAddress(r.Context(), acct, c.session, r.PathValue("id"), req.Token, req.Code, a.accountMeta(r))
		return err
	})
	if err != nil {
		return withdrawalProblem(err, "address")
	}
	a.Sessions.Forget([]string{c.session.TokenHash}) // the code stepped the session up
	writeJSON(w, http.StatusOK, a.viewBookAddress(ad))
	return nil
}

// deleteAddress removes an address at once.
func (a *API) deleteAddress(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	if err := a.Withdrawals.DeleteAddress(r.Context(), acct, r.PathValue("id"), a.accountMeta(r)); err != nil {
		return withdrawalProblem(err, "address")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- allow-list ---

func (a *API) getAllowList(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Withdrawals.Settings(r.Context(), currentCaller(r.Context()).account.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.viewAllowList(st))
	return nil
}

type allowListRequest struct {
	Enabled *bool `json:"enabled"`
}

// putAllowList turns the allow-list on at once (200), or asks to turn it
// off (202): that needs a recent second factor, then the email link, then
// the address hold.
func (a *API) putAllowList(w http.ResponseWriter, r *http.Request) error {
	var req allowListRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if req.Enabled == nil {
		return errValidation(FieldError{Field: "enabled", Code: "required", Detail: "true to turn the allow-list on, false to ask to turn it off"})
	}
	acct, sess, err := a.freshCaller(r)
	if err != nil {
		return err
	}
	if *req.Enabled {
		st, err := a.Withdrawals.EnableAllowList(r.Context(), acct, a.accountMeta(r))
		if err != nil {
			return withdrawalProblem(err, "settings")
		}
		writeJSON(w, http.StatusOK, a.viewAllowList(st))
		return nil
	}
	st, err := a.Withdrawals.DisableAllowList(r.Context(), acct, sess, a.accountMeta(r))
	if err != nil {
		return withdrawalProblem(err, "settings")
	}
	v := a.viewAllowList(st)
	status := http.StatusOK // already off
	if v.Enabled {
		status = http.StatusAccepted
	}
	writeJSON(w, status, v)
	return nil
}

// confirmAllowListOff follows the switch-off email's link; no session is
// needed (the link may be opened anywhere).
func (a *API) confirmAllowListOff(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	st, err := a.Withdrawals.ConfirmAllowListOff(r.Context(), req.Token, a.accountMeta(r))
	if err != nil {
		return withdrawalProblem(err, "settings")
	}
	writeJSON(w, http.StatusOK, a.viewAllowList(st))
	return nil
}

// --- withdrawals ---

type withdrawalRequest struct {
	Asset     string `json:"asset"`
	Network   string `json:"network"`
	Amount    string `json:"amount"`
	AddressID string `json:"address_id"`
	Address   string `json:"address"`
	Memo      string `json:"memo"`
}

// requestWithdrawal decides a withdrawal request. Only an accepted request
// is remembered under its Idempotency-Key: a repeat with the same key and
// body answers it again (201, Idempotent-Replayed: true), in its current
// state; the same key with another body is refused.
func (a *API) requestWithdrawal(w http.ResponseWriter, r *http.Request) error {
	var req withdrawalRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	textField(&fe, "asset", req.Asset, true, 20)
	textField(&fe, "network", req.Network, true, 50)
	textField(&fe, "amount", req.Amount, false, 100) // the domain says what is wrong with it
	switch {
	case req.AddressID == "" && req.Address == "":
		fe.add("address_id", "required", "the id of an address of your book (or, with the allow-list off, an address)")
	case req.AddressID != "" && (req.Address != "" || req.Memo != ""):
		fe.add("address", "conflict", "send either address_id or address (with memo), not both")
	case req.AddressID != "":
		textField(&fe, "address_id", req.AddressID, true, 100)
	default:
		textField(&fe, "address", req.Address, true, 200)
		textField(&fe, "memo", req.Memo, false, 100)
	}
	if p := fe.problem(); p != nil {
		return p
	}
	key := r.Header.Get(IdempotencyKeyHeader)
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	// A request that must be confirmed with a second factor could never be
	// from an account without one.
	if a.Withdrawals.Policy.RequireSecondFactor && !acct.MFAEnabled {
		return refusalProblem(&withdrawal.Refusal{Code: withdrawal.CodeMFARequired,
			Detail: "turn on two-factor authentication first: withdrawals are confirmed with a code from your authenticator app"})
	}
	d, err := a.Withdrawals.Request(r.Context(), acct, withdrawal.Request{
		Asset: req.Asset, Network: req.Network, Amount: req.Amount, AddressID: req.AddressID, Address: req.Address, Memo: req.Memo,
		IdempotencyKey: key, Session: currentCaller(r.Context()).session, Meta: a.accountMeta(r),
	})
	if err != nil {
		return a.withdrawalRefused(w, r, acct, err)
	}
	if d.Repeat {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, a.viewWithdrawal(d.Withdrawal))
	return nil
}

// withdrawalRefused answers a refused request: a limit refusal carries the
// limits as they are now, a missing price a Retry-After.
func (a *API) withdrawalRefused(w http.ResponseWriter, r *http.Request, acct account.Account, err error) error {
	var ref *withdrawal.Refusal
	if !errors.As(err, &ref) {
		return withdrawalProblem(err, "withdrawal")
	}
	p := refusalProblem(ref)
	switch ref.Code {
	case withdrawal.CodePriceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(priceRetryAfter))
	case withdrawal.CodeLimitExceeded:
		l, err := a.Withdrawals.LimitsOf(r.Context(), acct)
		if err != nil {
			return err
		}
		cur := a.Withdrawals.Currency
		p.With("limits", map[string]any{
			"currency": cur.Code, "per_transaction": money.Format(l.PerTransaction, cur.Decimals),
			"rolling_24h": money.Format(l.Rolling24h, cur.Decimals), "used_24h": money.Format(l.Used24h, cur.Decimals),
			"available_24h": money.Format(l.Available(), cur.Decimals),
		})
	}
	return p
}

// listWithdrawals lists the user's withdrawals, newest first.
func (a *API) listWithdrawals(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	status := statusFilter(r, &fe)
	limit := listLimit(r, &fe)
	if p := fe.problem(); p != nil {
		return p
	}
	list, err := a.listWithdrawalsOf(r.Context(), currentCaller(r.Context()).account.ID, status, limit)
	if err != nil {
		return err
	}
	out := make([]withdrawalView, 0, len(list))
	for _, wd := range list {
		out = append(out, a.viewWithdrawal(wd))
	}
	writeJSON(w, http.StatusOK, map[string]any{"withdrawals": out})
	return nil
}

func (a *API) getWithdrawal(w http.ResponseWriter, r *http.Request) error {
	wd, err := a.Withdrawals.Get(r.Context(), currentCaller(r.Context()).account.ID, r.PathValue("id"))
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawal(wd))
	return nil
}

// cancelWithdrawal ends a request not approved yet; its limit is free again.
func (a *API) cancelWithdrawal(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	wd, err := a.Withdrawals.Cancel(r.Context(), acct, r.PathValue("id"), a.accountMeta(r))
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawal(wd))
	return nil
}

// confirmWithdrawalCode gives a request its second factor: a code from the
// authenticator app, or a recovery code. It counts against the lockout
// like every code; enough wrong ones cancel the request.
func (a *API) confirmWithdrawalCode(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	var req struct {
		Code string `json:"code"`
	}
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := (codeRequest{Code: req.Code}).validate(false); p != nil {
		return p
	}
	if err := a.codeAttempt(w, r); err != nil {
		return err
	}
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	var wd withdrawal.Withdrawal
	err = a.Login.Guard(r.Context(), acct, a.sessionMeta(r), func() error {
		var err error
		wd, err = a.Withdrawals.ConfirmCode(r.Context(), acct, c.session, r.PathValue("id"), req.Code, a.accountMeta(r))
		return err
	})
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	a.Sessions.Forget([]string{c.session.TokenHash}) // the code stepped the session up
	writeJSON(w, http.StatusOK, a.viewWithdrawal(wd))
	return nil
}

type withdrawalConfirmation struct {
	Token        string `json:"token"`
	WithdrawalID string `json:"withdrawal_id"`
}

// confirmWithdrawalEmail follows a withdrawal's email link. The token alone
// names the withdrawal and no session is needed; but a client that names
// the withdrawal it means (withdrawal_id), or sends a session, has a token
// of another withdrawal, or of another account's, refused as invalid.
func (a *API) confirmWithdrawalEmail(w http.ResponseWriter, r *http.Request) error {
	var req withdrawalConfirmation
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := (tokenRequest{Token: req.Token}).validate(); p != nil {
		return p
	}
	owner := ""
	if token, _ := sessionToken(r); token != "" {
		sess, acct, err := a.Sessions.Resolve(r.Context(), token)
		switch {
		case err == nil && sess.Realm == account.RealmUser:
			owner = acct.ID
		case err != nil && !errors.Is(err, session.ErrNoSession):
			return err
		}
	}
	if req.WithdrawalID != "" || owner != "" {
		peeked, err := a.Withdrawals.PeekEmailToken(r.Context(), req.Token)
		if err != nil {
			return withdrawalProblem(err, "withdrawal")
		}
		if (req.WithdrawalID != "" && peeked.ID != req.WithdrawalID) || (owner != "" && peeked.AccountID != owner) {
			return withdrawalProblem(withdrawal.ErrInvalidToken, "withdrawal")
		}
	}
	wd, err := a.Withdrawals.ConfirmEmail(r.Context(), req.Token, a.accountMeta(r))
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawal(wd))
	return nil
}
