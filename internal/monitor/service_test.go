package monitor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/store"
)

// brokenActor fails every action, as a database error in the middle of one would.
type brokenActor struct{}

func (brokenActor) Restrict(context.Context, monitor.Tx, string, string, time.Time) ([]string, error) {
	return nil, errors.New("restriction table unavailable")
}

func (brokenActor) Freeze(context.Context, monitor.Tx, string, string, time.Time) ([]string, error) {
	return nil, errors.New("freeze unavailable")
}

// An event whose evaluation fails is set aside with an alert for staff;
// the events after it are still evaluated.
func TestPendingEventThatFailsIsSetAside(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, st *store.Store, _ *keyring.Keyring) {
		ctx := context.Background()
		svc := newMonitor(t, st)
		svc.Actor = brokenActor{}
		rules := []byte("rules:\n  - id: restrict_big\n    event_types: [deposit]\n    condition: event.value > 1000.0\n    action: restrict\n" +
			"  - id: note_small\n    event_types: [deposit]\n    condition: event.value <= 1000.0\n    action: alert\n")
		if _, err := svc.PutRules(ctx, rules, account.Meta{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		seedUsers(t, st, 2, now)
		if _, err := svc.Ingest(ctx, []monitor.EventInput{
			{ID: "big", UserID: benchUser(0), Type: "deposit", ReferenceValue: "5000.00", OccurredAt: now.Add(-2 * time.Second)},
			{ID: "small", UserID: benchUser(1), Type: "deposit", ReferenceValue: "10.00", OccurredAt: now.Add(-time.Second)},
		}); err != nil {
			t.Fatal(err)
		}
		n, err := svc.EvaluatePending(ctx, 100)
		if err != nil || n != 1 {
			t.Fatalf("evaluated %d, %v; want 1 (the other set aside)", n, err)
		}
		alerts, err := svc.ListAlerts(ctx, monitor.AlertFilter{Status: monitor.AlertOpen})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range alerts {
			got[a.EventID] = a.RuleID
		}
		if got["big"] != "monitoring_error" || got["small"] != "note_small" {
			t.Fatalf("alerts %v", got)
		}
		if n, _ := svc.EvaluatePending(ctx, 100); n != 0 {
			t.Fatalf("%d events evaluated again", n)
		}
	})
}

// A withdrawal's evaluation that runs out of time holds it, and leaves the
// request's transaction usable: the limit never cancels a query in it.
func TestSlowEvaluationHoldsWithoutBreakingTheTransaction(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, st *store.Store, _ *keyring.Keyring) {
		ctx := context.Background()
		svc := newMonitor(t, st)
		svc.SyncTimeout = time.Nanosecond // every evaluation runs past it
		now := time.Now().UTC()
		seedUsers(t, st, 1, now)
		err := st.Write(ctx, func(tx *store.Tx) error {
			hold, reasons, err := svc.ReviewWithdrawal(ctx, tx, monitor.Event{ID: "wdr_slow", UserID: benchUser(0),
				Type: "withdrawal_requested", Value: 10, OccurredAt: now})
			if err != nil || !hold || !slices.Contains(reasons, "monitoring_timeout") {
				t.Errorf("slow evaluation: hold %v, reasons %v, %v", hold, reasons, err)
			}
			// The transaction still works.
			_, err = tx.InsertEvents(ctx, []monitor.StoredEvent{{Event: monitor.Event{ID: "after", UserID: benchUser(0), Type: "deposit",
				OccurredAt: now}, Source: monitor.SourcePlatform, ReceivedAt: now}})
			return err
		})
		if err != nil {
			t.Fatalf("the request's transaction broke: %v", err)
		}
	})
}
