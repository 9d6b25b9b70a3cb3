package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// The store satisfies what the case service needs.
var _ cases.Tx = (*store.Tx)(nil)

var caseNow = time.Date(2031, time.December, 1, 10, 20, 30, 123456000, time.UTC)

func caseAt(minutes int) time.Time { return caseNow.Add(time.Duration(minutes) * time.Minute) }

func caseReport(reportID, caseID, accountID string, at time.Time) cases.Report {
	return cases.Report{ID: reportID, CaseID: caseID, AccountID: accountID, Statement: "Not me: " + reportID, Via: cases.ViaSession,
		IP: "198.51.100.7", UserAgent: "Firefox", Froze: true, AccessHash: account.HashToken("access " + reportID),
		AccessExpiresAt: at.Add(time.Hour), CreatedAt: at,
		Snapshot: cases.Snapshot{TakenAt: at, MFAEnabled: true, VerificationTier: 1,
			Logins:      []cases.SnapshotLogin{{At: at.Add(-time.Hour), Outcome: "denied", Reasons: []string{"new_country"}, Score: 120, IP: "203.0.113.9", Place: "Lima, PE"}},
			Devices:     []cases.SnapshotDevice{{ID: "dev_1", Description: "Firefox on Linux", FirstSeenAt: at.Add(-48 * time.Hour), LastSeenAt: at}},
			Sessions:    []cases.SnapshotSession{},
			Withdrawals: []cases.SnapshotWithdrawal{{ID: "wd_1", Status: "approved", Asset: "BTC", Network: "bitcoin", Amount: "0.5", CreatedAt: at}}}}
}

func TestCasesRoundTripReportsAndUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "case-a@example.com"), newAccount(t, s, "case-b@example.com")
		first := cases.Case{ID: "cas_1", AccountID: a.ID, Kind: cases.KindUserReport, Status: cases.StatusOpen, Froze: true, CreatedAt: caseAt(0), UpdatedAt: caseAt(0)}
		r1, r2 := caseReport("crp_1", "cas_1", a.ID, caseAt(0)), caseReport("crp_2", "cas_1", a.ID, caseAt(5))
		r2.Froze, r2.Via = false, cases.ViaFreezeLink
		other := cases.Case{ID: "cas_2", AccountID: b.ID, Kind: cases.KindUserReport, Status: cases.StatusOpen, CreatedAt: caseAt(1), UpdatedAt: caseAt(1)}
		write(t, s, func(tx *store.Tx) error {
			for _, err := range []error{tx.InsertCase(ctx, first), tx.InsertCaseReport(ctx, r2), tx.InsertCaseReport(ctx, r1),
				tx.InsertCase(ctx, other), tx.InsertCaseReport(ctx, caseReport("crp_3", "cas_2", b.ID, caseAt(1)))} {
				if err != nil {
					return err
				}
			}
			return nil
		})

		got, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.CaseByID(ctx, "cas_1") })
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "cas_1" || got.AccountID != a.ID || !got.Froze || got.Status != cases.StatusOpen || !got.CreatedAt.Equal(caseAt(0)) ||
			got.ReportCount != 2 || len(got.Reports) != 2 {
			t.Fatalf("case: %+v", got)
		}
		// Reports come oldest first, with their snapshots whole.
		if !reflect.DeepEqual(got.Reports[0], r1) || got.Reports[1].ID != "crp_2" || got.Reports[1].Via != cases.ViaFreezeLink || got.Reports[1].Froze {
			t.Fatalf("reports:\n got %+v\nwant %+v", got.Reports, []cases.Report{r1, r2})
		}

		open, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.OpenCaseOf(ctx, a.ID, cases.KindUserReport) })
		if err != nil || open.ID != "cas_1" {
			t.Fatalf("open case of a: %v %v", open.ID, err)
		}
		if _, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.OpenCaseOf(ctx, a.ID, "other_kind") }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("open case of another kind: %v", err)
		}
		r, err := readTx(t, s, func(tx *store.Tx) (cases.Report, error) {
			return tx.ReportByAccess(ctx, account.HashToken("access crp_2"))
		})
		if err != nil || r.ID != "crp_2" || r.AccountID != a.ID {
			t.Fatalf("report by access: %+v %v", r, err)
		}
		for _, h := range []string{"", account.HashToken("nope")} {
			if _, err := readTx(t, s, func(tx *store.Tx) (cases.Report, error) { return tx.ReportByAccess(ctx, h) }); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("report by access %q: %v", h, err)
			}
		}

		update := func(caseID string) rowUpdate[cases.Case] {
			return func(fn func(old cases.Case) (cases.Case, error)) (cases.Case, error) {
				return writeTx(s, func(tx *store.Tx) (cases.Case, error) { return tx.UpdateCase(ctx, caseID, fn) })
			}
		}
		// fn sees, and the update returns, the case without its reports;
		// they stay.
		read := func() cases.Case {
			t.Helper()
			c, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.CaseByID(ctx, "cas_1") })
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Reports) != 2 || c.ReportCount != 2 {
				t.Errorf("cas_1 holds %d reports (%d counted), want 2", len(c.Reports), c.ReportCount)
			}
			c.Reports, c.ReportCount = nil, 0
			return c
		}
		// Resolve: the update keeps what never changes.
		changed := first
		changed.Status, changed.Resolution, changed.UserNote, changed.InternalNote = cases.StatusResolved, cases.ResolutionCompromised, "We locked them out.", "ticket 9"
		changed.ResolvedBy, changed.ResolvedAt, changed.UpdatedAt = "staff:stf_1", caseAt(30), caseAt(30)
		want := changed
		changed.AccountID, changed.Kind, changed.CreatedAt = b.ID, "x", caseAt(99)
		checkUpdate(t, update("cas_1"), read, first, changed, want)
		// An error from fn changes nothing.
		checkRefusedUpdate(t, update("cas_1"), read, func(old cases.Case) cases.Case {
			old.Status = cases.StatusOpen
			return old
		}, want)
		checkUpdateNotFound(t, "a missing case", update("cas_nope"))
		if _, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.OpenCaseOf(ctx, a.ID, cases.KindUserReport) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("open case after resolving: %v", err)
		}

		// A newer case is the latest.
		third := cases.Case{ID: "cas_3", AccountID: a.ID, Kind: cases.KindUserReport, Status: cases.StatusOpen, CreatedAt: caseAt(40), UpdatedAt: caseAt(40)}
		write(t, s, func(tx *store.Tx) error {
			if err := tx.InsertCase(ctx, third); err != nil {
				return err
			}
			return tx.InsertCaseReport(ctx, caseReport("crp_4", "cas_3", a.ID, caseAt(40)))
		})
		latest, err := readTx(t, s, func(tx *store.Tx) (cases.Case, error) { return tx.LatestCaseOf(ctx, a.ID, cases.KindUserReport) })
		if err != nil || latest.ID != "cas_3" || len(latest.Reports) != 1 || latest.Reports[0].ID != "crp_4" {
			t.Fatalf("latest: %+v %v", latest, err)
		}

		// Listings: newest first, by status and account, with report counts.
		list := func(f cases.Filter) []string {
			t.Helper()
			cs, err := readTx(t, s, func(tx *store.Tx) ([]cases.Case, error) { return tx.Cases(ctx, f) })
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range cs {
				if c.Reports != nil {
					t.Errorf("listing carries reports: %+v", c)
				}
				if want := "Not me: crp_" + map[string]string{"cas_1": "1", "cas_2": "3", "cas_3": "4"}[c.ID]; c.Summary != want {
					t.Errorf("summary of %s: %q, want %q (the first report's statement)", c.ID, c.Summary, want)
				}
				out = append(out, c.ID+":"+string(rune('0'+c.ReportCount)))
			}
			return out
		}
		for _, tc := range []struct {
			f    cases.Filter
			want []string
		}{
			{cases.Filter{}, []string{"cas_3:1", "cas_2:1", "cas_1:2"}},
			{cases.Filter{Status: cases.StatusOpen}, []string{"cas_3:1", "cas_2:1"}},
			{cases.Filter{Status: cases.StatusResolved}, []string{"cas_1:2"}},
			{cases.Filter{AccountID: a.ID}, []string{"cas_3:1", "cas_1:2"}},
			{cases.Filter{AccountID: b.ID, Status: cases.StatusResolved}, nil},
			{cases.Filter{Limit: 1}, []string{"cas_3:1"}},
		} {
			if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cases %+v: %v, want %v", tc.f, got, tc.want)
			}
		}
		for status, want := range map[string]int{"": 3, cases.StatusOpen: 2, cases.StatusResolved: 1} {
			n, err := readTx(t, s, func(tx *store.Tx) (int, error) { return tx.CountCases(ctx, status) })
			if err != nil || n != want {
				t.Errorf("count %q: %d %v, want %d", status, n, err, want)
			}
		}
		q, err := readTx(t, s, func(tx *store.Tx) (store.QueueCounts, error) { return tx.QueueCounts(ctx) })
		if err != nil || q.Cases != 2 {
			t.Errorf("queue counts: %+v %v", q, err)
		}
	})
}
