package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// The store satisfies what the monitoring service needs.
var _ monitor.Tx = (*store.Tx)(nil)

var monNow = time.Date(2031, time.November, 12, 13, 14, 15, 246813000, time.UTC)

// monAt is monNow moved by seconds.
func monAt(seconds int) time.Time { return monNow.Add(time.Duration(seconds) * time.Second) }

// monEvent is an event of the user and type at occurred, worth value (in
// the smallest unit) and amount (as given).
func monEvent(eventID, userID, eventType string, occurred time.Time, value int64, amount string) monitor.StoredEvent {
	return monitor.StoredEvent{
		Event:      monitor.Event{ID: eventID, UserID: userID, Type: eventType, Asset: "BTC", OccurredAt: occurred},
		AmountText: amount, ValueMinor: value, Source: monitor.SourcePlatform, ReceivedAt: monNow,
	}
}

// insertEvents stores events in one transaction and returns how many were new.
func insertEvents(t *testing.T, s *store.Store, events ...monitor.StoredEvent) int {
	t.Helper()
	n, err := writeTx(s, func(tx *store.Tx) (int, error) { return tx.InsertEvents(context.Background(), events) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// allEvents reads every event through EachEvent.
// replayed is what a replay (EachEvent) reads of an event: not the
// bookkeeping (source, received_at, evaluated).
func replayed(events ...monitor.StoredEvent) []monitor.StoredEvent {
	out := make([]monitor.StoredEvent, len(events))
	for i, e := range events {
		e.Source, e.ReceivedAt, e.Evaluated = "", time.Time{}, false
		out[i] = e
	}
	return out
}

func allEvents(t *testing.T, s *store.Store) []monitor.StoredEvent {
	t.Helper()
	out, err := readTx(t, s, func(tx *store.Tx) ([]monitor.StoredEvent, error) {
		var out []monitor.StoredEvent
		err := tx.EachEvent(context.Background(), time.Time{}, monAt(1e6), func(e monitor.StoredEvent) error {
			out = append(out, e)
			return nil
		})
		return out, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventIDs(events []monitor.StoredEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestEventRoundTripAndIdempotentInsert(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		full := monitor.StoredEvent{
			Event: monitor.Event{ID: "evt:full-1", UserID: a.ID, Type: "withdrawal_requested", Asset: "ETH", OccurredAt: monAt(-60),
				Attributes: map[string]any{"ip": "203.0.113.7", "new_address": true, "score": 0.25, "count": float64(3),
					"tags": []any{"x", "y"}, "nested": map[string]any{"k": "v"}, "quote": `a "b" \ c`}},
			AmountText: "1.000000000000000001", ValueMinor: 123456789, Source: monitor.SourceWarden, ReceivedAt: monAt(1), Evaluated: true,
		}
		// Zero times and no attributes come back as they went in.
		bare := monitor.StoredEvent{Event: monitor.Event{ID: "evt_bare", UserID: b.ID, Type: "deposit"}, Source: monitor.SourcePlatform}
		emptyAttrs := monEvent("evt_empty", a.ID, "trade", monAt(0), 0, "")
		emptyAttrs.Attributes = map[string]any{}
		if n := insertEvents(t, s, full, bare, emptyAttrs); n != 3 {
			t.Errorf("first insert: %d new, want 3", n)
		}
		emptyAttrs.Attributes = nil // stored as {}, read back as none
		if got, want := allEvents(t, s), replayed(bare, full, emptyAttrs); !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		// The bookkeeping comes back through the queue.
		pending, err := readTx(t, s, func(tx *store.Tx) ([]monitor.StoredEvent, error) { return tx.PendingEvents(ctx, 10) })
		if want := []monitor.StoredEvent{bare, emptyAttrs}; err != nil || !reflect.DeepEqual(pending, want) {
			t.Errorf("pending:\n got %+v\nwant %+v", pending, want)
		}

		// A retried batch adds nothing; a batch that crosses chunks (20 or 100
		// events a statement) counts only its new events, and an id twice
		// in one batch once.
		if n := insertEvents(t, s, full, bare); n != 0 {
			t.Errorf("retried batch: %d new, want 0", n)
		}
		var batch []monitor.StoredEvent
		for i := range 250 {
			batch = append(batch, monEvent(fmt.Sprintf("evt_%03d", i), a.ID, "trade", monAt(i), int64(i), "1"))
		}
		if n := insertEvents(t, s, batch[:120]...); n != 120 {
			t.Errorf("first 120: %d new, want 120", n)
		}
		again := append(slices.Clone(batch), full, batch[200], bare)
		if n := insertEvents(t, s, again...); n != 130 {
			t.Errorf("overlapping batch of %d: %d new, want 130", len(again), n)
		}
		if n := insertEvents(t, s); n != 0 {
			t.Errorf("empty batch: %d new", n)
		}
		// The retried event kept what was stored first.
		changed := full
		changed.ValueMinor, changed.Evaluated = 1, false
		insertEvents(t, s, changed)
		if got := allEvents(t, s); len(got) != 253 || !reflect.DeepEqual(got[1], replayed(full)[0]) {
			t.Errorf("after retries: %d events, full = %+v", len(got), got[1])
		}

		// An unknown user is refused, and nothing of its batch stays.
		err = writeErr(s, func(tx *store.Tx) error {
			_, err := tx.InsertEvents(ctx, []monitor.StoredEvent{monEvent("evt_new", a.ID, "trade", monNow, 0, ""),
				monEvent("evt_orphan", "usr_missing", "trade", monNow, 0, "")})
			return err
		})
		if err == nil {
			t.Error("event of an unknown user stored")
		}
		if n, _ := readTx(t, s, func(tx *store.Tx) (int, error) { return tx.CountEvents(ctx, time.Time{}, monAt(1e6)) }); n != 253 {
			t.Errorf("after the refused batch: %d events, want 253", n)
		}
	})
}

func TestUserIDsExisting(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		staff := account.Account{ID: id.New("stf"), Realm: account.RealmStaff, Email: "ops@example.com", EmailKey: "ops@example.com",
			PasswordHash: "$argon2id$unused", CreatedAt: monNow}
		write(t, s, func(tx *store.Tx) error { return tx.InsertAccount(ctx, staff) })
		// More ids than one query asks about (500), the users' at both ends.
		ids := []string{a.ID, staff.ID, "usr_missing"}
		for i := range 1100 {
			ids = append(ids, fmt.Sprintf("usr_none_%d", i))
		}
		ids = append(ids, b.ID)
		got, err := readTx(t, s, func(tx *store.Tx) (map[string]bool, error) { return tx.UserIDsExisting(ctx, ids) })
		if want := map[string]bool{a.ID: true, b.ID: true}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("UserIDsExisting = %v, %v; want %v", got, err, want)
		}
		got, err = readTx(t, s, func(tx *store.Tx) (map[string]bool, error) { return tx.UserIDsExisting(ctx, nil) })
		if err != nil || len(got) != 0 {
			t.Errorf("UserIDsExisting(nil) = %v, %v", got, err)
		}
	})
}

func TestUserEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		const wd = "withdrawal_requested"
		insertEvents(t, s,
			monEvent("e0", a.ID, wd, monAt(-1), 1000, "100"), // before the window
			monEvent("e1", a.ID, wd, monAt(0), 700, "0.5"),   // at from: in
			monEvent("e2", a.ID, wd, monAt(10), 100, ""),
			monEvent("e3", a.ID, wd, monAt(20), 400, "2.25"),
			monEvent("e4", a.ID, wd, monAt(30), 300, "7"),
			monEvent("e5", a.ID, wd, monAt(40), 5000, "7"), // at to: out
			monEvent("x1", a.ID, "deposit", monAt(10), 9999, "9"),
			monEvent("x3", a.ID, "trade", monAt(10), 9999, "9"), // a type not asked for
			monEvent("x2", b.ID, wd, monAt(10), 9999, "9"),      // another user
		)
		ids := func(types []string, from, to time.Time) []string {
			t.Helper()
			since := map[string]time.Time{}
			for _, ty := range types {
				since[ty] = from
			}
			got, err := readTx(t, s, func(tx *store.Tx) ([]monitor.StoredEvent, error) {
				return tx.UserEvents(ctx, a.ID, since, to)
			})
			if err != nil {
				t.Fatal(err)
			}
			return eventIDs(got)
		}
		for _, c := range []struct {
			name     string
			types    []string
			from, to time.Time
			want     []string
		}{
			{"one type", []string{wd}, monAt(0), monAt(40), []string{"e1", "e2", "e3", "e4"}},
			{"two types, by time then id", []string{wd, "deposit"}, monAt(0), monAt(40), []string{"e1", "e2", "x1", "e3", "e4"}},
			{"from a microsecond later", []string{wd}, monAt(0).Add(time.Microsecond), monAt(40), []string{"e2", "e3", "e4"}},
			{"to a microsecond later", []string{wd}, monAt(30), monAt(40).Add(time.Microsecond), []string{"e4", "e5"}},
			{"no types", nil, monAt(-10), monAt(100), nil},
		} {
			if got := ids(c.types, c.from, c.to); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		// Each type its own window: deposits from 10, withdrawals from 20.
		got, err := readTx(t, s, func(tx *store.Tx) ([]monitor.StoredEvent, error) {
			return tx.UserEvents(ctx, a.ID, map[string]time.Time{wd: monAt(20), "deposit": monAt(10)}, monAt(40))
		})
		if want := []string{"x1", "e3", "e4"}; err != nil || !slices.Equal(eventIDs(got), want) {
			t.Errorf("per-type windows: %v %v, want %v", eventIDs(got), err, want)
		}
	})
}

// An evaluation's history reads through events_by_user_type. The query is
// a copy of the store's (UserEvents).
func TestUserEventsUsesIndex(t *testing.T) {
	t.Parallel()
	_, u := storetest.SQLiteURL(t)
	db, err := sql.Open("sqlite", strings.TrimPrefix(u, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT id, type, amount, value, occurred_at FROM events
		WHERE user_id = $1 AND occurred_at < $2 AND ((type = $3 AND occurred_at >= $4) OR (type = $5 AND occurred_at >= $6))
		ORDER BY occurred_at, id`, "usr_1", 100, "deposit", 0, "trade", 50)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if !strings.Contains(strings.Join(plan, "; "), "INDEX events_by_user_type (user_id=? AND type=? AND occurred_at>? AND occurred_at<?)") {
		t.Errorf("plan %q does not search events_by_user_type", plan)
	}
}

// markEvaluated claims one event, as ClaimEvents does a batch.
func markEvaluated(ctx context.Context, tx *store.Tx, id string) (bool, error) {
	claimed, err := tx.ClaimEvents(ctx, []string{id})
	return claimed[id], err
}

func TestPendingEventsAndMarkEvaluated(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		received := func(e monitor.StoredEvent, seconds int, evaluated bool) monitor.StoredEvent {
			e.ReceivedAt, e.Evaluated = monAt(seconds), evaluated
			return e
		}
		insertEvents(t, s,
			received(monEvent("p3", a.ID, "trade", monAt(-100), 0, ""), 3, false),
			received(monEvent("p1b", a.ID, "trade", monAt(50), 0, ""), 1, false),
			received(monEvent("p1a", a.ID, "trade", monAt(60), 0, ""), 1, false),
			received(monEvent("done", a.ID, "withdrawal_requested", monAt(0), 0, ""), 0, true),
			received(monEvent("p2", a.ID, "trade", monAt(0), 0, ""), 2, false),
		)
		pending := func(limit int) []string {
			t.Helper()
			es, err := readTx(t, s, func(tx *store.Tx) ([]monitor.StoredEvent, error) { return tx.PendingEvents(ctx, limit) })
			if err != nil {
				t.Fatal(err)
			}
			return eventIDs(es)
		}
		mark := func(eventID string) bool {
			t.Helper()
			ok, err := writeTx(s, func(tx *store.Tx) (bool, error) { return markEvaluated(ctx, tx, eventID) })
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		// Oldest received first, ties by id; evaluated ones left out.
		if got, want := pending(10), []string{"p1a", "p1b", "p2", "p3"}; !slices.Equal(got, want) {
			t.Errorf("pending = %v, want %v", got, want)
		}
		if got, want := pending(2), []string{"p1a", "p1b"}; !slices.Equal(got, want) {
			t.Errorf("pending(2) = %v, want %v", got, want)
		}
		if !mark("p1b") {
			t.Error("first claim of p1b refused")
		}
		if mark("p1b") || mark("done") || mark("evt_missing") {
			t.Error("a claimed, evaluated or missing event was claimed")
		}
		if got, want := pending(10), []string{"p1a", "p2", "p3"}; !slices.Equal(got, want) {
			t.Errorf("pending after a claim = %v, want %v", got, want)
		}
		// A claim rolled back leaves the event pending.
		if err := writeErr(s, func(tx *store.Tx) error {
			if ok, err := markEvaluated(ctx, tx, "p2"); err != nil || !ok {
				return fmt.Errorf("claim p2: %v %v", ok, err)
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		// Nodes racing for one event: exactly one claims it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		claims := 0
		for range 8 {
			wg.Go(func() {
				ok, err := writeTx(s, func(tx *store.Tx) (bool, error) { return markEvaluated(ctx, tx, "p2") })
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					claims++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if claims != 1 {
			t.Errorf("p2 claimed %d times, want once", claims)
		}
		if got, want := pending(10), []string{"p1a", "p3"}; !slices.Equal(got, want) {
			t.Errorf("pending at the end = %v, want %v", got, want)
		}
	})
}

var errRollback = errors.New("roll back")

func TestEachEventOrderStopAndCount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		// 1203 events over more than two pages (500 a query), seven at each
		// moment so pages end inside a tie, inserted out of order.
		var events []monitor.StoredEvent
		for i := range 1203 {
			user := a.ID
			if i%2 == 1 {
				user = b.ID
			}
			events = append(events, monEvent(fmt.Sprintf("e%04d", (i*7919)%1203), user, "trade", monAt(i/7), int64(i), ""))
		}
		slices.Reverse(events)
		insertEvents(t, s, events...)
		want := slices.Clone(events)
		slices.SortFunc(want, func(x, y monitor.StoredEvent) int {
			if c := x.OccurredAt.Compare(y.OccurredAt); c != 0 {
				return c
			}
			return strings.Compare(x.ID, y.ID)
		})

		each := func(from, to time.Time, stopAfter int) ([]string, int, error) {
			t.Helper()
			type result struct {
				ids   []string
				count int
			}
			var ids []string
			r, err := readTx(t, s, func(tx *store.Tx) (result, error) {
				err := tx.EachEvent(ctx, from, to, func(e monitor.StoredEvent) error {
					// fn may use the transaction while events are being listed.
					if _, err := tx.AccountByID(ctx, e.UserID); err != nil {
						return err
					}
					ids = append(ids, e.ID)
					if len(ids) == stopAfter {
						return errRollback
					}
					return nil
				})
				if err != nil {
					return result{ids: ids}, err
				}
				n, err := tx.CountEvents(ctx, from, to)
				return result{ids, n}, err
			})
			return r.ids, r.count, err
		}
		ids, n, err := each(time.Time{}, monAt(1000), 0)
		if err != nil || !slices.Equal(ids, eventIDs(want)) || n != 1203 {
			t.Errorf("all: %v, %d listed, %d counted, first %v", err, len(ids), n, ids[:min(len(ids), 10)])
		}
		// [from, to): from the second moment (events 7..) to the hundredth (before 700).
		ids, n, err = each(monAt(1), monAt(100), 0)
		if err != nil || !slices.Equal(ids, eventIDs(want[7:700])) || n != 693 {
			t.Errorf("window: %v, %d listed, %d counted", err, len(ids), n)
		}
		// fn's error stops the listing and comes back as it was.
		ids, _, err = each(time.Time{}, monAt(1000), 600)
		if !errors.Is(err, errRollback) || !slices.Equal(ids, eventIDs(want[:600])) {
			t.Errorf("early stop: %v after %d events", err, len(ids))
		}
		ids, n, err = each(monAt(500), monAt(1000), 0)
		if err != nil || len(ids) != 0 || n != 0 {
			t.Errorf("empty window: %v %v %d", err, ids, n)
		}
	})
}

// alert is a bare open alert.
func monAlert(alertID, userID, ruleID, status string, created time.Time) monitor.Alert {
	return monitor.Alert{ID: alertID, RuleID: ruleID, RuleVersion: 1, EventID: "evt_" + alertID, EventType: "trade", UserID: userID,
		Action: "alert", Severity: "low", Mode: "active", Status: status, CreatedAt: created}
}

func TestAlertsRoundTripFiltersAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		full := monitor.Alert{ID: "alr_full", RuleID: "big_withdrawal", RuleVersion: 7, EventID: "evt_1", EventType: "withdrawal_requested",
			UserID: a.ID, Action: "hold", Severity: "high", Mode: "shadow", Description: "A large withdrawal",
			Aggregates: map[string]any{`sum("withdrawal_requested", "value", 24h0m0s)`: 1234.5, `count("login", 1h0m0s)`: float64(3)},
			Context:    map[string]any{"event": map[string]any{"id": "evt_1", "attributes": map[string]any{}}, "user": map[string]any{"tier": float64(2)}},
			Status:     monitor.AlertResolved, Resolution: monitor.FalsePositive, Note: "known customer", ResolvedBy: "stf_1",
			CreatedAt: monAt(0), ResolvedAt: monAt(60)}
		alerts := []monitor.Alert{full,
			monAlert("alr_1", a.ID, "r1", monitor.AlertOpen, monAt(1)),
			monAlert("alr_2", b.ID, "r1", monitor.AlertOpen, monAt(2)),
			monAlert("alr_3", a.ID, "r2", monitor.AlertResolved, monAt(2)), // same moment as alr_2: id orders them
			monAlert("alr_4", b.ID, "r2", monitor.AlertOpen, monAt(3)),
		}
		write(t, s, func(tx *store.Tx) error {
			for _, x := range alerts {
				if err := tx.InsertAlert(ctx, x); err != nil {
					return err
				}
			}
			return nil
		})
		byID := func(alertID string) (monitor.Alert, error) {
			return readTx(t, s, func(tx *store.Tx) (monitor.Alert, error) { return tx.AlertByID(ctx, alertID) })
		}
		for _, want := range alerts {
			if got, err := byID(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		if _, err := byID("alr_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing alert: %v, want ErrNotFound", err)
		}
		if err := writeErr(s, func(tx *store.Tx) error { return tx.InsertAlert(ctx, alerts[1]) }); err == nil {
			t.Error("an alert id was stored twice")
		}

		list := func(f monitor.AlertFilter) []string {
			t.Helper()
			as, err := readTx(t, s, func(tx *store.Tx) ([]monitor.Alert, error) { return tx.Alerts(ctx, f) })
			if err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(as))
			for i, x := range as {
				out[i] = x.ID
			}
			return out
		}
		for _, c := range []struct {
			f    monitor.AlertFilter
			want []string
		}{
			{monitor.AlertFilter{}, []string{"alr_4", "alr_3", "alr_2", "alr_1", "alr_full"}},
			{monitor.AlertFilter{Status: monitor.AlertOpen}, []string{"alr_4", "alr_2", "alr_1"}},
			{monitor.AlertFilter{UserID: a.ID}, []string{"alr_3", "alr_1", "alr_full"}},
			{monitor.AlertFilter{RuleID: "r2"}, []string{"alr_4", "alr_3"}},
			{monitor.AlertFilter{Since: monAt(2)}, []string{"alr_4", "alr_3", "alr_2"}},
			{monitor.AlertFilter{Status: monitor.AlertOpen, UserID: b.ID, RuleID: "r1", Since: monAt(2)}, []string{"alr_2"}},
			{monitor.AlertFilter{Status: monitor.AlertResolved, UserID: b.ID}, []string{}},
			{monitor.AlertFilter{Limit: 2}, []string{"alr_4", "alr_3"}},
		} {
			if got := list(c.f); !slices.Equal(got, c.want) {
				t.Errorf("Alerts(%+v) = %v, want %v", c.f, got, c.want)
			}
		}

		update := func(alertID string) rowUpdate[monitor.Alert] {
			return func(fn func(old monitor.Alert) (monitor.Alert, error)) (monitor.Alert, error) {
				return writeTx(s, func(tx *store.Tx) (monitor.Alert, error) { return tx.UpdateAlert(ctx, alertID, fn) })
			}
		}
		read := func(alertID string) func() monitor.Alert {
			return func() monitor.Alert {
				t.Helper()
				got, err := byID(alertID)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
		}
		// Only the handling changes, whatever fn returns.
		changed, want := alerts[1], alerts[1]
		changed.Status, changed.Resolution, changed.Note, changed.ResolvedBy, changed.ResolvedAt = monitor.AlertResolved, monitor.TruePositive, "confirmed", "stf_2", monAt(90)
		changed.RuleID, changed.UserID, changed.Action, changed.CreatedAt, changed.Aggregates = "tampered", b.ID, "freeze", monAt(99), map[string]any{"x": 1.0}
		want.Status, want.Resolution, want.Note, want.ResolvedBy, want.ResolvedAt = monitor.AlertResolved, monitor.TruePositive, "confirmed", "stf_2", monAt(90)
		checkUpdate(t, update("alr_1"), read("alr_1"), alerts[1], changed, want)
		// fn's error changes nothing; a missing alert is not found.
		checkRefusedUpdate(t, update("alr_2"), read("alr_2"), func(old monitor.Alert) monitor.Alert {
			old.Status = monitor.AlertResolved
			return old
		}, alerts[2])
		checkUpdateNotFound(t, "a missing alert", update("alr_missing"))
	})
}

func TestAlertsLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		write(t, s, func(tx *store.Tx) error {
			for i := range 1005 {
				if err := tx.InsertAlert(ctx, monAlert(fmt.Sprintf("alr_%04d", i), a.ID, "r1", monitor.AlertOpen, monAt(i))); err != nil {
					return err
				}
			}
			return nil
		})
		for _, c := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {7, 7}, {1000, 1000}, {5000, 1000}} {
			as, err := readTx(t, s, func(tx *store.Tx) ([]monitor.Alert, error) {
				return tx.Alerts(ctx, monitor.AlertFilter{Limit: c.limit})
			})
			if err != nil || len(as) != c.want || as[0].ID != "alr_1004" {
				t.Errorf("limit %d: %v, %d alerts, want %d from alr_1004", c.limit, err, len(as), c.want)
			}
		}
	})
}

func TestRuleSetVersions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		latest := func() (monitor.RuleSetVersion, error) {
			return readTx(t, s, func(tx *store.Tx) (monitor.RuleSetVersion, error) { return tx.LatestRuleSet(ctx) })
		}
		if _, err := latest(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no rule set yet: %v, want ErrNotFound", err)
		}
		v1 := monitor.RuleSetVersion{Version: 1, Source: "rules: []\n", CreatedAt: monAt(0), CreatedBy: "stf_1"}
		v2 := monitor.RuleSetVersion{Version: 2, Source: "rules:\n  - id: x\n", CreatedAt: monAt(10), CreatedBy: "stf_2"}
		write(t, s, func(tx *store.Tx) error { return tx.InsertRuleSet(ctx, v2) })
		write(t, s, func(tx *store.Tx) error { return tx.InsertRuleSet(ctx, v1) })
		if got, err := latest(); err != nil || got != v2 {
			t.Errorf("latest = %+v, %v; want %+v", got, err, v2)
		}
		// A version taken is a conflict, and the transaction goes on.
		v3 := monitor.RuleSetVersion{Version: 3, Source: "v3", CreatedAt: monAt(20), CreatedBy: "stf_1"}
		write(t, s, func(tx *store.Tx) error {
			if err := tx.InsertRuleSet(ctx, monitor.RuleSetVersion{Version: 2, Source: "other", CreatedAt: monAt(20)}); !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("version 2 again: %v, want ErrConflict", err)
			}
			return tx.InsertRuleSet(ctx, v3)
		})
		if got, err := latest(); err != nil || got != v3 {
			t.Errorf("latest = %+v, %v; want %+v", got, err, v3)
		}
		// Nodes racing to store version 4: one does, the others are told.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for i := range 6 {
			wg.Go(func() {
				by := fmt.Sprintf("node_%d", i)
				err := writeErr(s, func(tx *store.Tx) error {
					return tx.InsertRuleSet(ctx, monitor.RuleSetVersion{Version: 4, Source: by, CreatedAt: monAt(30), CreatedBy: by})
				})
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, by)
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("%s: %v, want ErrConflict", by, err)
				}
			})
		}
		wg.Wait()
		if got, err := latest(); len(won) != 1 || err != nil || got.CreatedBy != won[0] {
			t.Errorf("winners %v; latest %+v, %v", won, got, err)
		}
	})
}

// BenchmarkInsertEvents stores batches of 1,000 events (the API's largest)
// of 100 users, one write transaction each, as ingest does.
func BenchmarkInsertEvents(b *testing.B) {
	run := func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		users := make([]string, 100)
		for i := range users {
			u := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: fmt.Sprintf("u%d@example.com", i),
				EmailKey: fmt.Sprintf("u%d@example.com", i), PasswordHash: "$argon2id$unused", CreatedAt: monNow}
			if err := s.Write(ctx, func(tx *store.Tx) error { return tx.InsertAccount(ctx, u) }); err != nil {
				b.Fatal(err)
			}
			users[i] = u.ID
		}
		const batch = 1000
		prefix := id.New("evt")
		events := make([]monitor.StoredEvent, batch)
		b.ResetTimer()
		for n := range b.N {
			for i := range events {
				e := monEvent(fmt.Sprintf("%s-%d-%d", prefix, n, i), users[i%len(users)], "trade", monAt(n*batch+i), 12345, "0.015")
				e.Attributes = map[string]any{"ip": "203.0.113.7", "market": "BTC-EUR", "side": "buy"}
				events[i] = e
			}
			var added int
			if err := s.Write(ctx, func(tx *store.Tx) error {
				var err error
				added, err = tx.InsertEvents(ctx, events)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			if added != batch {
				b.Fatalf("%d new of %d", added, batch)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("sqlite", func(b *testing.B) { run(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { run(b, storetest.Postgres(b)) })
}
