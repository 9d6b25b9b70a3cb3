package outbox_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	base, maxDelay := time.Second, time.Minute
	for _, tc := range []struct {
		attempt  int
		random   float64
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 0.999, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, time.Second},
		{3, 0.5, 3 * time.Second, 3 * time.Second},
		{4, 0.999, 4 * time.Second, 8 * time.Second},
		{30, 0, 30 * time.Second, 30 * time.Second},
		{30, 0.999, 30 * time.Second, time.Minute},
	} {
		got := outbox.Backoff(tc.attempt, base, maxDelay, func() float64 { return tc.random })
		if got < tc.min || got > tc.max {
			t.Errorf("Backoff(%d, random %.3f) = %v, want in [%v, %v]", tc.attempt, tc.random, got, tc.min, tc.max)
		}
	}
}

// recorder is a Deliverer that fails as told and notes what it saw.
type recorder struct {
	mu        sync.Mutex
	fail      func(m outbox.Message) error
	delivered map[string]int
	inFlight  map[string]bool
	overlaps  int
}

func (r *recorder) Deliver(_ context.Context, m outbox.Message) error {
	r.mu.Lock()
	if r.inFlight[m.ID] {
		r.overlaps++
	}
	r.inFlight[m.ID] = true
	r.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // a window for another worker to overlap, if it could
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inFlight, m.ID)
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.delivered[m.ID]++
	return nil
}

func newRecorder(fail func(outbox.Message) error) *recorder {
	return &recorder{fail: fail, delivered: map[string]int{}, inFlight: map[string]bool{}}
}

func enqueue(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	var ids []string
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			m, err := outbox.Enqueue(context.Background(), tx, time.Now(), outbox.KindEmail, "test", map[string]int{"n": i})
			if err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func runWorker(t *testing.T, w *outbox.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	return func() { cancel(); <-done }
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusOf(t *testing.T, s *store.Store, id string) outbox.Message {
	t.Helper()
	for _, status := range []string{"pending", "delivered", "dead"} {
		msgs, err := s.ListOutbox(context.Background(), store.OutboxFilter{Status: status, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == id {
				return m
			}
		}
	}
	t.Fatalf("message %s not found", id)
	return outbox.Message{}
}

func TestWorkerRetriesThenParksDead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ids := enqueue(t, s, 3)
		flaky, broken, rejected := ids[0], ids[1], ids[2]
		var flakyFailures atomic.Int32
		rec := newRecorder(func(m outbox.Message) error {
			switch m.ID {
			case flaky:
				if flakyFailures.Add(1) <= 2 {
					return errors.New("451 try again later")
				}
			case broken:
				return errors.New("connection refused")
			case rejected:
				return outbox.Permanent(errors.New("550 no such mailbox"))
			}
			return nil
		})
		var outcomes sync.Map
		w := &outbox.Worker{
			Queue:      s,
			Deliverers: map[string]outbox.Deliverer{outbox.KindEmail: rec},
			Policy:     outbox.Policy{MaxAttempts: 4, BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond, PollInterval: 2 * time.Millisecond},
			Observe: func(kind, outcome string) {
				v, _ := outcomes.LoadOrStore(outcome, new(atomic.Int32))
				v.(*atomic.Int32).Add(1)
			},
		}
		stop := runWorker(t, w)
		defer stop()
		waitUntil(t, "all three settled", func() bool {
			return statusOf(t, s, flaky).Status == "delivered" && statusOf(t, s, broken).Status == "dead" && statusOf(t, s, rejected).Status == "dead"
		})
		if m := statusOf(t, s, flaky); m.Attempts != 3 || m.DeliveredAt.IsZero() {
			t.Errorf("flaky message: attempts %d, delivered at %v; want 3 attempts and a delivery time", m.Attempts, m.DeliveredAt)
		}
		if m := statusOf(t, s, broken); m.Attempts != 4 || m.LastError != "connection refused" {
			t.Errorf("broken message: attempts %d, last error %q; want 4 and the error", m.Attempts, m.LastError)
		}
		if m := statusOf(t, s, rejected); m.Attempts != 1 {
			t.Errorf("permanently rejected message tried %d times, want 1", m.Attempts)
		}
		if pending, dead, err := s.OutboxDepth(context.Background()); err != nil || pending != 0 || dead != 2 {
			t.Errorf("depth = %d pending, %d dead, %v; want 0, 2", pending, dead, err)
		}
		if v, ok := outcomes.Load(outbox.OutcomeDead); !ok || v.(*atomic.Int32).Load() != 2 {
			t.Errorf("observer did not see two dead outcomes")
		}
		// Staff can put a dead message back once its cause is fixed.
		if _, err := s.RetryOutbox(context.Background(), rejected, time.Now()); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		rec.fail = nil
		rec.mu.Unlock()
		w.Wake()
		waitUntil(t, "retried message delivered", func() bool { return statusOf(t, s, rejected).Status == "delivered" })
		if _, err := s.RetryOutbox(context.Background(), rejected, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("retrying a delivered message: err = %v, want ErrNotFound", err)
		}
	})
}

// Several workers (as several `warden serve` processes would) share one queue:
// every message is delivered exactly once when nothing fails, and never by two
// workers at the same time.
func TestWorkersShareQueueWithoutDoubleDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ids := enqueue(t, s, 200)
		rec := newRecorder(nil)
		var stops []func()
		for range 4 {
			// Claims run in separate transactions on separate connections, as
			// separate processes' would.
			w := &outbox.Worker{
				Queue:      s,
				Deliverers: map[string]outbox.Deliverer{outbox.KindEmail: rec},
				Policy:     outbox.Policy{Concurrency: 8, PollInterval: time.Millisecond},
			}
			stops = append(stops, runWorker(t, w))
		}
		waitUntil(t, "all delivered", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.delivered) == len(ids)
		})
		for _, stop := range stops {
			stop()
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, id := range ids {
			if rec.delivered[id] != 1 {
				t.Errorf("message %s delivered %d times", id, rec.delivered[id])
			}
		}
		if rec.overlaps != 0 {
			t.Errorf("%d deliveries overlapped another of the same message", rec.overlaps)
		}
	})
}

// A shutdown lets the delivery in progress finish and be recorded.
func TestWorkerFinishesInFlightDeliveryOnShutdown(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	ids := enqueue(t, s, 1)
	started := make(chan struct{})
	release := make(chan struct{})
	slow := deliverFunc(func(ctx context.Context, m outbox.Message) error {
		close(started)
		<-release
		return ctx.Err()
	})
	w := &outbox.Worker{Queue: s, Deliverers: map[string]outbox.Deliverer{outbox.KindEmail: slow}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	<-started
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a delivery was still in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	if m := statusOf(t, s, ids[0]); m.Status != "delivered" {
		t.Fatalf("status after shutdown = %s, want delivered", m.Status)
	}
}

type deliverFunc func(ctx context.Context, m outbox.Message) error

func (f deliverFunc) Deliver(ctx context.Context, m outbox.Message) error { return f(ctx, m) }
