package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/outbox"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		applied, newest, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if applied != newest || applied == 0 {
			t.Fatalf("schema version applied %d, newest %d", applied, newest)
		}
	})
}

func TestWriteRollsBackOnErrorAndPanic(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		count := func() int {
			msgs, err := s.ListOutbox(ctx, store.OutboxFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}
		insert := func(tx *store.Tx) error {
			_, err := outbox.Enqueue(ctx, tx, time.Now(), outbox.KindEmail, "t", map[string]string{})
			return err
		}
		boom := errors.New("boom")
		if err := s.Write(ctx, func(tx *store.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("Write returned %v, want the function's error", err)
		}
		func() {
			defer func() { _ = recover() }()
			_ = s.Write(ctx, func(tx *store.Tx) error {
				_ = insert(tx)
				panic("boom")
			})
		}()
		if n := count(); n != 0 {
			t.Fatalf("%d rows survived a failed transaction", n)
		}
		if err := s.Write(ctx, insert); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d rows after a committed transaction, want 1", n)
		}
	})
}

// Lock serializes read-modify-write on one subject: concurrent increments of
// a counter guarded by it never lose an update. This is the primitive money
// decisions rely on. (Without the Lock call, PostgreSQL loses most updates.)
func TestLockSerializesOneSubject(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		if err := s.ExecRaw(ctx, `CREATE TABLE test_counters (subject TEXT PRIMARY KEY, n BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if err := s.ExecRaw(ctx, `INSERT INTO test_counters VALUES ('user:a', 0), ('user:b', 0)`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subject := []string{"user:a", "user:b"}[w%2]
				for range 10 {
					err := s.Write(ctx, func(tx *store.Tx) error {
						if err := tx.Lock(ctx, subject); err != nil {
							return err
						}
						n, err := store.TestCounter(ctx, tx, subject)
						if err != nil {
							return err
						}
						time.Sleep(time.Millisecond) // widen the window a lost update would need
						return store.SetTestCounter(ctx, tx, subject, n+1)
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, subject := range []string{"user:a", "user:b"} {
			var n int64
			_ = s.Read(ctx, func(tx *store.Tx) error {
				var err error
				n, err = store.TestCounter(ctx, tx, subject)
				return err
			})
			if n != 40 {
				t.Errorf("%s counter = %d, want 40: updates were lost", subject, n)
			}
		}
	})
}

// On PostgreSQL a lock held on one subject does not hold up another.
func TestLockDoesNotBlockOtherSubjects(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	ctx := context.Background()
	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = s.Write(ctx, func(tx *store.Tx) error {
			if err := tx.Lock(ctx, "user:slow"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	defer close(release)
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx *store.Tx) error { return tx.Lock(ctx, "user:other") })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("locking user:other waited for user:slow")
	}
	blocked := make(chan error, 1)
	go func() {
		blocked <- s.Write(ctx, func(tx *store.Tx) error { return tx.Lock(ctx, "user:slow") })
	}()
	select {
	case <-blocked:
		t.Fatal("a second lock on user:slow was granted while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
}
