package monitor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// investigationRules: a low alert, a shadow rule at critical severity, and
// a high-severity hold, each on its own band of deposit values.
const investigationRules = `rules:
  - id: small_note
    event_types: [deposit]
    condition: event.value < 100.0
    action: alert
    severity: low
  - id: shadow_critical
    event_types: [deposit]
    condition: event.value >= 100.0 && event.value < 1000.0
    action: freeze
    severity: critical
    mode: shadow
  - id: big_hold
    event_types: [deposit]
    condition: event.value >= 1000.0
    action: hold
    severity: high
`

// Alerts that need a person's judgement open one case per user, which the
// user's later alerts join; a low alert alone, or a shadow rule, opens
// none; staff can open one from any alert; resolving the case resolves its
// alerts, and the next serious alert opens a new case.
func TestAlertsGroupIntoCases(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) {
		ctx := context.Background()
		svc := newMonitor(t, st)
		if _, err := svc.PutRules(ctx, []byte(investigationRules), account.Meta{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		clock := servicetest.NewClock(time.Now().UTC())
		base := servicetest.New(t, st, keys, clock)
		staff := &cases.Service{
			Transact: func(ctx context.Context, fn func(cases.Tx) error) error {
				return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			View: func(ctx context.Context, fn func(cases.Tx) error) error {
				return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			Accounts: base.Accounts, Assets: withdrawal.Catalog{{Code: "BTC", Decimals: 8}},
			Currency: money.Currency{Code: "USD", Decimals: 2}, Policy: cases.DefaultPolicy(), Now: clock.Now,
		}
		seedUsers(t, st, 2, time.Now())
		ada, bob := benchUser(0), benchUser(1)
		seq := 0
		deposit := func(user, value string) monitor.Alert {
			t.Helper()
			seq++
			ev := monitor.EventInput{ID: "ev" + string(rune('a'+seq)), UserID: user, Type: "deposit", ReferenceValue: value,
				OccurredAt: time.Now().UTC().Add(-time.Second)}
			if _, err := svc.Ingest(ctx, []monitor.EventInput{ev}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.EvaluatePending(ctx, 100); err != nil {
				t.Fatal(err)
			}
			alerts, err := svc.ListAlerts(ctx, monitor.AlertFilter{UserID: user})
			if err != nil || len(alerts) == 0 || alerts[0].EventID != ev.ID {
				t.Fatalf("alerts of %s after %s: %+v, %v", user, ev.ID, alerts, err)
			}
			return alerts[0]
		}
		openCases := func(user string) []cases.Case {
			t.Helper()
			list, err := staff.List(ctx, cases.Filter{AccountID: user, Kind: cases.KindAlerts, Status: cases.StatusOpen})
			if err != nil {
				t.Fatal(err)
			}
			return list
		}

		low := deposit(ada, "10.00")
		shadow := deposit(ada, "500.00")
		if low.CaseID != "" || shadow.CaseID != "" || len(openCases(ada)) != 0 {
			t.Fatalf("a low alert (%q) or a shadow rule (%q) opened a case", low.CaseID, shadow.CaseID)
		}
		big := deposit(ada, "5000.00")
		list := openCases(ada)
		if big.CaseID == "" || len(list) != 1 || list[0].ID != big.CaseID {
			t.Fatalf("a high-severity hit: case %q, open cases %+v", big.CaseID, list)
		}
		later := deposit(ada, "20.00")
		if later.CaseID != big.CaseID {
			t.Fatalf("a later alert joined %q, want the open case %q", later.CaseID, big.CaseID)
		}
		c, err := staff.Get(ctx, big.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range c.Alerts {
			ids = append(ids, a.ID)
		}
		// The low alert from before joined when the case opened; the shadow one did not.
		list = openCases(ada)
		if want := []string{low.ID, big.ID, later.ID}; !slices.Equal(ids, want) || c.Kind != cases.KindAlerts || list[0].AlertCount != 3 ||
			list[0].Summary != "small_note" {
			t.Fatalf("case alerts %v (listed %d, %q), want %v", ids, list[0].AlertCount, list[0].Summary, want)
		}
		if got, err := svc.Investigate(ctx, low.ID, account.Meta{Actor: "staff:1"}); err != nil || got != big.CaseID {
			t.Fatalf("investigating an alert in a case: %q, %v", got, err)
		}

		// Staff open a case from bob's low alert.
		note := deposit(bob, "5.00")
		if note.CaseID != "" {
			t.Fatal("bob's low alert opened a case")
		}
		if _, err := svc.Investigate(ctx, "alr_missing", account.Meta{Actor: "staff:1"}); !errors.Is(err, monitor.ErrNoAlert) {
			t.Fatalf("unknown alert: %v", err)
		}
		bobCase, err := svc.Investigate(ctx, note.ID, account.Meta{Actor: "staff:1"})
		if err != nil || bobCase == "" || bobCase == big.CaseID {
			t.Fatalf("bob's case %q, %v", bobCase, err)
		}
		if again, err := svc.Investigate(ctx, note.ID, account.Meta{Actor: "staff:1"}); err != nil || again != bobCase {
			t.Fatalf("investigating again: %q, %v", again, err)
		}

		// A report's resolution does not fit an alerts case.
		if _, err := staff.Resolve(ctx, big.CaseID, cases.ResolutionCompromised, "n", "", account.Meta{Actor: "staff:1"}); !errors.Is(err, cases.ErrBadResolution) {
			t.Fatalf("resolving an alerts case as compromised: %v", err)
		}
		resolved, err := staff.Resolve(ctx, big.CaseID, cases.ResolutionFalsePositive, "payroll deposit, known", "", account.Meta{Actor: "staff:1"})
		if err != nil || resolved.Open() {
			t.Fatalf("resolve: %+v, %v", resolved, err)
		}
		for _, id := range []string{low.ID, big.ID, later.ID} {
			a, err := svc.Alert(ctx, id)
			if err != nil || a.Status != monitor.AlertResolved || a.Resolution != monitor.FalsePositive ||
				a.Note != "payroll deposit, known" || a.ResolvedBy != "staff:1" {
				t.Fatalf("alert %s after its case was resolved: %+v, %v", id, a, err)
			}
		}
		if a, _ := svc.Alert(ctx, shadow.ID); a.Status != monitor.AlertOpen {
			t.Fatal("resolving the case resolved a shadow alert outside it")
		}
		if _, err := svc.ResolveAlert(ctx, shadow.ID, monitor.TruePositive, "tuning", account.Meta{Actor: "staff:1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Investigate(ctx, shadow.ID, account.Meta{Actor: "staff:1"}); !errors.Is(err, monitor.ErrAlertResolved) {
			t.Fatalf("investigating a resolved alert: %v", err)
		}

		// With the case closed, a low alert joins nothing; a serious one opens a new case.
		if a := deposit(ada, "30.00"); a.CaseID != "" {
			t.Fatalf("a low alert joined the resolved case %q", a.CaseID)
		}
		if a := deposit(ada, "7000.00"); a.CaseID == "" || a.CaseID == big.CaseID {
			t.Fatalf("the next serious alert: case %q", a.CaseID)
		}
	})
}
