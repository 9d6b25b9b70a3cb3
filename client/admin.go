package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The admin API (/admin/v1), called by the platform's back end with an
// admin key (WithAdminKey). The scope each call needs is named in its
// comment.

// --- sessions ---

// Introspection says whether a session token is live and whose it is.
type Introspection struct {
	// Active is false for unknown, ended and revoked tokens; the other
	// fields are then empty.
	Active    bool   `json:"active"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	// AAL is aal1 (password only) or aal2 (a second factor was proven).
	AAL      string `json:"aal"`
	DeviceID string `json:"device_id"`
	Frozen   bool   `json:"frozen"`
	// Restrictions are the kinds restricted now (withdrawals, login, trading).
	Restrictions []string `json:"restrictions"`
	// ExpiresAt is when the session ends unless used again (zero when inactive).
	ExpiresAt time.Time `json:"expires_at"`
}

// Introspect checks a user's session token: the platform's hot path
// (POST /admin/v1/sessions/introspect, scope sessions:introspect). It reads
// only, so it is retried.
func (c *Client) Introspect(ctx context.Context, sessionToken string) (*Introspection, error) {
	var out Introspection
	_, err := c.admin(ctx, call{method: "POST", path: "/admin/v1/sessions/introspect",
		body: map[string]string{"token": sessionToken}, retry: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// --- events ---

// Event is one of the platform's own events for transaction monitoring.
type Event struct {
	// ID is the platform's own id (1–200 of letters, digits and . _ : -):
	// it makes sending the event again harmless.
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// Type is lower case letters and _: deposit, trade, transfer, …
	Type  string `json:"type"`
	Asset string `json:"asset,omitempty"`
	// Amount and ReferenceValue are decimal strings ("0.015"); the
	// reference value is in Warden's reference currency.
	Amount         string `json:"amount,omitempty"`
	ReferenceValue string `json:"reference_value,omitempty"`
	// OccurredAt is required: not more than 5 minutes ahead of Warden's
	// clock, nor more than 5 years ago.
	OccurredAt time.Time `json:"-"`
	// Attributes (at most 4 KiB as JSON) are what rules read as event.attributes.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// MarshalJSON writes OccurredAt as RFC 3339 UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		OccurredAt string `json:"occurred_at"`
	}{plain(e), e.OccurredAt.UTC().Format(time.RFC3339Nano)})
}

// EventsResult counts what a SendEvents stored.
type EventsResult struct {
	// Accepted are the events stored now.
	Accepted int `json:"accepted"`
	// Duplicates are events whose id was stored already, skipped.
	Duplicates int `json:"duplicates"`
	// Batches is the number of calls made.
	Batches int `json:"-"`
}

// Warden's bounds of one events call.
const (
	MaxEventsPerBatch = 1000
	maxEventsBody     = 4 << 20
	// eventsBodyBudget leaves room under maxEventsBody for the envelope.
	eventsBodyBudget = maxEventsBody - 4<<10
)

// SendEvents feeds the platform's events to transaction monitoring
// (POST /admin/v1/events, scope events:write). Any number may be given:
// they are sent in batches of at most MaxEventsPerBatch events and 4 MiB, in
// order. Each batch is all or nothing; a batch refused (say for an unknown
// user_id) stops the sending, and the error comes with the counts of the
// batches before it. Events are idempotent on their id, so sending all of
// them again after fixing the problem is safe — and so each batch is retried.
func (c *Client) SendEvents(ctx context.Context, events []Event) (EventsResult, error) {
	var total EventsResult
	batches, err := eventBatches(events)
	if err != nil {
		return total, err
	}
	for i, b := range batches {
		var res EventsResult
		if _, err := c.admin(ctx, call{method: "POST", path: "/admin/v1/events",
			body: map[string]any{"events": b}, retry: true}, &res); err != nil {
			if len(batches) > 1 {
				err = fmt.Errorf("events batch %d of %d (from event %d): %w", i+1, len(batches), batchStart(batches, i), err)
			}
			return total, err
		}
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		total.Batches++
	}
	return total, nil
}

func batchStart(batches [][]json.RawMessage, i int) int {
	n := 0
	for _, b := range batches[:i] {
		n += len(b)
	}
	return n
}

// eventBatches splits events into batches Warden accepts.
func eventBatches(events []Event) ([][]json.RawMessage, error) {
	var batches [][]json.RawMessage
	var cur []json.RawMessage
	size := 0
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("warden: encode event %d (%s): %w", i, e.ID, err)
		}
		if len(cur) > 0 && (len(cur) == MaxEventsPerBatch || size+len(b)+1 > eventsBodyBudget) {
			batches = append(batches, cur)
			cur, size = nil, 0
		}
		cur = append(cur, b)
		size += len(b) + 1
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, nil
}

// --- prices ---

// Price is the reference-currency price of one whole unit of an asset.
type Price struct {
	Asset string
	// ReferencePrice is a positive decimal string ("64000.50").
	ReferencePrice string
	// AsOf is when the platform took it.
	AsOf time.Time
}

// MaxPricesPerCall is Warden's bound on one price feed.
const MaxPricesPerCall = 1000

// PutPrices feeds the prices Warden values withdrawals and limits with
// (PUT /admin/v1/prices, scope prices:write). More than MaxPricesPerCall
// are sent in several calls, each all or nothing. Warden ignores a price
// older than the one it has, so a feed can be sent again: it is retried.
func (c *Client) PutPrices(ctx context.Context, prices []Price) error {
	for start := 0; start == 0 || start < len(prices); start += MaxPricesPerCall {
		chunk := prices[start:min(start+MaxPricesPerCall, len(prices))]
		list := make([]map[string]string, 0, len(chunk))
		for _, pr := range chunk {
			list = append(list, map[string]string{"asset": pr.Asset, "reference_price": pr.ReferencePrice,
				"as_of": pr.AsOf.UTC().Format(time.RFC3339Nano)})
		}
		if _, err := c.admin(ctx, call{method: "PUT", path: "/admin/v1/prices",
			body: map[string]any{"prices": list}, retry: true}, nil); err != nil {
			return err
		}
	}
	return nil
}

// --- withdrawals ---

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

// Withdrawal is a withdrawal request. The fields after TxID's group are in
// admin answers only.
type Withdrawal struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Asset   string `json:"asset"`
	Network string `json:"network"`
	// Amount is a decimal string with all the asset's decimals ("0.01000000").
	Amount    string `json:"amount"`
	AddressID string `json:"address_id"`
	Address   string `json:"address"`
	Memo      string `json:"memo"`
	// ReferenceValue is what Warden valued it at, in Currency, with Price.
	ReferenceValue string `json:"reference_value"`
	Currency       string `json:"currency"`
	Price          string `json:"price"`
	// Required are the confirmations asked (second_factor, email); Pending
	// those still missing.
	Required     []string   `json:"required"`
	Pending      []string   `json:"pending"`
	Reasons      []string   `json:"reasons"`
	ReviewReason string     `json:"review_reason"`
	TxID         string     `json:"txid"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	ApprovedAt   *time.Time `json:"approved_at"`
	CompletedAt  *time.Time `json:"completed_at"`

	// Admin answers only.
	UserID    string    `json:"user_id"`
	Reviewer  string    `json:"reviewer"`
	IP        string    `json:"ip"`
	DeviceID  string    `json:"device_id"`
	UpdatedAt time.Time `json:"updated_at"`

	// IdempotencyKey is the key RequestWithdrawal sent (given or made).
	IdempotencyKey string `json:"-"`
	// Replayed: Warden answered a repeat of an accepted request with it
	// (Idempotent-Replayed), without deciding again.
	Replayed bool `json:"-"`
}

// WithdrawalFilter narrows ListWithdrawals.
type WithdrawalFilter struct {
	// Status is one of the Status… constants; empty for all.
	Status string
	// UserID: only this user's (admin listing only).
	UserID string
	// Limit is 1 to 500; 0 for Warden's default (50).
	Limit int
}

func (f WithdrawalFilter) query(admin bool) url.Values {
	q := listQuery(f.Limit, "status", f.Status)
	if admin && f.UserID != "" {
		q.Set("user_id", f.UserID)
	}
	return q
}

// listQuery is a listing's query: each filter of kv (name, value, …) that
// is set, and the limit when positive.
func listQuery(limit int, kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// ListWithdrawals lists every user's withdrawals, newest first
// (GET /admin/v1/withdrawals, scope withdrawals:read): Status
// pending_review is staff's queue, approved the payout system's.
func (c *Client) ListWithdrawals(ctx context.Context, f WithdrawalFilter) ([]Withdrawal, error) {
	var out struct {
		Withdrawals []Withdrawal `json:"withdrawals"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/withdrawals", query: f.query(true), retry: true}, &out)
	return out.Withdrawals, err
}

// GetWithdrawal shows one withdrawal (GET /admin/v1/withdrawals/{id}, scope withdrawals:read).
func (c *Client) GetWithdrawal(ctx context.Context, id string) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := c.admin(ctx, call{method: "GET", path: pathf("/admin/v1/withdrawals/%s", id), retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveWithdrawal lets a withdrawal pending review go; the payout system
// gets withdrawal.approved (POST /admin/v1/withdrawals/{id}/approve, scope
// withdrawals:write). note may be empty. Not retried: a repeat answers
// withdrawal_not_pending.
func (c *Client) ApproveWithdrawal(ctx context.Context, id, note string) (*Withdrawal, error) {
	var body any
	if note != "" {
		body = map[string]string{"reason": note}
	}
	return c.withdrawalDecision(ctx, call{method: "POST", path: pathf("/admin/v1/withdrawals/%s/approve", id), body: body})
}

// RejectWithdrawal refuses a withdrawal pending review; reason (required)
// is emailed to the user (POST /admin/v1/withdrawals/{id}/reject, scope
// withdrawals:write).
func (c *Client) RejectWithdrawal(ctx context.Context, id, reason string) (*Withdrawal, error) {
	return c.withdrawalDecision(ctx, call{method: "POST", path: pathf("/admin/v1/withdrawals/%s/reject", id),
		body: map[string]string{"reason": reason}})
}

// CompleteWithdrawal records the payout's transaction id for an approved
// withdrawal (POST /admin/v1/withdrawals/{id}/complete, scope
// withdrawals:write). Completing again with the same txid answers the
// completed withdrawal, so it is retried; another txid is
// withdrawal_not_pending.
func (c *Client) CompleteWithdrawal(ctx context.Context, id, txid string) (*Withdrawal, error) {
	return c.withdrawalDecision(ctx, call{method: "POST", path: pathf("/admin/v1/withdrawals/%s/complete", id),
		body: map[string]string{"txid": txid}, retry: true})
}

func (c *Client) withdrawalDecision(ctx context.Context, cl call) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := c.admin(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- verifications ---

// VerificationRecord is an identity verification as staff see it.
type VerificationRecord struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// Purpose is tier (reaching a verification tier) or mfa_reset.
	Purpose     string     `json:"purpose"`
	Status      string     `json:"status"`
	TargetTier  int        `json:"target_tier"`
	CreatedAt   time.Time  `json:"created_at"`
	SubmittedAt *time.Time `json:"submitted_at"`
	DecidedAt   *time.Time `json:"decided_at"`
	// Reviewer is admin_key:<id>, staff:<id>, provider:<name> or system.
	Reviewer          string     `json:"reviewer"`
	Resubmit          []string   `json:"resubmit"`
	Reason            string     `json:"reason"`
	ProviderRef       string     `json:"provider_ref"`
	EffectiveAt       *time.Time `json:"effective_at"`
	CompletedAt       *time.Time `json:"completed_at"`
	CancelledAt       *time.Time `json:"cancelled_at"`
	DocumentsPurgedAt *time.Time `json:"documents_purged_at"`
}

// Document is an uploaded document's metadata (never its content).
type Document struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Side      string    `json:"side"`
	MediaType string    `json:"media_type"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	CreatedAt time.Time `json:"created_at"`
	// For reviewers: ContentURL opens the content (an audited view).
	ReplacedAt *time.Time `json:"replaced_at"`
	PurgedAt   *time.Time `json:"purged_at"`
	ContentURL string     `json:"content_url"`
}

// VerificationReview is one verification with what its reviewer needs.
type VerificationReview struct {
	Verification VerificationRecord `json:"verification"`
	User         struct {
		ID         string `json:"id"`
		Email      string `json:"email"`
		Tier       int    `json:"tier"`
		MFAEnabled bool   `json:"mfa_enabled"`
		Frozen     bool   `json:"frozen"`
	} `json:"user"`
	PersonalInfo *PersonalInfo `json:"personal_info"`
	Documents    []Document    `json:"documents"`
	// Previous is, for a 2FA reset, the last approved tier verification.
	Previous *struct {
		Verification VerificationRecord `json:"verification"`
		Documents    []Document         `json:"documents"`
	} `json:"previous"`
}

// VerificationFilter narrows ListVerifications.
type VerificationFilter struct {
	// Status: empty for pending_review (the queue), "all", or a status.
	Status string
	Limit  int
}

// ListVerifications lists the review queue, oldest submission first
// (GET /admin/v1/verifications, scope verifications:review).
func (c *Client) ListVerifications(ctx context.Context, f VerificationFilter) ([]VerificationRecord, error) {
	q := listQuery(f.Limit, "status", f.Status)
	var out struct {
		Verifications []VerificationRecord `json:"verifications"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/verifications", query: q, retry: true}, &out)
	return out.Verifications, err
}

// GetVerification shows one verification for its reviewer
// (GET /admin/v1/verifications/{id}, scope verifications:review).
func (c *Client) GetVerification(ctx context.Context, id string) (*VerificationReview, error) {
	var out VerificationReview
	if _, err := c.admin(ctx, call{method: "GET", path: pathf("/admin/v1/verifications/%s", id), retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveVerification approves a verification pending review; note (may be
// empty) stays with the decision (POST /admin/v1/verifications/{id}/approve,
// scope verifications:review).
func (c *Client) ApproveVerification(ctx context.Context, id, note string) (*VerificationRecord, error) {
	var body any
	if note != "" {
		body = map[string]string{"note": note}
	}
	var out VerificationRecord
	if _, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/verifications/%s/approve", id), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RejectVerification rejects a verification, or with resubmit items
// (personal_info, id_document, selfie) asks the user to send them again;
// reason is emailed to the user (POST /admin/v1/verifications/{id}/reject,
// scope verifications:review).
func (c *Client) RejectVerification(ctx context.Context, id, reason string, resubmit ...string) (*VerificationRecord, error) {
	body := map[string]any{"reason": reason}
	if len(resubmit) > 0 {
		body["resubmit"] = resubmit
	}
	var out VerificationRecord
	if _, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/verifications/%s/reject", id), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- alerts ---

// Alert is raised by a monitoring rule that fired.
type Alert struct {
	ID          string         `json:"id"`
	RuleID      string         `json:"rule_id"`
	RuleVersion int            `json:"rule_version"`
	EventID     string         `json:"event_id"`
	EventType   string         `json:"event_type"`
	UserID      string         `json:"user_id"`
	Action      string         `json:"action"`
	Severity    string         `json:"severity"`
	Mode        string         `json:"mode"`
	Description string         `json:"description"`
	Aggregates  map[string]any `json:"aggregates"`
	Context     map[string]any `json:"context"`
	// Status is open or resolved.
	Status     string     `json:"status"`
	Resolution string     `json:"resolution"`
	Note       string     `json:"note"`
	ResolvedBy string     `json:"resolved_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	// CaseID is the alerts case it is in, "" while in none.
	CaseID string `json:"case_id"`
}

// AlertFilter narrows ListAlerts.
type AlertFilter struct {
	Status, UserID, RuleID, CaseID string
	Limit                          int
}

// ListAlerts lists alerts, newest first (GET /admin/v1/alerts, scope alerts:read).
func (c *Client) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	q := listQuery(f.Limit, "status", f.Status, "user_id", f.UserID, "rule_id", f.RuleID, "case_id", f.CaseID)
	var out struct {
		Alerts []Alert `json:"alerts"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/alerts", query: q, retry: true}, &out)
	return out.Alerts, err
}

// Alert resolutions.
const (
	TruePositive  = "true_positive"
	FalsePositive = "false_positive"
)

// ResolveAlert closes an alert as TruePositive or FalsePositive, with a
// note (POST /admin/v1/alerts/{id}/resolve, scope alerts:write).
func (c *Client) ResolveAlert(ctx context.Context, id, resolution, note string) (*Alert, error) {
	var out Alert
	if _, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/alerts/%s/resolve", id),
		body: map[string]string{"resolution": resolution, "note": note}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- cases ---

// Kinds of case.
const (
	CaseUserReport = "user_report" // a user's report of a compromised account
	CaseAlerts     = "alerts"      // a user's alerts grouped for investigation
)

// Case resolutions: a report's; an alerts case takes TruePositive or
// FalsePositive, which its open alerts take too.
const (
	Compromised    = "compromised"
	NotCompromised = "not_compromised"
	Inconclusive   = "inconclusive"
)

// Case is a case for staff: a user's report, or alerts grouped for investigation.
type Case struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	// Status is open or resolved.
	Status string `json:"status"`
	// Froze: one of its reports froze the account.
	Froze      bool   `json:"froze"`
	Resolution string `json:"resolution"`
	// Note is a report's note to the user, or the note an alerts case's
	// alerts were resolved with; InternalNote is for staff only.
	Note         string     `json:"note"`
	InternalNote string     `json:"internal_note"`
	ResolvedBy   string     `json:"resolved_by"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	ResolvedAt   *time.Time `json:"resolved_at"`
	ReportCount  int        `json:"report_count"`
	AlertCount   int        `json:"alert_count"`
	// Reports (with the snapshot of the account each took) and Alerts are
	// filled by GetCase, not in listings.
	Reports []CaseReport `json:"reports"`
	Alerts  []CaseAlert  `json:"alerts"`
}

// CaseReport is one report of a user-report case.
type CaseReport struct {
	ID        string `json:"id"`
	Statement string `json:"statement"`
	// Via is how it reached Warden: session, freeze_link, report_link or case_link.
	Via       string `json:"via"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	Froze     bool   `json:"froze"`
	// Snapshot is what Warden knew of the account then: logins with their
	// risk decisions, devices, sessions and withdrawals.
	Snapshot  map[string]any `json:"snapshot"`
	CreatedAt time.Time      `json:"created_at"`
}

// CaseAlert is an alert of an alerts case.
type CaseAlert struct {
	ID          string    `json:"id"`
	RuleID      string    `json:"rule_id"`
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	Action      string    `json:"action"`
	Severity    string    `json:"severity"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Resolution  string    `json:"resolution"`
	CreatedAt   time.Time `json:"created_at"`
}

// CaseFilter narrows ListCases.
type CaseFilter struct {
	Status, Kind, UserID string
	Limit                int
}

// ListCases lists cases, newest first (GET /admin/v1/cases, scope alerts:read).
func (c *Client) ListCases(ctx context.Context, f CaseFilter) ([]Case, error) {
	q := listQuery(f.Limit, "status", f.Status, "kind", f.Kind, "user_id", f.UserID)
	var out struct {
		Cases []Case `json:"cases"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/cases", query: q, retry: true}, &out)
	return out.Cases, err
}

// GetCase reads a case with its reports or alerts (GET /admin/v1/cases/{id}).
func (c *Client) GetCase(ctx context.Context, id string) (*Case, error) {
	var out Case
	if _, err := c.admin(ctx, call{method: "GET", path: pathf("/admin/v1/cases/%s", id), retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResolveCase closes a case with one of its kind's resolutions and a note:
// a report's note is emailed to the user; an alerts case's goes onto each
// of its open alerts (POST /admin/v1/cases/{id}/resolve, scope alerts:write).
func (c *Client) ResolveCase(ctx context.Context, id, resolution, note, internalNote string) (*Case, error) {
	var out Case
	if _, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/cases/%s/resolve", id),
		body: map[string]string{"resolution": resolution, "note": note, "internal_note": internalNote}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InvestigateAlert puts an alert into its user's alerts case, opening one
// if none is open, and returns the case's id; asking again returns the
// same case, so it is retried (POST /admin/v1/alerts/{id}/case, scope alerts:write).
func (c *Client) InvestigateAlert(ctx context.Context, alertID string) (string, error) {
	var out struct {
		CaseID string `json:"case_id"`
	}
	_, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/alerts/%s/case", alertID), retry: true}, &out)
	return out.CaseID, err
}

// --- users ---

// UserState is a user's security state as staff see it.
type UserState struct {
	ID                  string     `json:"id"`
	Email               string     `json:"email"`
	EmailVerified       bool       `json:"email_verified"`
	CreatedAt           time.Time  `json:"created_at"`
	MFAEnabled          bool       `json:"mfa_enabled"`
	VerificationTier    int        `json:"verification_tier"`
	Frozen              bool       `json:"frozen"`
	FrozenAt            *time.Time `json:"frozen_at"`
	FrozenReason        string     `json:"frozen_reason"`
	SecurityChangedAt   *time.Time `json:"security_changed_at"`
	AntiPhishingCodeSet bool       `json:"anti_phishing_code_set"`
	// Restrictions are the kinds restricted now.
	Restrictions []string         `json:"restrictions"`
	Sessions     []SessionInfo    `json:"sessions"`
	RecentEvents []ActivityRecord `json:"recent_events"`
	Devices      []Device         `json:"devices"`
	RecentLogins []LoginRecord    `json:"recent_logins"`
}

// SessionInfo is one live session.
type SessionInfo struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	AAL        string    `json:"aal"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// ActivityRecord is one security event of a user.
type ActivityRecord struct {
	At        time.Time      `json:"at"`
	Action    string         `json:"action"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	Details   map[string]any `json:"details"`
}

// Device is a browser or app that logged in to the account.
type Device struct {
	ID          string     `json:"id"`
	Summary     string     `json:"summary"`
	UserAgent   string     `json:"user_agent"`
	Current     bool       `json:"current"`
	Trusted     bool       `json:"trusted"`
	TrustedAt   *time.Time `json:"trusted_at"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	LastSeenAt  time.Time  `json:"last_seen_at"`
	LastIP      string     `json:"last_ip"`
	LastPlace   string     `json:"last_place"`
}

// LoginRecord is one login attempt and the risk decision on it.
type LoginRecord struct {
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"`
	Reasons  []string  `json:"reasons"`
	Score    int       `json:"score"`
	IP       string    `json:"ip"`
	DeviceID string    `json:"device_id"`
	Country  string    `json:"country"`
	City     string    `json:"city"`
}

// GetUser shows a user's security state (GET /admin/v1/users/{id}, scope users:read).
func (c *Client) GetUser(ctx context.Context, id string) (*UserState, error) {
	var out UserState
	if _, err := c.admin(ctx, call{method: "GET", path: pathf("/admin/v1/users/%s", id), retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FindUserByEmail looks a user up by email, case-insensitively
// (GET /admin/v1/users?email=, scope users:read). No such user is an error
// matching ErrNotFound.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (*UserState, error) {
	var out struct {
		Users []UserState `json:"users"`
	}
	if _, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/users", query: url.Values{"email": {email}}, retry: true}, &out); err != nil {
		return nil, err
	}
	if len(out.Users) == 0 {
		return nil, fmt.Errorf("warden: no user with email %q: %w", email, ErrNotFound)
	}
	return &out.Users[0], nil
}

// Restriction kinds.
const (
	RestrictWithdrawals = "withdrawals"
	RestrictLogin       = "login"
	RestrictTrading     = "trading"
)

// Restriction pauses withdrawals, logins or trading on an account.
type Restriction struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	// Source is who set it: admin_key:<id>, staff:<id>, or a rule.
	Source    string     `json:"source"`
	LiftOn    string     `json:"lift_on"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	LiftedAt  *time.Time `json:"lifted_at"`
	LiftedBy  string     `json:"lifted_by"`
}

// NewRestriction is what Restrict asks for.
type NewRestriction struct {
	// Kind is RestrictWithdrawals, RestrictLogin or RestrictTrading.
	Kind   string
	Reason string
	// ExpiresAt, when not zero, ends it (a time in the future).
	ExpiresAt time.Time
	// LiftOnVerification ends it when an identity verification is approved.
	LiftOnVerification bool
}

// Restrict restricts a user; they are emailed and the platform gets
// account.restricted (POST /admin/v1/users/{id}/restrictions, scope
// users:write). Not retried: a repeat would add a second restriction.
func (c *Client) Restrict(ctx context.Context, userID string, r NewRestriction) (*Restriction, error) {
	body := map[string]string{"kind": r.Kind, "reason": r.Reason}
	if !r.ExpiresAt.IsZero() {
		body["expires_at"] = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if r.LiftOnVerification {
		body["lift_on"] = "verification"
	}
	var out Restriction
	if _, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/users/%s/restrictions", userID), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Restrictions lists the restrictions in force on a user
// (GET /admin/v1/users/{id}/restrictions, scope users:read).
func (c *Client) Restrictions(ctx context.Context, userID string) ([]Restriction, error) {
	var out struct {
		Restrictions []Restriction `json:"restrictions"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: pathf("/admin/v1/users/%s/restrictions", userID), retry: true}, &out)
	return out.Restrictions, err
}

// LiftRestriction ends a restriction at once
// (DELETE /admin/v1/users/{id}/restrictions/{rid}, scope users:write).
func (c *Client) LiftRestriction(ctx context.Context, userID, restrictionID string) error {
	_, err := c.admin(ctx, call{method: "DELETE", path: pathf("/admin/v1/users/%s/restrictions/%s", userID, restrictionID)}, nil)
	return err
}

// Unfreeze lifts a freeze after the owner's identity was re-verified;
// reason (5 to 500 characters) says how, and the withdrawal cooldown starts
// (POST /admin/v1/users/{id}/unfreeze, scope users:write). Warden's admin
// API has no freeze: users freeze their own account ("this wasn't me"),
// and rules with the freeze action do; Restrict pauses logins or withdrawals.
func (c *Client) Unfreeze(ctx context.Context, userID, reason string) error {
	_, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/users/%s/unfreeze", userID),
		body: map[string]string{"reason": reason}}, nil)
	return err
}

// --- webhooks ---

// Webhook event types.
const (
	EventWithdrawalApproved   = "withdrawal.approved"
	EventWithdrawalRejected   = "withdrawal.rejected"
	EventAccountFrozen        = "account.frozen"
	EventAccountRestricted    = "account.restricted"
	EventAlertCreated         = "alert.created"
	EventVerificationApproved = "verification.approved"
	EventVerificationRejected = "verification.rejected"
	EventLoginSuspicious      = "login.suspicious"
	EventWebhookTest          = "webhook.test"
)

// WebhookEndpoint is an endpoint Warden posts events to.
type WebhookEndpoint struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	CreatedAt   time.Time `json:"created_at"`
	// Secret (whsec_…) is in CreateWebhook's answer only: keep it to
	// verify the deliveries (VerifyWebhook).
	Secret string `json:"secret"`
}

// CreateWebhook adds an endpoint for the event types (the Event…
// constants, or "*" for all) (POST /admin/v1/webhooks, scope webhooks:write).
func (c *Client) CreateWebhook(ctx context.Context, endpointURL, description string, eventTypes ...string) (*WebhookEndpoint, error) {
	body := map[string]any{"url": endpointURL, "event_types": eventTypes}
	if description != "" {
		body["description"] = description
	}
	var out WebhookEndpoint
	if _, err := c.admin(ctx, call{method: "POST", path: "/admin/v1/webhooks", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhooks lists the endpoints (GET /admin/v1/webhooks, scope webhooks:write).
func (c *Client) ListWebhooks(ctx context.Context) ([]WebhookEndpoint, error) {
	var out struct {
		Endpoints []WebhookEndpoint `json:"endpoints"`
	}
	_, err := c.admin(ctx, call{method: "GET", path: "/admin/v1/webhooks", retry: true}, &out)
	return out.Endpoints, err
}

// DeleteWebhook removes an endpoint (DELETE /admin/v1/webhooks/{id}, scope webhooks:write).
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.admin(ctx, call{method: "DELETE", path: pathf("/admin/v1/webhooks/%s", id)}, nil)
	return err
}

// TestWebhook queues a signed webhook.test event to an endpoint
// (POST /admin/v1/webhooks/{id}/test, scope webhooks:write).
func (c *Client) TestWebhook(ctx context.Context, id string) error {
	_, err := c.admin(ctx, call{method: "POST", path: pathf("/admin/v1/webhooks/%s/test", id)}, nil)
	return err
}
