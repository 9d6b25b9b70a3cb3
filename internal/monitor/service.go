package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/session"
)

// Sources of events.
const (
	SourceWarden   = "warden"
	SourcePlatform = "platform"
)

// StoredEvent is an event as kept: the rules' view plus what was given.
type StoredEvent struct {
	Event
	// AmountText is the amount as the platform sent it; ValueMinor the
	// reference value in the currency's smallest unit.
	AmountText string
	ValueMinor int64
	Source     string
	ReceivedAt time.Time
	Evaluated  bool
}

// Alert is a rule that fired.
type Alert struct {
	ID          string
	RuleID      string
	RuleVersion int
	EventID     string
	EventType   string
	UserID      string
	Action      string
	Severity    string
	Mode        string
	Description string
	Aggregates  map[string]any
	Context     map[string]any
	Status      string // open, resolved
	Resolution  string // true_positive, false_positive
	Note        string
	ResolvedBy  string
	CreatedAt   time.Time
	ResolvedAt  time.Time
	// CaseID is the alerts case it joined, "" while it is in none.
	CaseID string
}

// Alert statuses and resolutions.
const (
	AlertOpen          = "open"
	AlertResolved      = "resolved"
	TruePositive       = cases.ResolutionTruePositive
	FalsePositive      = cases.ResolutionFalsePositive
	ruleSetCacheWindow = time.Second
)

// AlertFilter selects alerts, newest first.
type AlertFilter struct {
	Status, UserID, RuleID, CaseID string
	Since                          time.Time
	Limit                          int
}

// RuleSetVersion is one stored version of the rules.
type RuleSetVersion struct {
	Version   int
	Source    string
	CreatedAt time.Time
	CreatedBy string
}

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	account.Tx
	// InsertEvents stores events, skipping ids already stored; it returns
	// how many were new.
	InsertEvents(ctx context.Context, events []StoredEvent) (int, error)
	// UserIDsExisting returns which of ids are user accounts.
	UserIDsExisting(ctx context.Context, ids []string) (map[string]bool, error)
	PendingEvents(ctx context.Context, limit int) ([]StoredEvent, error)
	// ClaimEvents marks events evaluated and returns those this call
	// claimed (not another node).
	ClaimEvents(ctx context.Context, ids []string) (map[string]bool, error)
	// EachEvent streams the events that occurred in [from, to), in time order.
	EachEvent(ctx context.Context, from, to time.Time, fn func(StoredEvent) error) error
	CountEvents(ctx context.Context, from, to time.Time) (int, error)
	// UserEvents lists a user's events of each type since its time in
	// since, up to to, oldest first, with what aggregates read (no attributes).
	UserEvents(ctx context.Context, userID string, since map[string]time.Time, to time.Time) ([]StoredEvent, error)
	InsertAlert(ctx context.Context, a Alert) error
	UpdateAlert(ctx context.Context, id string, fn func(old Alert) (Alert, error)) (Alert, error)
	Alerts(ctx context.Context, f AlertFilter) ([]Alert, error)
	AlertByID(ctx context.Context, id string) (Alert, error)
	LatestRuleSet(ctx context.Context) (RuleSetVersion, error)
	InsertRuleSet(ctx context.Context, v RuleSetVersion) error
	DevicesOf(ctx context.Context, accountID string) ([]session.Device, error)

	// What grouping alerts into cases needs (investigation.go).
	Lock(ctx context.Context, subject string) error
	OpenCaseOf(ctx context.Context, accountID, kind string) (cases.Case, error)
	InsertCase(ctx context.Context, c cases.Case) error
	OpenAlertsOutsideCases(ctx context.Context, userID string) ([]Alert, error)
}

// Actor carries out a rule's action on an account, in the rule's
// transaction: restrict withdrawals until verification, or freeze. Each
// returns the sessions whose cached copies it outdated.
type Actor interface {
	Restrict(ctx context.Context, tx Tx, accountID, reason string, now time.Time) ([]string, error)
	Freeze(ctx context.Context, tx Tx, accountID, reason string, now time.Time) ([]string, error)
}

// Service runs the rules over events.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	Accounts *account.Service
	Actor    Actor
	// Currency is the reference currency: rules see values in its whole units.
	Currency money.Currency
	// SyncTimeout bounds a withdrawal's evaluation; past it the withdrawal
	// is held.
	SyncTimeout time.Duration
	Now         func() time.Time

	mu      sync.Mutex
	rules   []Compiled
	version int
	checked time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// Rules returns the rules in force, re-reading the newest version at most
// once a second so every node follows a change.
func (s *Service) Rules(ctx context.Context) ([]Compiled, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rules != nil && time.Since(s.checked) < ruleSetCacheWindow {
		return s.rules, s.version, nil
	}
	var v RuleSetVersion
	err := s.View(ctx, func(tx Tx) error {
		var err error
		v, err = tx.LatestRuleSet(ctx)
		return err
	})
	if isNotFound(err) {
		v, err = RuleSetVersion{Version: 0, Source: string(DefaultRules())}, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read rules: %w", err)
	}
	if s.rules == nil || v.Version != s.version {
		rs, err := ParseRules([]byte(v.Source))
		if err != nil {
			return nil, 0, err
		}
		compiled, err := Compile(rs)
		if err != nil {
			return nil, 0, fmt.Errorf("rules version %d: %w", v.Version, err)
		}
		s.rules, s.version = compiled, v.Version
	}
	s.checked = time.Now()
	return s.rules, s.version, nil
}

// RuleSet reads the rules in force as written, with their version.
func (s *Service) RuleSet(ctx context.Context) (RuleSetVersion, error) {
	var v RuleSetVersion
	err := s.View(ctx, func(tx Tx) error {
		var err error
		v, err = tx.LatestRuleSet(ctx)
		return err
	})
	if isNotFound(err) {
		return RuleSetVersion{Version: 0, Source: string(DefaultRules()), CreatedBy: "default"}, nil
	}
	return v, err
}

// PutRules checks a rules file and makes it the next version; a bad file
// changes nothing (the running set stays) and says what is wrong where.
func (s *Service) PutRules(ctx context.Context, source []byte, m account.Meta) (RuleSetVersion, error) {
	rs, err := ParseRules(source)
	if err != nil {
		return RuleSetVersion{}, err
	}
	compiled, err := Compile(rs)
	if err != nil {
		return RuleSetVersion{}, err
	}
	now := s.now()
	var v RuleSetVersion
	err = s.Transact(ctx, func(tx Tx) error {
		prev, err := tx.LatestRuleSet(ctx)
		if err != nil && !isNotFound(err) {
			return err
		}
		v = RuleSetVersion{Version: prev.Version + 1, Source: string(source), CreatedAt: now, CreatedBy: m.Actor}
		if err := tx.InsertRuleSet(ctx, v); err != nil {
			return err
		}
		// From the compiled rules, which carry the defaults (a rule that
		// names no mode is active).
		ids := make([]string, len(compiled))
		for i, r := range compiled {
			ids[i] = r.ID + ":" + r.Mode + ":" + r.Action
		}
		_, err = audit.Append(ctx, tx, now, audit.Entry{Actor: m.Actor, Action: "rules.updated", IP: m.IP, RequestID: m.RequestID,
			Data: map[string]any{"version": v.Version, "rules": ids}})
		return err
	})
	if err == nil {
		s.mu.Lock()
		s.checked = time.Time{} // read the new version at once
		s.mu.Unlock()
	}
	return v, err
}

// EventInput is one of the platform's events as posted.
type EventInput struct {
	ID             string
	UserID         string
	Type           string
	Asset          string
	Amount         string
	ReferenceValue string
	OccurredAt     time.Time
	Attributes     map[string]any
}

// FieldError is one invalid field of an event batch.
type FieldError struct{ Field, Code, Detail string }

// BatchError lists what is wrong with a batch; nothing of it was stored.
type BatchError struct{ Fields []FieldError }

func (e *BatchError) Error() string {
	return fmt.Sprintf("event batch refused: %d problems", len(e.Fields))
}

// MaxBatch is the most events one call may carry.
const MaxBatch = 1000

// ErrBatchTooLarge is a batch over MaxBatch.
var ErrBatchTooLarge = fmt.Errorf("at most %d events a batch", MaxBatch)

var (
	eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,200}$`)
	assetPattern   = regexp.MustCompile(`^[A-Z0-9]{1,12}$`)
)

// IngestResult says what a batch did.
type IngestResult struct {
	Accepted   int // new events stored
	Duplicates int // ids already stored (a retried batch)
}

// Ingest stores a batch of the platform's events, all or nothing: every
// event is checked first. Ids already stored are skipped, so a retried
// batch does nothing twice. The rules look at them as they are evaluated
// (EvaluatePending).
func (s *Service) Ingest(ctx context.Context, in []EventInput) (IngestResult, error) {
	if len(in) > MaxBatch {
		return IngestResult{}, ErrBatchTooLarge
	}
	now := s.now()
	var fields []FieldError
	bad := func(i int, field, code, detail string) {
		fields = append(fields, FieldError{fmt.Sprintf("events[%d].%s", i, field), code, detail})
	}
	seen := map[string]bool{}
	users := map[string]bool{}
	events := make([]StoredEvent, 0, len(in))
	for i, e := range in {
		if !eventIDPattern.MatchString(e.ID) {
			bad(i, "id", "invalid", "1 to 200 of letters, digits and . _ : -")
		} else if seen[e.ID] {
			bad(i, "id", "duplicate", "the same id appears twice in this batch")
		}
		seen[e.ID] = true
		if e.UserID == "" {
			bad(i, "user_id", "required", "the user the event belongs to")
		}
		users[e.UserID] = true
		if !validEventType(e.Type) {
			bad(i, "type", "invalid", "lower case letters and _, such as deposit, trade, transfer")
		}
		if e.Asset != "" && !assetPattern.MatchString(e.Asset) {
			bad(i, "asset", "invalid", "an asset code such as BTC")
		}
		var amount float64
		if e.Amount != "" {
			v, err := money.ParseUnits(e.Amount, 18)
			if err != nil {
				bad(i, "amount", "invalid", err.Error())
			} else {
				amount, _ = new(big.Float).Quo(new(big.Float).SetInt(v), big.NewFloat(1e18)).Float64()
			}
		}
		var value int64
		if e.ReferenceValue != "" {
			v, err := money.Parse(e.ReferenceValue, s.Currency.Decimals)
			if err != nil {
				bad(i, "reference_value", "invalid", err.Error())
			}
			value = v
		}
		switch {
		case e.OccurredAt.IsZero():
			bad(i, "occurred_at", "required", "when it happened, RFC 3339")
		case e.OccurredAt.After(now.Add(5 * time.Minute)):
			bad(i, "occurred_at", "in_future", "more than 5 minutes ahead of this server's clock")
		case e.OccurredAt.Before(now.Add(-5 * 365 * 24 * time.Hour)):
			bad(i, "occurred_at", "too_old", "more than 5 years ago")
		}
		if b, err := json.Marshal(e.Attributes); err != nil || len(b) > 4096 {
			bad(i, "attributes", "too_large", "a JSON object of at most 4 KiB")
		}
		events = append(events, StoredEvent{
			Event: Event{ID: e.ID, UserID: e.UserID, Type: e.Type, Asset: e.Asset, Amount: amount,
				Value: s.units(value), OccurredAt: e.OccurredAt.UTC().Truncate(time.Microsecond), Attributes: e.Attributes},
			AmountText: e.Amount, ValueMinor: value, Source: SourcePlatform, ReceivedAt: now,
		})
	}
	var res IngestResult
	err := s.Transact(ctx, func(tx Tx) error {
		ids := make([]string, 0, len(users))
		for u := range users {
			if u != "" {
				ids = append(ids, u)
			}
		}
		existing, err := tx.UserIDsExisting(ctx, ids)
		if err != nil {
			return err
		}
		for i, e := range in {
			if e.UserID != "" && !existing[e.UserID] {
				bad(i, "user_id", "unknown_user", "no user with this id")
			}
		}
		if len(fields) > 0 {
			return &BatchError{Fields: fields}
		}
		n, err := tx.InsertEvents(ctx, events)
		res = IngestResult{Accepted: n, Duplicates: len(events) - n}
		return err
	})
	return res, err
}

// rulesView fills the rules' fields of a stored event: the value in whole
// units of the reference currency, the amount as a float.
func (s *Service) rulesView(e StoredEvent) Event {
	e.Value = s.units(e.ValueMinor)
	if e.AmountText != "" {
		e.Amount, _ = strconv.ParseFloat(e.AmountText, 64)
	}
	return e.Event
}

// units turns a value in the smallest unit into whole units for rules.
func (s *Service) units(minor int64) float64 {
	return float64(minor) / math.Pow10(s.Currency.Decimals)
}

// userHistory loads, in one query, the user's events that the rules'
// aggregates can read (the types they name, each back to its longest window),
// so an evaluation costs one round trip whatever the number of rules, and
// its cost follows the user's recent events, not the whole history.
func (s *Service) userHistory(ctx context.Context, tx Tx, e Event, reads map[string]time.Duration) (*Memory, error) {
	mem := NewMemory()
	if len(reads) == 0 {
		return mem, nil
	}
	since := make(map[string]time.Time, len(reads))
	for t, d := range reads {
		since[t] = e.OccurredAt.Add(-d)
	}
	past, err := tx.UserEvents(ctx, e.UserID, since, e.OccurredAt)
	if err != nil {
		return nil, err
	}
	for _, p := range past {
		mem.Add(s.rulesView(p))
	}
	return mem, nil
}

// UserOf builds the rules' view of an account at now.
func UserOf(ctx context.Context, tx Tx, accountID string, now time.Time) (User, error) {
	a, err := tx.AccountByID(ctx, accountID)
	if err != nil {
		return User{}, err
	}
	devices, err := tx.DevicesOf(ctx, accountID)
	if err != nil {
		return User{}, err
	}
	since := func(t time.Time) float64 {
		if t.IsZero() {
			return Never
		}
		return now.Sub(t).Hours()
	}
	u := User{ID: a.ID, Tier: a.VerificationTier, AccountAgeDays: now.Sub(a.CreatedAt).Hours() / 24, Devices: len(devices),
		MFAEnabled: a.MFAEnabled, HoursSincePasswordChange: since(a.PasswordChangedAt), HoursSinceMFAChange: since(a.MFAChangedAt),
		HoursSinceNewDevice: Never}
	var newest time.Time
	for _, d := range devices {
		if d.FirstSeenAt.After(newest) {
			newest = d.FirstSeenAt
		}
	}
	if len(devices) > 0 {
		u.HoursSinceNewDevice = since(newest)
	}
	return u, nil
}

// evaluate runs the rules over one event in tx, records an alert per hit,
// and carries out the strongest active action. It returns the outcome and
// the sessions the action outdated.
func (s *Service) evaluate(ctx context.Context, tx Tx, e Event, now time.Time) (Outcome, []string, error) {
	all, version, err := s.Rules(ctx)
	if err != nil {
		return Outcome{}, nil, err
	}
	rules := Listening(all, e.Type)
	if len(rules) == 0 {
		return Outcome{}, nil, nil // most platform events: nothing to read
	}
	u, err := UserOf(ctx, tx, e.UserID, now)
	if err != nil {
		return Outcome{}, nil, err
	}
	agg, err := s.userHistory(ctx, tx, e, Reads(rules))
	if err != nil {
		return Outcome{}, nil, err
	}
	ectx := ctx
	if s.SyncTimeout > 0 {
		// Only the rules (CPU, no database) stop at the limit; see ReviewWithdrawal.
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, s.SyncTimeout)
		defer cancel()
	}
	out := Evaluate(ectx, rules, e, u, agg)
	caseID, err := caseFor(ctx, tx, e.UserID, out.Hits, now)
	if err != nil {
		return out, nil, err
	}
	for _, h := range out.Hits {
		a := Alert{ID: id.New("alr"), RuleID: h.Rule.ID, RuleVersion: version, EventID: e.ID, EventType: e.Type, UserID: e.UserID,
			Action: h.Rule.Action, Severity: h.Rule.Severity, Mode: h.Rule.Mode, Description: h.Rule.Description,
			Aggregates: h.Values, Context: map[string]any{"event": eventMap(e), "user": u}, Status: AlertOpen, CreatedAt: now}
		if h.Rule.Mode == ModeActive {
			a.CaseID = caseID
		}
		if err := tx.InsertAlert(ctx, a); err != nil {
			return out, nil, err
		}
		if h.Rule.Mode != ModeActive {
			continue
		}
		if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "alert.created", map[string]any{
			"alert_id": a.ID, "rule_id": a.RuleID, "user_id": a.UserID, "event_id": a.EventID, "action": a.Action,
			"severity": a.Severity, "created_at": now,
		}); err != nil {
			return out, nil, err
		}
	}
	reason := "monitoring rule " + strings.Join(ruleIDs(out.Hits), ", ")
	var stale []string
	switch out.Action() {
	case ActionFreeze:
		stale, err = s.Actor.Freeze(ctx, tx, e.UserID, reason, now)
	case ActionRestrict:
		stale, err = s.Actor.Restrict(ctx, tx, e.UserID, reason, now)
	}
	return out, stale, err
}

func ruleIDs(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		if h.Rule.Mode == ModeActive {
			out = append(out, h.Rule.ID)
		}
	}
	return out
}

// ReviewWithdrawal evaluates a withdrawal request before its answer, in the
// request's transaction. Any active hit holds it (hold, restrict and freeze
// all stop the money); a rule that could not be evaluated, or running out
// of time, holds it too.
func (s *Service) ReviewWithdrawal(ctx context.Context, tx Tx, e Event) (bool, []string, error) {
	// The time limit is not put on the context: the reads run in the
	// request's own transaction, and a query cancelled half-way would break
	// it (PostgreSQL aborts the transaction, SQLite interrupts it). The
	// rules' evaluation itself stops at the limit, and an evaluation that
	// ran past it holds the withdrawal.
	started := time.Now()
	// The caller's commit tells the caches (AfterCommit) about the account
	// it changed; a restriction or freeze here refreshes its sessions.
	out, _, err := s.evaluate(ctx, tx, e, s.now())
	if err != nil {
		return true, nil, err
	}
	reasons := ruleIDs(out.Hits)
	if s.SyncTimeout > 0 && time.Since(started) > s.SyncTimeout {
		reasons = append(reasons, "monitoring_timeout")
		return true, reasons, nil
	}
	hold := false
	for _, h := range out.Hits {
		if h.Rule.Mode == ModeActive && Stronger(h.Rule.Action, ActionAlert) {
			hold = true
		}
	}
	if len(out.Errors) > 0 {
		hold = true
		reasons = append(reasons, "monitoring_unavailable")
	}
	return hold, reasons, nil
}

// EvaluatePending runs the rules over events not evaluated yet, oldest
// first, up to limit, in one transaction; every node may run it (each event
// is claimed once). It returns how many it evaluated. When the batch fails,
// its events are tried one by one, and one that still fails is set aside
// with an alert for staff, so it cannot hold up the events after it.
func (s *Service) EvaluatePending(ctx context.Context, limit int) (int, error) {
	var pending []StoredEvent
	if err := s.View(ctx, func(tx Tx) error {
		var err error
		pending, err = tx.PendingEvents(ctx, limit)
		return err
	}); err != nil || len(pending) == 0 {
		return 0, err
	}
	done, err := s.evaluateBatch(ctx, pending)
	if err == nil || ctx.Err() != nil {
		return done, err
	}
	done = 0
	for _, e := range pending {
		n, err := s.evaluateBatch(ctx, []StoredEvent{e})
		if err != nil && ctx.Err() == nil {
			err = s.setAside(ctx, e, err)
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// evaluateBatch claims and evaluates events in one transaction.
func (s *Service) evaluateBatch(ctx context.Context, events []StoredEvent) (int, error) {
	done := 0
	var stale []string
	err := s.Transact(ctx, func(tx Tx) error {
		done, stale = 0, nil
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		claimed, err := tx.ClaimEvents(ctx, ids)
		if err != nil {
			return err
		}
		for _, e := range events {
			if !claimed[e.ID] {
				continue
			}
			_, hashes, err := s.evaluate(ctx, tx, s.rulesView(e), s.now())
			if err != nil {
				return fmt.Errorf("evaluate event %s: %w", e.ID, err)
			}
			stale = append(stale, hashes...)
			done++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.Accounts.AfterCommit(stale)
	return done, nil
}

// setAside claims an event that cannot be evaluated and raises an alert
// saying so: staff look at it instead of the rules.
func (s *Service) setAside(ctx context.Context, e StoredEvent, cause error) error {
	now := s.now()
	return s.Transact(ctx, func(tx Tx) error {
		claimed, err := tx.ClaimEvents(ctx, []string{e.ID})
		if err != nil || !claimed[e.ID] {
			return err
		}
		return tx.InsertAlert(ctx, Alert{ID: id.New("alr"), RuleID: "monitoring_error", EventID: e.ID, EventType: e.Type, UserID: e.UserID,
			Action: ActionAlert, Severity: "high", Mode: ModeActive, Description: "The rules could not evaluate this event: " + cause.Error(),
			Status: AlertOpen, CreatedAt: now})
	})
}

// Alert reads one alert; ErrNoAlert when there is none.
func (s *Service) Alert(ctx context.Context, alertID string) (Alert, error) {
	var a Alert
	err := s.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.AlertByID(ctx, alertID)
		return err
	})
	if isNotFound(err) {
		return Alert{}, ErrNoAlert
	}
	return a, err
}

// ListAlerts lists alerts, newest first.
func (s *Service) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	var out []Alert
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Alerts(ctx, f)
		return err
	})
	return out, err
}

// Errors of alert handling.
var (
	ErrNoAlert         = errors.New("no such alert")
	ErrAlertResolved   = errors.New("alert already resolved")
	ErrBadResolution   = errors.New("resolution must be true_positive or false_positive")
	ErrResolutionNoted = errors.New("a resolution needs a note")
)

// ResolveAlert closes an alert as a true or false positive, with a note.
func (s *Service) ResolveAlert(ctx context.Context, alertID, resolution, note string, m account.Meta) (Alert, error) {
	if resolution != TruePositive && resolution != FalsePositive {
		return Alert{}, ErrBadResolution
	}
	if note = strings.TrimSpace(note); note == "" || utf8.RuneCountInString(note) > 2000 {
		return Alert{}, ErrResolutionNoted
	}
	now := s.now()
	var a Alert
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		a, err = tx.UpdateAlert(ctx, alertID, func(old Alert) (Alert, error) {
			if old.Status == AlertResolved {
				return old, ErrAlertResolved
			}
			old.Status, old.Resolution, old.Note, old.ResolvedBy, old.ResolvedAt = AlertResolved, resolution, note, m.Actor, now
			return old, nil
		})
		if isNotFound(err) {
			return ErrNoAlert
		}
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Entry{Actor: m.Actor, Action: "alert.resolved", UserID: a.UserID, IP: m.IP,
			RequestID: m.RequestID, Data: map[string]any{"alert_id": a.ID, "rule_id": a.RuleID, "resolution": resolution, "note": note}})
		return err
	})
	return a, err
}

// eventTypes maps recorded actions to the event types rules look at.
var eventTypes = map[string]string{
	"session.created":                     "login_succeeded",
	"login.failed":                        "login_failed",
	"login.challenged":                    "login_challenged",
	"login.device_confirmed":              "new_device",
	"password.changed":                    "password_changed",
	"password.reset":                      "password_changed",
	"mfa.totp_disabled":                   "mfa_changed",
	"mfa.passkey_removed":                 "mfa_changed",
	"mfa_reset.completed":                 "mfa_changed",
	"address.added":                       "address_added",
	"withdrawal.requested":                "withdrawal_requested",
	"withdrawal.confirmed":                "withdrawal_confirmed",
	"withdrawal.confirmation_failed":      "withdrawal_confirmation_failed",
	"verification.submitted":              "verification_changed",
	"verification.approved":               "verification_changed",
	"verification.rejected":               "verification_changed",
	"verification.resubmission_requested": "verification_changed",
}

// ObserveAction turns a user's recorded action into an event, in the
// action's transaction (account.Service.Observe). A withdrawal request was
// evaluated before its answer: its event, named by the withdrawal's id, is
// stored as evaluated.
func ObserveAction(ctx context.Context, tx Tx, a account.Account, action string, now time.Time, data map[string]any) error {
	typ, ok := eventTypes[action]
	if !ok || a.Realm != account.RealmUser {
		return nil
	}
	e := StoredEvent{Event: Event{ID: id.New("evt"), UserID: a.ID, Type: typ, OccurredAt: now, Attributes: map[string]any{}},
		Source: SourceWarden, ReceivedAt: now}
	for _, k := range []string{"reason", "asset", "network", "withdrawal_id", "address_id"} {
		if v, ok := data[k]; ok {
			e.Attributes[k] = v
		}
	}
	if typ == "withdrawal_requested" {
		if wid, ok := data["withdrawal_id"].(string); ok {
			e.ID = wid
		}
		if v, ok := data["value_minor"].(int64); ok {
			e.ValueMinor = v
		}
		if asset, ok := data["asset"].(string); ok {
			e.Asset = asset
		}
		e.Evaluated = true
	}
	_, err := tx.InsertEvents(ctx, []StoredEvent{e})
	return err
}
