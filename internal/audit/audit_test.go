package audit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

func testKeys(t *testing.T) *keyring.Keyring {
	t.Helper()
	key := make([]byte, keyring.KeySize)
	_, _ = rand.Read(key)
	k, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func appendN(t *testing.T, s *store.Store, userID string, n int) []audit.Record {
	t.Helper()
	var out []audit.Record
	for i := range n {
		err := s.Write(context.Background(), func(tx *store.Tx) error {
			r, err := audit.Append(context.Background(), tx, time.Now(), audit.Entry{
				Actor: "user:" + userID, Action: "test.action", UserID: userID, IP: "192.0.2.1",
				Data: map[string]any{"i": i, "note": "ünïcode & <html>"},
			})
			out = append(out, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func verify(t *testing.T, s *store.Store, keys *keyring.Keyring) audit.Report {
	t.Helper()
	var rep audit.Report
	err := s.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		rep, err = audit.Verify(context.Background(), tx, keys)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func seal(t *testing.T, s *store.Store, keys *keyring.Keyring) (audit.Checkpoint, bool) {
	t.Helper()
	var c audit.Checkpoint
	var ok bool
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		c, ok, err = audit.Seal(context.Background(), tx, keys, time.Now(), 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, ok
}

func TestIntactLogVerifies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		keys := testKeys(t)
		appendN(t, s, "usr_a", 5)
		appendN(t, s, "usr_b", 3)
		if _, ok := seal(t, s, keys); !ok {
			t.Fatal("first checkpoint sealed nothing")
		}
		if _, ok := seal(t, s, keys); ok {
			t.Fatal("a checkpoint with nothing new was written")
		}
		appendN(t, s, "usr_a", 2)
		c, ok := seal(t, s, keys)
		if !ok || len(c.Heads) != 1 || c.Heads[0].Seq != 7 {
			t.Fatalf("second checkpoint = %+v, want only usr_a's head at seq 7", c)
		}
		rep := verify(t, s, keys)
		if rep.Broken != nil || rep.Records != 10 || rep.Chains != 2 || rep.Checkpoints != 2 {
			t.Fatalf("report = %+v, broken = %v", rep, rep.Broken)
		}
	})
}

// Each tampering done directly in the database is found, and the report
// names the first bad record.
func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// tamper changes the chain of five records r (seq 1..5); it returns the
		// id of the record the report must name, or "" with the seq it must name.
		tamper    func(ctx context.Context, s *store.Store, r []audit.Record) error
		wantID    func(r []audit.Record) string
		wantSeq   int64
		wantWords string
	}{
		{
			name: "edited",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				return s.ExecRaw(ctx, `UPDATE audit_records SET data = '{"i":99}' WHERE id = $1`, r[2].ID)
			},
			wantID: func(r []audit.Record) string { return r[2].ID }, wantWords: "edited",
		},
		{
			name: "deleted",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				return s.ExecRaw(ctx, `DELETE FROM audit_records WHERE id = $1`, r[1].ID)
			},
			wantID: func(r []audit.Record) string { return r[2].ID }, wantWords: "missing",
		},
		{
			name: "deleted at the end",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				return s.ExecRaw(ctx, `DELETE FROM audit_records WHERE id = $1`, r[4].ID)
			},
			wantSeq: 5, wantWords: "deleted",
		},
		{
			name: "inserted",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				// Make room after seq 2 and forge a record there, linked to seq 2 and correctly hashed.
				if err := s.ExecRaw(ctx, `UPDATE audit_records SET seq = seq + 100 WHERE chain = $1 AND seq > 2`, r[0].Chain); err != nil {
					return err
				}
				if err := s.ExecRaw(ctx, `UPDATE audit_records SET seq = seq - 99 WHERE chain = $1 AND seq > 100`, r[0].Chain); err != nil {
					return err
				}
				forged := r[2]
				forged.ID, forged.Action, forged.PrevHash = "aud_forged", "withdrawal.approved", r[1].Hash
				forged.Hash = audit.HashRecord(forged)
				return s.ExecRaw(ctx, `INSERT INTO audit_records (id, chain, seq, occurred_at, actor, action, user_id, ip, request_id, data, prev_hash, hash)
					VALUES ($1, $2, 3, $3, $4, $5, $6, $7, '', $8, $9, $10)`,
					forged.ID, forged.Chain, forged.OccurredAt.UnixMicro(), forged.Actor, forged.Action, forged.UserID, forged.IP, string(forged.Data), forged.PrevHash, forged.Hash)
			},
			wantID: func(r []audit.Record) string { return r[2].ID }, wantWords: "link",
		},
		{
			name: "reordered",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				if err := s.ExecRaw(ctx, `UPDATE audit_records SET seq = 100 WHERE id = $1`, r[1].ID); err != nil {
					return err
				}
				if err := s.ExecRaw(ctx, `UPDATE audit_records SET seq = 2 WHERE id = $1`, r[2].ID); err != nil {
					return err
				}
				return s.ExecRaw(ctx, `UPDATE audit_records SET seq = 3 WHERE id = $1`, r[1].ID)
			},
			wantID: func(r []audit.Record) string { return r[2].ID }, wantWords: "link",
		},
		{
			name: "whole chain rewritten after a checkpoint",
			tamper: func(ctx context.Context, s *store.Store, r []audit.Record) error {
				// An intruder who knows the hash scheme (but not the checkpoint
				// key) rewrites record 4 and recomputes everything after it.
				prev := r[2].Hash
				for _, rec := range r[3:] {
					rec.PrevHash = prev
					if rec.Seq == 4 {
						rec.Data = []byte(`{"i":3,"note":"nothing happened"}`)
					}
					rec.Hash = audit.HashRecord(rec)
					if err := s.ExecRaw(ctx, `UPDATE audit_records SET data = $2, prev_hash = $3, hash = $4 WHERE id = $1`,
						rec.ID, string(rec.Data), rec.PrevHash, rec.Hash); err != nil {
						return err
					}
					prev = rec.Hash
				}
				return s.ExecRaw(ctx, `UPDATE audit_heads SET hash = $2 WHERE chain = $1`, r[0].Chain, prev)
			},
			wantID: func(r []audit.Record) string { return r[4].ID }, wantWords: "checkpoint",
		},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		keys := testKeys(t)
		for i, tc := range cases {
			// Each case on its own user's chain, with an untouched chain beside it.
			user := fmt.Sprintf("usr_%d", i)
			records := appendN(t, s, user, 5)
			appendN(t, s, user+"_bystander", 2)
			seal(t, s, keys)
			if rep := verify(t, s, keys); rep.Broken != nil {
				t.Fatalf("%s: log broken before tampering: %v", tc.name, rep.Broken)
			}
			if err := tc.tamper(context.Background(), s, records); err != nil {
				t.Fatalf("%s: tamper: %v", tc.name, err)
			}
			rep := verify(t, s, keys)
			if rep.Broken == nil {
				t.Fatalf("%s: tampering not detected", tc.name)
			}
			if tc.wantID != nil && rep.Broken.RecordID != tc.wantID(records) {
				t.Errorf("%s: names record %q (%v), want %q", tc.name, rep.Broken.RecordID, rep.Broken, tc.wantID(records))
			}
			if tc.wantSeq != 0 && (rep.Broken.Seq != tc.wantSeq || rep.Broken.Chain != records[0].Chain) {
				t.Errorf("%s: names %v, want chain %s seq %d", tc.name, rep.Broken, records[0].Chain, tc.wantSeq)
			}
			if !strings.Contains(rep.Broken.Error(), tc.wantWords) {
				t.Errorf("%s: problem %q does not mention %q", tc.name, rep.Broken.Error(), tc.wantWords)
			}
			// Repair by moving the broken chain aside, so the next case starts from an intact log.
			for _, q := range []string{`DELETE FROM audit_records WHERE chain = $1`, `DELETE FROM audit_heads WHERE chain = $1`} {
				if err := s.ExecRaw(context.Background(), q, records[0].Chain); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.ExecRaw(context.Background(), `DELETE FROM audit_checkpoints`); err != nil {
				t.Fatal(err)
			}
			if err := s.ExecRaw(context.Background(), `UPDATE audit_heads SET checkpointed_seq = 0`); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestForgedCheckpointIsDetected(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	keys := testKeys(t)
	appendN(t, s, "usr_x", 2)
	seal(t, s, keys)
	if err := s.ExecRaw(context.Background(), `UPDATE audit_checkpoints SET heads = '[]'`); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, s, keys)
	if rep.Broken == nil || rep.Broken.Checkpoint != 1 {
		t.Fatalf("forged checkpoint: report %+v", rep.Broken)
	}
	// Verifying with another key than the one that sealed fails too.
	for _, q := range []string{`DELETE FROM audit_checkpoints`, `UPDATE audit_heads SET checkpointed_seq = 0`} {
		if err := s.ExecRaw(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := seal(t, s, testKeys(t)); !ok {
		t.Fatal("nothing sealed")
	}
	if rep := verify(t, s, keys); rep.Broken == nil {
		t.Fatal("checkpoint made with an unknown key verified")
	}
}

// Writers for different users append concurrently, and the chains stay whole.
func TestConcurrentAppendsKeepChainsWhole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		keys := testKeys(t)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := fmt.Sprintf("usr_%d", w%3) // several writers share a chain
				for range 20 {
					err := s.Write(context.Background(), func(tx *store.Tx) error {
						_, err := audit.Append(context.Background(), tx, time.Now(), audit.Entry{Action: "test.concurrent", UserID: user})
						return err
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() { // a checkpointer running alongside
			defer wg.Done()
			for range 5 {
				seal(t, s, keys)
				time.Sleep(time.Millisecond)
			}
		}()
		wg.Wait()
		seal(t, s, keys)
		rep := verify(t, s, keys)
		if rep.Broken != nil || rep.Records != 160 || rep.Chains != 3 {
			t.Fatalf("report %+v, broken %v", rep, rep.Broken)
		}
	})
}

func TestListAuditRecordsFiltersAndPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		appendN(t, s, "usr_a", 5)
		appendN(t, s, "usr_b", 2)
		var seen []string
		var before *store.Cursor
		for {
			var page []audit.Record
			err := s.Read(context.Background(), func(tx *store.Tx) error {
				var err error
				page, err = tx.ListAuditRecords(context.Background(), store.AuditFilter{UserID: "usr_a", Before: before, Limit: 2})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				if r.UserID != "usr_a" {
					t.Fatalf("filter leaked %s", r.UserID)
				}
				seen = append(seen, r.ID)
			}
			if len(page) < 2 {
				break
			}
			last := page[len(page)-1]
			before = &store.Cursor{At: last.OccurredAt, ID: last.ID}
		}
		if len(seen) != 5 {
			t.Fatalf("paged through %d records, want 5", len(seen))
		}
	})
}
