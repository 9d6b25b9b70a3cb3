package monitor_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// Issue 8's performance targets, on a real store:
//
//   - Ingest: at least 10,000 events/s through the batch API's service
//     (Ingest, 1,000-event batches) with the default rules active, and how
//     fast the evaluation worker (EvaluatePending) follows.
//   - A withdrawal's synchronous evaluation with 20 active rules: under 5 ms
//     p99 with 1 million stored events, and no more than 1.5 × the p99 at
//     100,000.
//   - Backtest: at least 100,000 events/s replayed.
//
// By default a smoke test on 20,000 events; the measurement:
//
//	WARDEN_BENCH_MONITOR_EVENTS=1000000 go test ./internal/monitor -run TestMonitorPerformance -v -count 1 -timeout 30m
func TestMonitorPerformance(t *testing.T) {
	big, samples := 20_000, 200
	if v := os.Getenv("WARDEN_BENCH_MONITOR_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		big, samples = n, 2_000
	}
	keys, err := keyring.New(bytes.Repeat([]byte{42}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := newMonitor(t, st)
		if _, err := svc.PutRules(ctx, twentyRules(t), account.Meta{Actor: "bench"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		const users = 10_000
		seedUsers(t, st, users, now)

		// Synchronous evaluation at a tenth of the history, then at all of it.
		seedEvents(t, st, 0, big/10, users, now)
		p99small := syncEvaluation(t, st, svc, samples, users, now, big/10)
		seedEvents(t, st, big/10, big, users, now)
		p99big := syncEvaluation(t, st, svc, samples, users, now, big)
		t.Logf("%s: p99 at %d events is %.2f × the p99 at %d", st.Dialect(), big, float64(p99big)/float64(p99small), big/10)

		// Backtests of the last 30 days: the default rules, and the 20.
		for _, set := range []struct {
			name   string
			source []byte
		}{{"the 7 default rules", monitor.DefaultRules()}, {"the 20 rules", nil}} {
			rep, err := svc.Backtest(ctx, set.source, now.Add(-30*24*time.Hour), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: backtest of %s replayed %d events (%d in 30 days) in %s: %.0f events/s",
				st.Dialect(), set.name, rep.Events, rep.Evaluated, rep.Elapsed.Round(time.Millisecond), rep.EventsPerSecond())
		}

		// Ingest through the service, 1,000-event batches, then evaluation.
		const batches = 20
		start := time.Now()
		for b := range batches {
			in := make([]monitor.EventInput, 1000)
			for i := range in {
				in[i] = monitor.EventInput{ID: fmt.Sprintf("ing-%d-%d", b, i), UserID: benchUser(i % users), Type: "deposit",
					Asset: "BTC", Amount: "0.01", ReferenceValue: "600.00", OccurredAt: now.Add(-time.Duration(i) * time.Millisecond)}
			}
			if _, err := svc.Ingest(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		ingest := time.Since(start)
		start = time.Now()
		evaluated := 0
		for {
			n, err := svc.EvaluatePending(ctx, 500)
			if err != nil {
				t.Fatal(err)
			}
			evaluated += n
			if n == 0 {
				break
			}
		}
		t.Logf("%s: ingested %d events in %s: %.0f events/s; evaluated %d in %s: %.0f events/s",
			st.Dialect(), batches*1000, ingest.Round(time.Millisecond), float64(batches*1000)/ingest.Seconds(),
			evaluated, time.Since(start).Round(time.Millisecond), float64(evaluated)/time.Since(start).Seconds())
	}, store.WithKeyring(keys))
}

// syncEvaluation times ReviewWithdrawal, each in its own write
// transaction as a withdrawal request runs it, and returns the p99.
func syncEvaluation(t *testing.T, st *store.Store, svc *monitor.Service, samples, users int, now time.Time, stored int) time.Duration {
	ctx := context.Background()
	var lat []time.Duration
	for i := range samples + 20 {
		e := monitor.Event{ID: fmt.Sprintf("wdr-bench-%d-%d", stored, i), UserID: benchUser(i * 37 % users), Type: "withdrawal_requested",
			Asset: "BTC", Amount: 0.01, Value: 600, OccurredAt: now, Attributes: map[string]any{"address_age_hours": 500.0}}
		start := time.Now()
		err := st.Write(ctx, func(tx *store.Tx) error {
			_, _, err := svc.ReviewWithdrawal(ctx, tx, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if i >= 20 { // warm-up
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		return lat[max(0, min(len(lat)-1, int(float64(len(lat))*p/100+0.5)-1))].Round(time.Microsecond)
	}
	t.Logf("%s: %d stored events, 20 rules: withdrawal evaluation p50 %s, p90 %s, p99 %s, max %s",
		st.Dialect(), stored, pct(50), pct(90), pct(99), pct(100))
	return pct(99)
}

// twentyRules is the default rules and 13 more over withdrawals, each
// reading aggregates, so a withdrawal runs 20 rules.
func twentyRules(t *testing.T) []byte {
	var sb strings.Builder
	sb.Write(monitor.DefaultRules())
	for i := range 13 {
		fmt.Fprintf(&sb, `
  - id: extra_%d
    description: a rule that reads a window and does not fire
    event_types: [withdrawal_requested]
    condition: count("deposit", duration("%dh")) > %d && sum("trade", "value", duration("%dh")) > 1e12
    action: alert
    severity: low
`, i, 24*(i+1), 100000, 24*(i+1))
	}
	return []byte(sb.String())
}

func benchUser(i int) string { return fmt.Sprintf("usr_mon%06d", i) }

func seedUsers(t *testing.T, st *store.Store, n int, now time.Time) {
	var sb strings.Builder
	for done := 0; done < n; {
		sb.Reset()
		sb.WriteString(`INSERT INTO accounts (id, realm, email, email_key, email_verified_at, password_hash, created_at, verification_tier) VALUES `)
		for i := 0; i < 500 && done < n; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			at := now.Add(-400 * 24 * time.Hour).UnixMicro()
			fmt.Fprintf(&sb, "('%s', 'user', 'm%d@example.com', 'm%d@example.com', %d, 'x', %d, 2)", benchUser(done), done, done, at, at)
			done++
		}
		if err := st.ExecRaw(context.Background(), sb.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// seedEvents stores events [from, to) over the last 90 days: deposits,
// trades, withdrawals and logins of n users, already evaluated.
func seedEvents(t *testing.T, st *store.Store, from, to, n int, now time.Time) {
	started := time.Now()
	rng := rand.New(rand.NewPCG(uint64(from), 3))
	types := []string{"deposit", "deposit", "trade", "trade", "trade", "withdrawal_requested", "login_succeeded", "login_failed"}
	var sb strings.Builder
	for done := from; done < to; {
		sb.Reset()
		sb.WriteString(`INSERT INTO events (id, user_id, type, asset, amount, value, occurred_at, attributes, source, received_at, evaluated) VALUES `)
		for i := 0; i < 500 && done < to; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			at := now.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).UnixMicro()
			fmt.Fprintf(&sb, "('seed%08d', '%s', '%s', 'BTC', '0.01', %d, %d, '{}', 'platform', %d, TRUE)",
				done, benchUser(rng.IntN(n)), types[rng.IntN(len(types))], 10_000+rng.Int64N(200_000), at, at)
			done++
		}
		if err := st.ExecRaw(context.Background(), sb.String()); err != nil {
			t.Fatal(err)
		}
	}
	if st.Dialect() == store.Postgres {
		if err := st.ExecRaw(context.Background(), "ANALYZE events"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seeded events %d to %d in %s", from, to, time.Since(started).Round(time.Millisecond))
}

// noActions stands in for the services that carry out restrict and freeze:
// the benchmark measures the rules, and none of them is meant to act.
type noActions struct{ t *testing.T }

func (a noActions) Restrict(context.Context, monitor.Tx, string, string, time.Time) ([]string, error) {
	return nil, nil
}

func (a noActions) Freeze(context.Context, monitor.Tx, string, string, time.Time) ([]string, error) {
	return nil, nil
}

func newMonitor(t *testing.T, st *store.Store) *monitor.Service {
	// The monitor only tells the accounts service which sessions changed;
	// the services' clock, stopped at the start, is never read here.
	base := servicetest.New(t, st, nil, servicetest.NewClock(time.Now()))
	return &monitor.Service{
		Transact: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts, Actor: noActions{t}, Currency: money.Currency{Code: "USD", Decimals: 2},
		SyncTimeout: time.Second, Now: time.Now,
	}
}
