package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Withdrawal protection, the platform's side: reference prices, the
// withdrawals queue for staff and the payout system (approve or reject
// what monitoring held, complete with the transaction id), and account
// restrictions. Every action is audited under the admin key that made it.

// withdrawalAdminView is a withdrawal as staff and the payout system see it.
type withdrawalAdminView struct {
	withdrawalView
	UserID       string    `json:"user_id"`
	ReviewReason string    `json:"review_reason,omitempty"`
	Reviewer     string    `json:"reviewer,omitempty"`
	IP           string    `json:"ip,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func (a *API) viewWithdrawalForStaff(w withdrawal.Withdrawal) withdrawalAdminView {
	return withdrawalAdminView{withdrawalView: a.viewWithdrawal(w), UserID: w.AccountID, ReviewReason: w.ReviewReason,
		Reviewer: w.Reviewer, IP: w.IP, DeviceID: w.DeviceID, UpdatedAt: w.UpdatedAt}
}

// adminMeta is the request's audit metadata with the admin key as the actor.
func (a *API) adminMeta(r *http.Request) account.Meta {
	m := a.accountMeta(r)
	m.Actor = adminActor(r)
	return m
}

// --- prices ---

type priceInput struct {
	Asset          string `json:"asset"`
	ReferencePrice string `json:"reference_price"`
	AsOf           string `json:"as_of"`
}

type pricesRequest struct {
	Prices []priceInput `json:"prices"`
}

// maxPrices bounds one price feed.
const maxPrices = 1000

// putPrices stores the platform's reference prices; one older than the
// stored price of its asset is ignored (feeds may arrive out of order).
func (a *API) putPrices(w http.ResponseWriter, r *http.Request) error {
	var req pricesRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	switch {
	case len(req.Prices) == 0:
		fe.add("prices", "required", "send at least one price: {asset, reference_price, as_of}")
	case len(req.Prices) > maxPrices:
		fe.add("prices", "too_many", fmt.Sprintf("at most %d prices at once", maxPrices))
	}
	in := make([]withdrawal.PriceInput, 0, len(req.Prices))
	for i, p := range req.Prices {
		at, err := time.Parse(time.RFC3339, p.AsOf)
		if err != nil {
			fe.add(fmt.Sprintf("prices[%d].as_of", i), "invalid", "an RFC 3339 time, like 2031-03-04T05:06:07Z")
		}
		if len(p.Asset) > 20 || len(p.ReferencePrice) > 50 {
			fe.add(fmt.Sprintf("prices[%d]", i), "too_long", "an asset code and a decimal price")
		}
		in = append(in, withdrawal.PriceInput{Asset: p.Asset, Price: p.ReferencePrice, AsOf: at})
	}
	if p := fe.problem(); p != nil {
		return p
	}
	if err := a.Withdrawals.SetPrices(r.Context(), in, a.adminMeta(r)); err != nil {
		return withdrawalProblem(err, "asset")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- withdrawals ---

// listWithdrawalsForStaff lists every user's withdrawals (or one user's),
// newest first: ?status=pending_review is staff's queue, approved the
// payout system's.
func (a *API) listWithdrawalsForStaff(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	status := statusFilter(r, &fe)
	limit := listLimit(r, &fe)
	userID := r.URL.Query().Get("user_id")
	if len(userID) > 100 {
		fe.add("user_id", "too_long", "a user id")
	}
	if p := fe.problem(); p != nil {
		return p
	}
	list, err := a.listWithdrawalsOf(r.Context(), userID, status, limit)
	if err != nil {
		return err
	}
	out := make([]withdrawalAdminView, 0, len(list))
	for _, wd := range list {
		out = append(out, a.viewWithdrawalForStaff(wd))
	}
	writeJSON(w, http.StatusOK, map[string]any{"withdrawals": out})
	return nil
}

func (a *API) getWithdrawalForStaff(w http.ResponseWriter, r *http.Request) error {
	var wd withdrawal.Withdrawal
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		wd, err = tx.WithdrawalByID(r.Context(), r.PathValue("id"))
		return err
	})
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawalForStaff(wd))
	return nil
}

type reviewDecision struct {
	Reason string `json:"reason"`
}

// reviewReason reads the optional (approve) or required (reject) reason.
func reviewReason(r *http.Request, required bool) (string, *Problem) {
	var req reviewDecision
	if required || r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return "", p
		}
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch n := utf8.RuneCountInString(req.Reason); {
	case required && n == 0:
		return "", errValidation(FieldError{Field: "reason", Code: "required", Detail: "say why, in words the user can read: it is emailed to them"})
	case n > 1000:
		return "", errValidation(FieldError{Field: "reason", Code: "too_long", Detail: "at most 1000 characters"})
	}
	return req.Reason, nil
}

// approveWithdrawal lets a withdrawal held for review go: the payout
// system gets withdrawal.approved.
func (a *API) approveWithdrawal(w http.ResponseWriter, r *http.Request) error {
	reason, p := reviewReason(r, false)
	if p != nil {
		return p
	}
	return a.decideWithdrawal(w, r, withdrawal.DecisionApprove, reason)
}

// rejectWithdrawal refuses a withdrawal held for review; the user is told
// the reason and the platform gets withdrawal.rejected.
func (a *API) rejectWithdrawal(w http.ResponseWriter, r *http.Request) error {
	reason, p := reviewReason(r, true)
	if p != nil {
		return p
	}
	return a.decideWithdrawal(w, r, withdrawal.DecisionReject, reason)
}

func (a *API) decideWithdrawal(w http.ResponseWriter, r *http.Request, decision, reason string) error {
	wd, err := a.Withdrawals.Decide(r.Context(), r.PathValue("id"), decision, reason, a.adminMeta(r))
	if errors.Is(err, withdrawal.ErrNotPending) {
		return NewProblem(http.StatusConflict, "withdrawal_not_pending", "only a withdrawal pending review can be approved or rejected")
	}
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawalForStaff(wd))
	return nil
}

type completion struct {
	TxID string `json:"txid"`
}

// completeWithdrawal records the payout system's transaction id for an
// approved withdrawal and tells the user. Repeating it with the same txid
// answers the completed withdrawal again.
func (a *API) completeWithdrawal(w http.ResponseWriter, r *http.Request) error {
	var req completion
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	wd, err := a.Withdrawals.Complete(r.Context(), r.PathValue("id"), req.TxID, a.adminMeta(r))
	if errors.Is(err, withdrawal.ErrNotPending) {
		return NewProblem(http.StatusConflict, "withdrawal_not_pending",
			"only an approved withdrawal can be completed (a completed one only with its own txid)")
	}
	if err != nil {
		return withdrawalProblem(err, "withdrawal")
	}
	writeJSON(w, http.StatusOK, a.viewWithdrawalForStaff(wd))
	return nil
}

// --- restrictions ---

type restrictionView struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Kind      string     `json:"kind"`
	Reason    string     `json:"reason"`
	Source    string     `json:"source"`
	LiftOn    string     `json:"lift_on,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	LiftedAt  *time.Time `json:"lifted_at,omitempty"`
	LiftedBy  string     `json:"lifted_by,omitempty"`
}

func viewRestriction(rs withdrawal.Restriction) restrictionView {
	return restrictionView{ID: rs.ID, UserID: rs.AccountID, Kind: rs.Kind, Reason: rs.Reason, Source: rs.Source, LiftOn: rs.LiftOn,
		CreatedAt: rs.CreatedAt, ExpiresAt: timePtr(rs.ExpiresAt), LiftedAt: timePtr(rs.LiftedAt), LiftedBy: rs.LiftedBy}
}

type restrictionRequest struct {
	Kind      string `json:"kind"`
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expires_at"`
	LiftOn    string `json:"lift_on"`
}

// restrictUser pauses withdrawals, logins or trading on an account; the
// user is emailed and the platform gets account.restricted.
func (a *API) restrictUser(w http.ResponseWriter, r *http.Request) error {
	var req restrictionRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	n := withdrawal.NewRestriction{Kind: req.Kind, Reason: req.Reason, LiftOn: req.LiftOn}
	if req.ExpiresAt != "" {
		at, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return errValidation(FieldError{Field: "expires_at", Code: "invalid", Detail: "an RFC 3339 time in the future, or leave it out"})
		}
		n.ExpiresAt = at
	}
	rs, err := a.Withdrawals.Restrict(r.Context(), r.PathValue("id"), n, a.adminMeta(r))
	if err != nil {
		return withdrawalProblem(err, "user")
	}
	writeJSON(w, http.StatusCreated, viewRestriction(rs))
	return nil
}

// listRestrictions shows the restrictions in force on a user.
func (a *API) listRestrictions(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.Accounts.AccountByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, account.ErrNoAccount) || (err == nil && acct.Realm != account.RealmUser) {
		return errNotFound("user")
	}
	if err != nil {
		return err
	}
	list, err := a.Withdrawals.Restrictions(r.Context(), acct.ID)
	if err != nil {
		return err
	}
	out := make([]restrictionView, 0, len(list))
	for _, rs := range list {
		out = append(out, viewRestriction(rs))
	}
	writeJSON(w, http.StatusOK, map[string]any{"restrictions": out})
	return nil
}

// liftRestriction ends a restriction at once.
func (a *API) liftRestriction(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.Withdrawals.Lift(r.Context(), r.PathValue("id"), r.PathValue("rid"), a.adminMeta(r)); err != nil {
		return withdrawalProblem(err, "restriction")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
