package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"
)

// checkpointer copies SQLite's write-ahead log back into the database file
// from its own connection, so that no write transaction pays for it.
//
// By default SQLite checkpoints inside the commit that grows the log past
// 1,000 pages: with a few writes per request that is one request in a
// hundred or so stalled by several milliseconds, which is the whole p99 of
// a login. A PASSIVE checkpoint on another connection runs beside the
// writer (it never waits for it or for readers), and the log restarts from
// its beginning once a checkpoint has caught up.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

// checkpointEvery is how often the log is copied back. A second of writes
// at the store's peak is a few megabytes of log.
const checkpointEvery = 500 * time.Millisecond

func startCheckpoints(path string) (*checkpointer, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection to %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failed checkpoint leaves the log longer, nothing worse; the
			// next tick tries again.
			_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// stop ends the loop, then checkpoints once more so that a closed database
// file holds everything.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	_, err := c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}
