package store

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenRevokedSessions calls evict with the token hashes of sessions that
// any node revoked, until ctx ends. healthy(false) is called whenever the
// channel is down — a node must then stop trusting its session cache, since
// revocations may be missed — and healthy(true) once it listens again.
//
// On SQLite there is one node and nothing to listen to: it reports healthy
// and returns when ctx ends.
func (s *Store) ListenRevokedSessions(ctx context.Context, log *slog.Logger, evict func([]string), healthy func(bool)) {
	if s.dialect != Postgres {
		healthy(true)
		<-ctx.Done()
		return
	}
	healthy(false)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, evict, healthy)
		healthy(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("session revocation channel down; session cache off until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, evict func([]string), healthy func(bool)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+revokedChannel); err != nil {
		return err
	}
	healthy(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload != "" {
			evict(strings.Split(n.Payload, ","))
		}
	}
}
