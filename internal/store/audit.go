package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wardenhq/warden/internal/audit"
)

// The statements of an audit append; they are among hotStatements.
const (
	lockAuditHeadSQL = `
		INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 0, '')
		ON CONFLICT (chain) DO UPDATE SET seq = audit_heads.seq
		RETURNING seq, hash`
	insertAuditRecordSQL = `
		INSERT INTO audit_records (id, chain, seq, occurred_at, actor, action, user_id, ip, request_id, data, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	advanceAuditHeadSQL = `UPDATE audit_heads SET seq = $2, hash = $3 WHERE chain = $1`
)

// LockAuditHead implements audit.AppendTx. The upsert both creates a missing
// head and takes its row lock in one statement; RETURNING gives the head as it
// was, since the update changes nothing.
func (tx *Tx) LockAuditHead(ctx context.Context, chain string) (audit.Head, error) {
	h := audit.Head{Chain: chain}
	err := tx.queryRowHot(ctx, lockAuditHeadSQL, chain).Scan(&h.Seq, &h.Hash)
	if err != nil {
		return audit.Head{}, fmt.Errorf("lock audit head %s: %w", chain, err)
	}
	return h, nil
}

// InsertAuditRecord implements audit.AppendTx.
func (tx *Tx) InsertAuditRecord(ctx context.Context, r audit.Record) error {
	if _, err := tx.execHot(ctx, insertAuditRecordSQL,
		r.ID, r.Chain, r.Seq, micros(r.OccurredAt), r.Actor, r.Action, r.UserID, r.IP, r.RequestID, string(r.Data), r.PrevHash, r.Hash,
	); err != nil {
		return fmt.Errorf("insert audit record: %w", err)
	}
	if _, err := tx.execHot(ctx, advanceAuditHeadSQL, r.Chain, r.Seq, r.Hash); err != nil {
		return fmt.Errorf("advance audit head: %w", err)
	}
	return nil
}

// LockAuditCheckpoints implements audit.CheckpointTx.
func (tx *Tx) LockAuditCheckpoints(ctx context.Context) (audit.Checkpoint, error) {
	if err := tx.Lock(ctx, "audit:checkpoints"); err != nil {
		return audit.Checkpoint{}, err
	}
	var c audit.Checkpoint
	err := tx.q.QueryRowContext(ctx,
		`SELECT seq, mac FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&c.Seq, &c.MAC)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Checkpoint{}, nil
	}
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("read last audit checkpoint: %w", err)
	}
	return c, nil
}

// UnsealedAuditHeads implements audit.CheckpointTx.
func (tx *Tx) UnsealedAuditHeads(ctx context.Context, limit int) ([]audit.Head, error) {
	return queryAll(ctx, tx.q, "list unsealed audit heads", scanAuditHead,
		`SELECT chain, seq, hash FROM audit_heads WHERE seq > checkpointed_seq ORDER BY chain LIMIT $1`, limit)
}

func scanAuditHead(row rowScanner) (audit.Head, error) {
	var h audit.Head
	err := row.Scan(&h.Chain, &h.Seq, &h.Hash)
	return h, err
}

// InsertAuditCheckpoint implements audit.CheckpointTx.
func (tx *Tx) InsertAuditCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	heads, err := json.Marshal(c.Heads)
	if err != nil {
		return fmt.Errorf("encode audit checkpoint: %w", err)
	}
	if _, err := tx.q.ExecContext(ctx, `
		INSERT INTO audit_checkpoints (seq, created_at, heads, prev_mac, key_id, mac)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		c.Seq, micros(c.CreatedAt), string(heads), c.PrevMAC, c.KeyID, c.MAC); err != nil {
		return fmt.Errorf("insert audit checkpoint: %w", err)
	}
	for _, h := range c.Heads {
		// A writer may have moved the head on since it was read; sealing only
		// up to the seq read leaves the newer records for the next checkpoint.
		if _, err := tx.q.ExecContext(ctx,
			`UPDATE audit_heads SET checkpointed_seq = $2 WHERE chain = $1 AND checkpointed_seq < $2`, h.Chain, h.Seq); err != nil {
			return fmt.Errorf("mark audit head sealed: %w", err)
		}
	}
	return nil
}

const auditColumns = `id, chain, seq, occurred_at, actor, action, user_id, ip, request_id, data, prev_hash, hash`

func scanAuditRecord(rows rowScanner) (audit.Record, error) {
	var r audit.Record
	var at int64
	var data string
	err := rows.Scan(&r.ID, &r.Chain, &r.Seq, &at, &r.Actor, &r.Action, &r.UserID, &r.IP, &r.RequestID, &data, &r.PrevHash, &r.Hash)
	r.OccurredAt = fromMicros(at)
	r.Data = json.RawMessage(data)
	return r, err
}

// EachAuditRecord implements audit.VerifySource. Joining each record to its
// chain's head lets Verify stream the log in one pass, whatever its size.
func (tx *Tx) EachAuditRecord(ctx context.Context, fn func(audit.Record, audit.Head) error) error {
	rows, err := tx.q.QueryContext(ctx, `
		SELECT r.id, r.chain, r.seq, r.occurred_at, r.actor, r.action, r.user_id, r.ip, r.request_id, r.data, r.prev_hash, r.hash,
		       COALESCE(h.chain, ''), COALESCE(h.seq, 0), COALESCE(h.hash, '')
		FROM audit_records r LEFT JOIN audit_heads h ON h.chain = r.chain
		ORDER BY r.chain, r.seq`)
	if err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r audit.Record
		var h audit.Head
		var at int64
		var data string
		if err := rows.Scan(&r.ID, &r.Chain, &r.Seq, &at, &r.Actor, &r.Action, &r.UserID, &r.IP, &r.RequestID, &data, &r.PrevHash, &r.Hash,
			&h.Chain, &h.Seq, &h.Hash); err != nil {
			return fmt.Errorf("read audit records: %w", err)
		}
		r.OccurredAt, r.Data = fromMicros(at), json.RawMessage(data)
		if err := fn(r, h); err != nil {
			return err
		}
	}
	return rows.Err()
}

// HeadlessAuditChains implements audit.VerifySource.
func (tx *Tx) HeadlessAuditChains(ctx context.Context) ([]audit.Head, error) {
	return queryAll(ctx, tx.q, "read audit heads", scanAuditHead, `
		SELECT h.chain, h.seq, h.hash FROM audit_heads h
		WHERE h.seq > 0 AND NOT EXISTS (SELECT 1 FROM audit_records r WHERE r.chain = h.chain)
		ORDER BY h.chain LIMIT 10`)
}

// EachAuditCheckpoint implements audit.VerifySource.
func (tx *Tx) EachAuditCheckpoint(ctx context.Context, fn func(audit.Checkpoint) error) error {
	rows, err := tx.q.QueryContext(ctx, `SELECT seq, created_at, heads, prev_mac, key_id, mac FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("read audit checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c audit.Checkpoint
		var at int64
		var heads string
		if err := rows.Scan(&c.Seq, &at, &heads, &c.PrevMAC, &c.KeyID, &c.MAC); err != nil {
			return fmt.Errorf("read audit checkpoints: %w", err)
		}
		c.CreatedAt = fromMicros(at)
		if err := json.Unmarshal([]byte(heads), &c.Heads); err != nil {
			// An undecodable checkpoint is reported by Verify as not matching its MAC.
			c.Heads = nil
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuditFilter selects records for the admin API, newest first.
type AuditFilter struct {
	UserID string
	Action string
	// Before continues a listing: records strictly older than this position.
	Before *Cursor
	Limit  int
}

// ListAuditRecords returns records matching f, newest first.
func (tx *Tx) ListAuditRecords(ctx context.Context, f AuditFilter) ([]audit.Record, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.UserID != "" {
		// A user's records are exactly their chain (audit.ChainOf), which the primary key indexes.
		where = append(where, "chain = "+arg("user:"+f.UserID))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.Before != nil {
		at, id := arg(micros(f.Before.At)), arg(f.Before.ID)
		where = append(where, fmt.Sprintf("(occurred_at < %s OR (occurred_at = %s AND id < %s))", at, at, id))
	}
	query := `SELECT ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY occurred_at DESC, id DESC LIMIT " + arg(f.Limit)
	return queryAll(ctx, tx.q, "list audit records", scanAuditRecord, query, args...)
}
