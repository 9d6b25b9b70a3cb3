package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// The store satisfies what the login service needs.
var _ login.Tx = (*store.Tx)(nil)

var loginNow = time.Date(2031, time.May, 6, 7, 8, 9, 123456000, time.UTC)

func TestLoginEventsRoundTripAndFilter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		full := login.Event{ID: id.New("lev"), AccountID: a.ID, At: loginNow, IP: "2001:db8::1", DeviceID: "dev_1",
			Outcome: login.OutcomeDenied, Reasons: []string{"new_country", "impossible_travel"}, Score: 100,
			Country: "AU", City: "Sydney", Latitude: -33.8688, Longitude: 151.2093, HasCoordinates: true, ASN: 4294967295}
		events := []login.Event{full,
			{ID: id.New("lev"), AccountID: a.ID, At: loginNow.Add(-time.Hour), IP: "81.2.69.1", Outcome: login.OutcomeSucceeded},
			{ID: id.New("lev"), AccountID: a.ID, At: loginNow.Add(-2 * time.Hour), IP: "81.2.69.1", Outcome: login.OutcomeFailed, Reasons: []string{"invalid_credentials"}},
			{ID: id.New("lev"), AccountID: a.ID, At: loginNow.Add(-3 * time.Hour), IP: "81.2.69.2", Outcome: login.OutcomeChallenged},
			{ID: id.New("lev"), AccountID: b.ID, At: loginNow, IP: "81.2.69.1", Outcome: login.OutcomeSucceeded},
			{ID: id.New("lev"), AccountID: "", At: loginNow, IP: "81.2.69.1", Outcome: login.OutcomeFailed}, // unknown email
		}
		write(t, s, func(tx *store.Tx) error {
			for _, e := range events {
				if err := tx.InsertLoginEvent(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		list := func(limit int, outcomes ...string) []login.Event {
			var out []login.Event
			if err := s.Read(ctx, func(tx *store.Tx) error {
				var err error
				out, err = tx.LoginEvents(ctx, a.ID, limit, outcomes...)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		all := list(10)
		if len(all) != 4 {
			t.Fatalf("%d events of a, want 4", len(all))
		}
		// Every field comes back as stored; newest first.
		got := all[0]
		if got.ID != full.ID || !got.At.Equal(full.At) || got.IP != full.IP || got.DeviceID != full.DeviceID || got.Outcome != full.Outcome ||
			!slices.Equal(got.Reasons, full.Reasons) || got.Score != full.Score || got.Country != full.Country || got.City != full.City ||
			got.Latitude != full.Latitude || got.Longitude != full.Longitude || !got.HasCoordinates || got.ASN != full.ASN {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, full)
		}
		for i := 1; i < len(all); i++ {
			if all[i].At.After(all[i-1].At) {
				t.Errorf("not newest first: %v after %v", all[i].At, all[i-1].At)
			}
		}
		if all[1].Reasons != nil {
			t.Errorf("no reasons read back as %q", all[1].Reasons)
		}
		if got := list(2); len(got) != 2 || got[0].ID != full.ID {
			t.Errorf("limit 2: %d events", len(got))
		}
		if got := list(10, login.OutcomeSucceeded); len(got) != 1 || got[0].Outcome != login.OutcomeSucceeded {
			t.Errorf("succeeded only: %+v", got)
		}
		if got := list(10, login.OutcomeFailed, login.OutcomeDenied); len(got) != 2 {
			t.Errorf("failed or denied: %d events", len(got))
		}

		// A challenge answered later changes its outcome.
		write(t, s, func(tx *store.Tx) error { return tx.SetLoginOutcome(ctx, events[3].ID, login.OutcomeSucceeded) })
		if got := list(10, login.OutcomeSucceeded); len(got) != 2 {
			t.Errorf("after SetLoginOutcome: %d succeeded", len(got))
		}
		if err := writeErr(s, func(tx *store.Tx) error { return tx.SetLoginOutcome(ctx, "lev_missing", login.OutcomeSucceeded) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetLoginOutcome of a missing event: %v", err)
		}
	})
}

func TestLoginPressureCountsAndWindows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		victim := newAccount(t, s, "victim@example.com")
		since := loginNow.Add(-time.Hour)
		var events []login.Event
		add := func(accountID, ip, outcome string, at time.Time) {
			events = append(events, login.Event{ID: id.New("lev"), AccountID: accountID, At: at, IP: ip, Outcome: outcome})
		}
		// On the victim, in the window: 6 failures and 2 locked answers from
		// 4 IPs, and a success from a fifth.
		for i := range 6 {
			add(victim.ID, fmt.Sprintf("203.0.113.%d", i%3), login.OutcomeFailed, loginNow.Add(-time.Duration(i)*time.Minute))
		}
		add(victim.ID, "203.0.113.9", login.OutcomeLocked, loginNow)
		add(victim.ID, "203.0.113.9", login.OutcomeLocked, since) // the window's start counts
		add(victim.ID, "81.2.69.1", login.OutcomeSucceeded, loginNow)
		// Outside the window: counts for nothing.
		add(victim.ID, "198.51.100.1", login.OutcomeFailed, since.Add(-time.Microsecond))
		// The stuffing IP failed on 7 accounts in the window (one of them
		// twice), and on an 8th before it; unknown emails count as one "".
		for i := range 7 {
			other := newAccount(t, s, fmt.Sprintf("other%d@example.com", i))
			add(other.ID, "203.0.113.0", login.OutcomeFailed, loginNow.Add(-time.Duration(i)*time.Minute))
			if i == 0 {
				add(other.ID, "203.0.113.0", login.OutcomeLocked, loginNow)
			}
			add(other.ID, "203.0.113.0", login.OutcomeSucceeded, loginNow) // not a failure
		}
		add(newAccount(t, s, "old@example.com").ID, "203.0.113.0", login.OutcomeFailed, since.Add(-time.Second))
		write(t, s, func(tx *store.Tx) error {
			for _, e := range events {
				if err := tx.InsertLoginEvent(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		pressure := func(accountID, ip string, since time.Time) (f, ips, accts int) {
			if err := s.Read(ctx, func(tx *store.Tx) error {
				var err error
				f, ips, accts, err = tx.LoginPressure(ctx, accountID, ip, since)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return
		}
		// 203.0.113.0 failed on the victim (twice) and on 7 others.
		if f, ips, accts := pressure(victim.ID, "203.0.113.0", since); f != 8 || ips != 5 || accts != 8 {
			t.Errorf("pressure = %d failures, %d IPs, %d accounts from the IP; want 8, 5, 8", f, ips, accts)
		}
		if f, ips, accts := pressure(victim.ID, "81.2.69.1", since); f != 8 || ips != 5 || accts != 0 {
			t.Errorf("from the owner's IP: %d, %d, %d; want 8, 5, 0", f, ips, accts)
		}
		// A narrower window.
		if f, ips, _ := pressure(victim.ID, "81.2.69.1", loginNow.Add(-90*time.Second)); f != 3 || ips != 4 {
			t.Errorf("last 90 s: %d failures, %d IPs; want 3, 4", f, ips)
		}
		if f, ips, accts := pressure("usr_nobody", "192.0.2.1", since); f != 0 || ips != 0 || accts != 0 {
			t.Errorf("nothing known: %d, %d, %d", f, ips, accts)
		}
	})
}

// Lanes start empty; concurrent failures on one lane are all counted, on
// every database; lanes of one account are independent.
func TestLockoutLanesUnderConcurrency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "lanes@example.com")
		read := func(lane string) lockout.Lane {
			t.Helper()
			l, err := readTx(t, s, func(tx *store.Tx) (lockout.Lane, error) { return tx.LockoutLane(ctx, a.ID, lane) })
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		update := func(lane string) rowUpdate[lockout.Lane] {
			return func(fn func(old lockout.Lane) (lockout.Lane, error)) (lockout.Lane, error) {
				return writeTx(s, func(tx *store.Tx) (lockout.Lane, error) { return tx.UpdateLockoutLane(ctx, a.ID, lane, fn) })
			}
		}
		// race runs n updates of the lane at once, each taking its step,
		// and counts the steps that said yes.
		race := func(lane string, n int, step func(old lockout.Lane) (lockout.Lane, bool)) int {
			t.Helper()
			var wg sync.WaitGroup
			var yes atomic.Int64
			var failed atomic.Bool
			for range n {
				wg.Go(func() {
					var ok bool // what the written step said, should the store run fn twice
					if _, err := update(lane)(func(old lockout.Lane) (lockout.Lane, error) {
						var next lockout.Lane
						next, ok = step(old)
						return next, nil
					}); err != nil {
						t.Error(err)
						failed.Store(true)
					} else if ok {
						yes.Add(1)
					}
				})
			}
			wg.Wait()
			if failed.Load() {
				t.FailNow() // the counts would mislead
			}
			return int(yes.Load())
		}
		if l := read(lockout.UntrustedLane); l.Failures != 0 || !l.LockedUntil.IsZero() || l.AccountID != a.ID || l.Key != lockout.UntrustedLane {
			t.Fatalf("a lane never used: %+v", l)
		}

		// 40 failures at once with a policy that never locks: exactly 40.
		p := lockout.Policy{MaxFailures: 1000, BaseDelay: time.Minute, MaxDelay: time.Hour, ForgetAfter: 24 * time.Hour}
		const n = 40
		race(lockout.UntrustedLane, n, func(old lockout.Lane) (lockout.Lane, bool) { return p.Fail(old, loginNow) })
		if l := read(lockout.UntrustedLane); l.Failures != n || !l.UpdatedAt.Equal(loginNow) {
			t.Fatalf("after %d concurrent failures: %+v", n, l)
		}

		// With the default policy, concurrent reservations never exceed
		// the tries left, and exactly one of many concurrent failures locks.
		lane := lockout.LaneFor("dev_1")
		dp := lockout.DefaultPolicy()
		reserved := race(lane, 20, func(old lockout.Lane) (lockout.Lane, bool) { return dp.Reserve(old, loginNow) })
		if reserved != dp.MaxFailures {
			t.Fatalf("%d of 20 concurrent checks reserved a try, want %d", reserved, dp.MaxFailures)
		}
		locks := race(lane, reserved, func(old lockout.Lane) (lockout.Lane, bool) { return dp.Fail(dp.Release(old), loginNow) })
		l := read(lane)
		if locks != 1 || l.Pending != 0 || l.Locks != 1 || l.RetryAfter(loginNow) != dp.BaseDelay {
			t.Fatalf("%d locks; lane %+v", locks, l)
		}
		// The untrusted lane is untouched by the device's.
		if read(lockout.UntrustedLane).Locks != 0 {
			t.Fatal("lanes are not independent")
		}

		// An error from fn writes nothing.
		checkRefusedUpdate(t, update(lane), func() lockout.Lane { return read(lane) },
			func(lockout.Lane) lockout.Lane { return lockout.Lane{} }, l)
	})
}
