package web_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// seeded is what seedDashboard put in the database, at times relative to
// the moment it ran.
type seeded struct {
	user    account.Account
	twoAgo  time.Time // 2 hours ago: 3 allowed, 2 challenged, 1 denied, 2 lockouts
	fiveAgo time.Time // 5 hours ago: 1 denied; withdrawals and alerts
	daysAgo time.Time // 3 days ago: 4 allowed (outside the last 24 hours)
}

// seedDashboard writes logins, lockouts, withdrawals, alerts, a
// verification waiting for review and an open case for one user.
func (s *caseSite) seedDashboard(email string) seeded {
	s.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	sd := seeded{twoAgo: now.Add(-2 * time.Hour), fiveAgo: now.Add(-5 * time.Hour), daysAgo: now.Add(-72 * time.Hour)}
	addr, key, _ := account.NormalizeEmail(email)
	sd.user = account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key, EmailVerifiedAt: now,
		PasswordHash: "$argon2id$unused", CreatedAt: now.Add(-100 * time.Hour)}
	logins := []struct {
		at      time.Time
		outcome string
		n       int
	}{
		{sd.twoAgo, login.OutcomeSucceeded, 3}, {sd.twoAgo, login.OutcomeChallenged, 2}, {sd.twoAgo, login.OutcomeDenied, 1},
		{sd.twoAgo, login.OutcomeFailed, 4}, // not a decision: not charted
		{sd.fiveAgo, login.OutcomeDenied, 1},
		{sd.daysAgo, login.OutcomeSucceeded, 4},
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAccount(ctx, sd.user); err != nil {
			return err
		}
		for _, l := range logins {
			for range l.n {
				if err := tx.InsertLoginEvent(ctx, login.Event{ID: id.New("lev"), AccountID: sd.user.ID, At: l.at, IP: "203.0.113.50",
					Outcome: l.outcome, Reasons: []string{"new_country"}, Score: 40, Country: "PE"}); err != nil {
					return err
				}
			}
		}
		for range 2 {
			if _, err := audit.Append(ctx, tx, sd.twoAgo, audit.Entry{Actor: "anonymous", Action: "login.locked", UserID: sd.user.ID, IP: "203.0.113.50",
				Data: map[string]any{"lane": "untrusted", "until": sd.twoAgo.Add(time.Minute)}}); err != nil {
				return err
			}
		}
		for i, st := range []string{withdrawal.StatusPendingReview, withdrawal.StatusPendingReview, withdrawal.StatusApproved} {
			if err := tx.InsertWithdrawal(ctx, withdrawal.Withdrawal{ID: fmt.Sprintf("wdr_seed%d", i), AccountID: sd.user.ID, Asset: "BTC", Network: "bitcoin",
				Address: "bc1qexample", Amount: big.NewInt(1000), ReferenceValue: 600, Price: "60000", Status: st,
				CreatedAt: sd.fiveAgo, ExpiresAt: sd.fiveAgo.Add(30 * time.Minute), UpdatedAt: sd.fiveAgo}); err != nil {
				return err
			}
		}
		for i, rule := range []string{"big_withdrawal", "big_withdrawal", "new_device"} {
			status := monitor.AlertOpen
			if i == 0 {
				status = monitor.AlertResolved
			}
			if err := tx.InsertAlert(ctx, monitor.Alert{ID: fmt.Sprintf("alr_seed%d", i), RuleID: rule, RuleVersion: 1, EventID: "evt", EventType: "trade",
				UserID: sd.user.ID, Action: "alert", Severity: "medium", Mode: "active", Status: status, CreatedAt: sd.fiveAgo}); err != nil {
				return err
			}
		}
		return tx.InsertVerification(ctx, verification.Verification{ID: id.New("ver"), AccountID: sd.user.ID, Purpose: verification.PurposeTier,
			Status: verification.StatusPendingReview, CreatedAt: now, UpdatedAt: now, SubmittedAt: now})
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.cases.Report(ctx, sd.user.ID, "Not me.", account.Meta{}); err != nil {
		s.t.Fatal(err)
	}
	return sd
}

func hourLabel(t time.Time) string { return t.UTC().Truncate(time.Hour).Format("15:04") }
func dayLabel(t time.Time) string  { return t.UTC().Format("2 Jan") }

func TestDashboardShowsSeededCounts(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	sd := s.seedDashboard("vic@example.com")
	admin, _ := s.staffLoggedIn("ada@ops.example", staff.RoleAdmin)

	res := admin.get("/console/dashboard?period=24h")
	expect(t, "dashboard", res, 200, `<a href="/console/dashboard" aria-current="page">Dashboard</a>`,
		`<a href="/console/dashboard?period=24h" id="period-24h" class="button" aria-current="page">Last 24 hours</a>`,
		`<a href="/console/withdrawals?status=pending_review" id="queue-withdrawals">`, `id="queue-withdrawals-count">2</strong>`,
		`<a href="/console/verifications?status=pending_review" id="queue-verifications">`, `id="queue-verifications-count">1</strong>`,
		`<a href="/console/alerts?status=open" id="queue-alerts">`, `id="queue-alerts-count">2</strong>`,
		`<a href="/console/cases?status=open" id="queue-cases">`, `id="queue-cases-count">1</strong>`,
		// Each series links to the list behind it.
		`<a href="/console/logins?outcome=denied&amp;period=24h" data-series="denied">Denied</a>`,
		`<a href="/console/logins?outcome=lockout&amp;period=24h" data-series="locked">Lockouts</a>`,
		`<a href="/console/withdrawals?status=pending_review" data-series="pending_review">`,
		`<a href="/console/alerts?status=all&amp;rule=big_withdrawal" data-series="big_withdrawal">big_withdrawal</a>`,
		`<strong data-series-total="big_withdrawal">2</strong>`, `<strong data-series-total="new_device">1</strong>`)

	// The charts' bars are the seeded counts. The staff member's own
	// logins fall in the current hour; two and five hours ago are the seed's.
	logins := barsOf(t, chartSVG(t, res.body, "chart-logins"))
	if got := logins[hourLabel(sd.twoAgo)]; got["succeeded"] != 3 || got["challenged"] != 2 || got["denied"] != 1 || len(got) != 3 {
		t.Errorf("logins two hours ago: %v", got)
	}
	if got := logins[hourLabel(sd.fiveAgo)]; got["denied"] != 1 || len(got) != 1 {
		t.Errorf("logins five hours ago: %v", got)
	}
	if len(logins) != 24 {
		t.Errorf("%d hourly bars", len(logins))
	}
	locks := barsOf(t, chartSVG(t, res.body, "chart-lockouts"))
	if got := locks[hourLabel(sd.twoAgo)]; got["locked"] != 2 {
		t.Errorf("lockouts: %v", locks)
	}
	wd := barsOf(t, chartSVG(t, res.body, "chart-withdrawals"))
	if got := wd[hourLabel(sd.fiveAgo)]; got["pending_review"] != 2 || got["approved"] != 1 {
		t.Errorf("withdrawals: %v", got)
	}
	al := barsOf(t, chartSVG(t, res.body, "chart-alerts"))
	if got := al[hourLabel(sd.fiveAgo)]; got["big_withdrawal"] != 2 || got["new_device"] != 1 {
		t.Errorf("alerts: %v", got)
	}

	// Seven days, by day: the logins of three days ago appear.
	res = admin.get("/console/dashboard?period=7d")
	expect(t, "7 days", res, 200, `aria-current="page">Last 7 days</a>`)
	logins = barsOf(t, chartSVG(t, res.body, "chart-logins"))
	if len(logins) != 7 || logins[dayLabel(sd.daysAgo)]["succeeded"] != 4 {
		t.Errorf("daily logins: %v", logins)
	}
	total := 0
	for _, v := range logins {
		total += v["denied"]
	}
	if total != 2 {
		t.Errorf("denied logins in 7 days: %d", total)
	}
	expect(t, "30 days", admin.get("/console/dashboard?period=30d"), 200, `aria-current="page">Last 30 days</a>`)

	// The lists behind the charts.
	res = admin.get("/console/logins?outcome=denied&period=24h")
	expect(t, "denied logins", res, 200, "Logins: Denied", `<a href="/console/users/`+sd.user.ID+`">vic@example.com</a>`, "a new country", "PE")
	if n := countRows(res.body); n != 2 {
		t.Errorf("%d denied logins listed, want 2", n)
	}
	res = admin.get("/console/logins?outcome=lockout&period=24h")
	expect(t, "lockouts", res, 200, "Logins: Lockouts", "Logins from unrecognised devices paused")
	if n := countRows(res.body); n != 2 {
		t.Errorf("%d lockouts listed, want 2", n)
	}

	// Support sees what its role allows: no withdrawals, no verifications.
	support, _ := s.staffLoggedIn("sue@ops.example", staff.RoleSupport)
	res = support.get("/console/dashboard")
	expect(t, "support dashboard", res, 200, `id="queue-alerts-count">2</strong>`, `id="queue-cases-count">1</strong>`, `id="chart-logins"`)
	absent(t, "support dashboard", res, `id="queue-withdrawals"`, `id="queue-verifications"`, `id="chart-withdrawals"`)
}

func countRows(body string) int { return strings.Count(body, `<tr class="login-row">`) }
