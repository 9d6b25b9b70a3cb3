package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// dashFrom is the start of the counted span: an hour boundary.
var dashFrom = time.Date(2031, time.October, 2, 0, 0, 0, 0, time.UTC)

func dashAt(hours, minutes int) time.Time {
	return dashFrom.Add(time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute)
}

func countsOf(list []store.BucketCount) map[string]int {
	out := map[string]int{}
	for _, b := range list {
		out[fmt.Sprintf("%d/%s", b.Bucket, b.Key)] += b.N
	}
	return out
}

// TestDashboardCounts seeds logins, lockouts, withdrawals and alerts around
// the edges of a 24-hour span and checks every bucket's count, by hour and
// by day, on both databases: rows at the span's start count in bucket 0,
// rows at its end or before its start not at all, a row on an hour's
// boundary in the hour it starts.
func TestDashboardCounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "dash@example.com")
		hourly := store.Span{From: dashFrom, To: dashFrom.Add(24 * time.Hour), Width: time.Hour}
		if hourly.Buckets() != 24 {
			t.Fatalf("buckets: %d", hourly.Buckets())
		}
		logins := []struct {
			at      time.Time
			outcome string
		}{
			{dashAt(0, 0), login.OutcomeSucceeded}, // the first instant counts
			{dashAt(0, 59), login.OutcomeSucceeded},
			{dashAt(0, 30), login.OutcomeDenied},
			{dashAt(1, 0), login.OutcomeChallenged}, // an hour's boundary: the next hour
			{dashAt(5, 10), login.OutcomeSucceeded},
			{dashAt(5, 20), login.OutcomeChallenged},
			{dashAt(5, 21), login.OutcomeChallenged},
			{dashAt(23, 59), login.OutcomeFailed},
			{dashAt(24, 0), login.OutcomeSucceeded}, // the end is outside
			{dashAt(-1, 0), login.OutcomeSucceeded}, // so is before the start
		}
		wds := []struct {
			at      time.Time
			status  string
			expires time.Time
		}{
			{dashAt(2, 0), withdrawal.StatusPendingReview, dashAt(2, 30)},
			{dashAt(2, 5), withdrawal.StatusPendingReview, dashAt(2, 35)},
			{dashAt(2, 10), withdrawal.StatusApproved, dashAt(2, 40)},
			{dashAt(3, 0), withdrawal.StatusAwaitingConfirmation, dashAt(3, 30)}, // past its time at now: expired
			{dashAt(23, 50), withdrawal.StatusAwaitingConfirmation, dashAt(24, 20)},
			{dashAt(26, 0), withdrawal.StatusCompleted, dashAt(26, 30)},
		}
		alerts := []struct {
			at   time.Time
			rule string
		}{
			{dashAt(4, 0), "big_withdrawal"}, {dashAt(4, 1), "big_withdrawal"}, {dashAt(4, 2), "new_device"}, {dashAt(7, 0), "new_device"},
		}
		write(t, s, func(tx *store.Tx) error {
			for _, l := range logins {
				if err := tx.InsertLoginEvent(ctx, login.Event{ID: id.New("lev"), AccountID: a.ID, At: l.at, Outcome: l.outcome}); err != nil {
					return err
				}
			}
			for i, w := range wds {
				wd := newWithdrawal(fmt.Sprintf("wd_%d", i), a.ID, w.status, 100, w.at, w.expires)
				if err := tx.InsertWithdrawal(ctx, wd); err != nil {
					return err
				}
			}
			for i, al := range alerts {
				status := monitor.AlertOpen
				if i == 0 {
					status = monitor.AlertResolved
				}
				if err := tx.InsertAlert(ctx, monAlert(fmt.Sprintf("alr_%d", i), a.ID, al.rule, status, al.at)); err != nil {
					return err
				}
			}
			for _, at := range []time.Time{dashAt(6, 0), dashAt(6, 30), dashAt(12, 0)} {
				if _, err := audit.Append(ctx, tx, at, audit.Entry{Actor: "anonymous", Action: "login.locked", UserID: a.ID}); err != nil {
					return err
				}
			}
			if _, err := audit.Append(ctx, tx, dashAt(6, 0), audit.Entry{Actor: "anonymous", Action: "login.failed", UserID: a.ID}); err != nil {
				return err
			}
			return tx.InsertVerification(ctx, verification.Verification{ID: id.New("ver"), AccountID: a.ID, Purpose: verification.PurposeTier,
				Status: verification.StatusPendingReview, CreatedAt: dashFrom, UpdatedAt: dashFrom})
		})
		now := dashAt(24, 0)
		read := func(fn func(tx *store.Tx) ([]store.BucketCount, error)) map[string]int {
			t.Helper()
			list, err := readTx(t, s, fn)
			if err != nil {
				t.Fatal(err)
			}
			return countsOf(list)
		}
		check := func(what string, got, want map[string]int) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %v\nwant %v", what, got, want)
			}
		}
		check("logins by hour", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.LoginsByBucket(ctx, hourly) }),
			map[string]int{"0/succeeded": 2, "0/denied": 1, "1/challenged": 1, "5/succeeded": 1, "5/challenged": 2, "23/failed": 1})
		check("lockouts by hour", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.LockoutsByBucket(ctx, hourly) }),
			map[string]int{"6/locked": 2, "12/locked": 1})
		check("withdrawals by hour", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.WithdrawalsByBucket(ctx, hourly, now) }),
			map[string]int{"2/pending_review": 2, "2/approved": 1, "3/expired": 1, "23/awaiting_confirmation": 1})
		check("alerts by hour", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.AlertsByBucket(ctx, hourly) }),
			map[string]int{"4/big_withdrawal": 2, "4/new_device": 1, "7/new_device": 1})

		// By day over three days, the last starting at dashFrom: the day
		// before has the login at -1h, the one after the rows from 24h on.
		daily := store.Span{From: dashFrom.Add(-24 * time.Hour), To: dashFrom.Add(48 * time.Hour), Width: 24 * time.Hour}
		check("logins by day", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.LoginsByBucket(ctx, daily) }),
			map[string]int{"0/succeeded": 1, "1/succeeded": 3, "1/denied": 1, "1/challenged": 3, "1/failed": 1, "2/succeeded": 1})
		check("withdrawals by day", read(func(tx *store.Tx) ([]store.BucketCount, error) { return tx.WithdrawalsByBucket(ctx, daily, now) }),
			map[string]int{"1/pending_review": 2, "1/approved": 1, "1/expired": 1, "1/awaiting_confirmation": 1, "2/completed": 1})

		q, err := readTx(t, s, func(tx *store.Tx) (store.QueueCounts, error) { return tx.QueueCounts(ctx) })
		if err != nil || q != (store.QueueCounts{Withdrawals: 2, Verifications: 1, Alerts: 3, Cases: 0}) {
			t.Errorf("queue counts: %+v %v", q, err)
		}

		events, err := readTx(t, s, func(tx *store.Tx) ([]login.Event, error) {
			return tx.LoginEventsSince(ctx, login.OutcomeChallenged, dashFrom, 10)
		})
		if err != nil || len(events) != 3 || !events[0].At.Equal(dashAt(5, 21)) || !events[2].At.Equal(dashAt(1, 0)) {
			t.Errorf("challenged logins since: %v %v", events, err)
		}
		all, err := readTx(t, s, func(tx *store.Tx) ([]login.Event, error) { return tx.LoginEventsSince(ctx, "", dashFrom, 4) })
		if err != nil || len(all) != 4 || !all[0].At.Equal(dashAt(24, 0)) {
			t.Errorf("every login since, limited: %v %v", all, err)
		}

		// A span that cannot be counted is refused, not run.
		if _, err := readTx(t, s, func(tx *store.Tx) ([]store.BucketCount, error) {
			return tx.LoginsByBucket(ctx, store.Span{From: dashFrom, To: dashFrom, Width: time.Hour})
		}); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("empty span: %v", err)
		}
	})
}
