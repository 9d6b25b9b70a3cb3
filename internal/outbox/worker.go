package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Queue is the stored outbox as the worker sees it; the store implements it.
type Queue interface {
	// ClaimOutbox leases up to limit due messages until now+lease and counts the attempt.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Message, error)
	MarkOutboxDelivered(ctx context.Context, id string, now time.Time) error
	MarkOutboxFailed(ctx context.Context, id string, next time.Time, dead bool, reason string) error
}

// Deliverer sends one kind of message. It returns nil once the receiver has
// accepted the message, and Permanent(err) when no retry can succeed.
type Deliverer interface {
	Deliver(ctx context.Context, m Message) error
}

// Policy says how hard the worker tries. The zero value is usable: every
// field has a safe default.
type Policy struct {
	MaxAttempts  int           // attempts before a message is parked dead (default 10)
	BackoffBase  time.Duration // wait after the first failure (default 5s)
	BackoffMax   time.Duration // longest wait between attempts (default 1h)
	Timeout      time.Duration // limit on one delivery (default 30s)
	PollInterval time.Duration // how often to look for due messages (default 1s)
	Concurrency  int           // deliveries in flight at once (default 4)
}

func (p Policy) withDefaults() Policy {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 10
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	def(&p.BackoffBase, 5*time.Second)
	def(&p.BackoffMax, time.Hour)
	def(&p.Timeout, 30*time.Second)
	def(&p.PollInterval, time.Second)
	return p
}

// Outcomes reported to Worker.Observe.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeDead      = "dead"
)

// Worker delivers due messages until its context ends.
type Worker struct {
	Queue      Queue
	Deliverers map[string]Deliverer // by Message.Kind
	Policy     Policy
	Now        func() time.Time
	Random     func() float64 // in [0, 1); jitter
	Log        *slog.Logger
	// Observe, if set, is told every delivery's kind and outcome (for metrics).
	Observe func(kind, outcome string)

	wakeOnce sync.Once
	wake     chan struct{}
}

// Wake makes the worker look for due messages now rather than at its next
// poll; actions call it after committing a message so mail goes out at once.
func (w *Worker) Wake() {
	select {
	case w.wakeChan() <- struct{}{}:
	default:
	}
}

func (w *Worker) wakeChan() chan struct{} {
	w.wakeOnce.Do(func() { w.wake = make(chan struct{}, 1) })
	return w.wake
}

// Run delivers messages until ctx ends, then waits for the deliveries already
// started to finish and be recorded, so that no message is left half-handled.
func (w *Worker) Run(ctx context.Context) error {
	p := w.Policy.withDefaults()
	now, random, log := w.Now, w.Random, w.Log
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Float64
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A lease outlives the delivery it covers, so no other worker takes the
	// message while this one may still be sending it.
	lease := 2*p.Timeout + 10*time.Second
	slots := make(chan struct{}, p.Concurrency)
	var inflight sync.WaitGroup
	defer inflight.Wait()

	ticker := time.NewTicker(p.PollInterval)
	defer ticker.Stop()
	for {
		free := p.Concurrency - len(slots)
		if free > 0 {
			msgs, err := w.Queue.ClaimOutbox(ctx, now(), lease, free)
			if err != nil && ctx.Err() == nil {
				log.Error("outbox: claim messages", "error", err)
			}
			for _, m := range msgs {
				slots <- struct{}{}
				inflight.Add(1)
				go func() {
					defer func() { <-slots; inflight.Done() }()
					w.deliver(m, p, now, random, log)
				}()
			}
			if len(msgs) == free {
				continue // there may be more due right now
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-w.wakeChan():
		}
	}
}

// deliver runs one attempt. It deliberately ignores the worker's context: a
// shutdown lets the attempt finish (bounded by the timeout) and records it.
func (w *Worker) deliver(m Message, p Policy, now func() time.Time, random func() float64, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	err := w.send(ctx, m)
	record := context.Background()
	outcome := OutcomeDelivered
	switch {
	case err == nil:
		if markErr := w.Queue.MarkOutboxDelivered(record, m.ID, now()); markErr != nil {
			// The lease will run out and the message be sent again: at least once.
			log.Error("outbox: record delivery", "message_id", m.ID, "error", markErr)
		}
	default:
		dead := IsPermanent(err) || m.Attempts >= p.MaxAttempts
		next := now().Add(Backoff(m.Attempts, p.BackoffBase, p.BackoffMax, random))
		outcome = OutcomeRetry
		if dead {
			outcome = OutcomeDead
		}
		log.Warn("outbox: delivery failed", "message_id", m.ID, "kind", m.Kind, "topic", m.Topic,
			"attempt", m.Attempts, "outcome", outcome, "error", err)
		if markErr := w.Queue.MarkOutboxFailed(record, m.ID, next, dead, err.Error()); markErr != nil {
			log.Error("outbox: record failure", "message_id", m.ID, "error", markErr)
		}
	}
	if w.Observe != nil {
		w.Observe(m.Kind, outcome)
	}
}

func (w *Worker) send(ctx context.Context, m Message) (err error) {
	d, ok := w.Deliverers[m.Kind]
	if !ok {
		return Permanent(fmt.Errorf("no deliverer for kind %q", m.Kind))
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("deliverer panicked: %v", r)
		}
	}()
	if err := d.Deliver(ctx, m); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("delivery timed out: %w", err)
		}
		return err
	}
	return nil
}
