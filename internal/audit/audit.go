// Package audit keeps Warden's tamper-evident audit log.
//
// The log is a set of hash chains, one per subject: each user has a chain, and
// so do admin keys and the system itself. A record's hash covers a canonical
// encoding of the record and its predecessor's hash, so editing, deleting,
// inserting or reordering a record breaks the chain at that point. Because
// chains are independent, writers for different users never wait for each
// other; a periodic checkpoint, authenticated with a key only Warden holds,
// seals the heads of every chain that grew, so that even a whole chain
// rewritten by someone with database access alone is detected.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/id"
)

// Entry is what an action records: who did what to whom, from where.
type Entry struct {
	// Actor is who acted: "user:usr_…", "admin_key:key_…", "staff:…" or "system".
	Actor string
	// Action is a stable dotted name, e.g. "session.created" or "webhook.endpoint_created".
	Action string
	// UserID is the user the action concerns, if any; it selects the chain.
	UserID    string
	IP        string
	RequestID string
	// Data holds the action's details. Never put secrets or tokens here.
	Data map[string]any
}

// Record is an Entry as stored: placed in its chain and hashed.
type Record struct {
	ID         string          `json:"id"`
	Chain      string          `json:"chain"`
	Seq        int64           `json:"seq"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	UserID     string          `json:"user_id,omitempty"`
	IP         string          `json:"ip,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	Data       json.RawMessage `json:"data"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// Head is the last record of a chain.
type Head struct {
	Chain string `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

// ChainOf says which chain an entry belongs to: its user's if it has one,
// otherwise its actor's.
func ChainOf(e Entry) string {
	if e.UserID != "" {
		return "user:" + e.UserID
	}
	if e.Actor != "" {
		return e.Actor
	}
	return "system"
}

// AppendTx is what Append needs from the transaction of the action it records.
type AppendTx interface {
	// LockAuditHead locks the chain's head until the transaction ends and
	// returns it; a chain without records has seq 0 and an empty hash.
	LockAuditHead(ctx context.Context, chain string) (Head, error)
	// InsertAuditRecord stores the record and makes it the chain's head.
	InsertAuditRecord(ctx context.Context, r Record) error
}

// Append adds an entry to its chain inside the caller's transaction, so the
// record commits or rolls back with the action it describes.
func Append(ctx context.Context, tx AppendTx, now time.Time, e Entry) (Record, error) {
	if e.Action == "" {
		return Record{}, fmt.Errorf("audit: entry without an action")
	}
	data := []byte("{}")
	if len(e.Data) > 0 {
		var err error
		// encoding/json writes map keys sorted, which makes this canonical.
		if data, err = json.Marshal(e.Data); err != nil {
			return Record{}, fmt.Errorf("audit %s: encode data: %w", e.Action, err)
		}
	}
	chain := ChainOf(e)
	head, err := tx.LockAuditHead(ctx, chain)
	if err != nil {
		return Record{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	actor := e.Actor
	if actor == "" {
		actor = "system"
	}
	r := Record{
		ID:         id.New("aud"),
		Chain:      chain,
		Seq:        head.Seq + 1,
		OccurredAt: now.UTC().Truncate(time.Microsecond), // the precision stored
		Actor:      actor,
		Action:     e.Action,
		UserID:     e.UserID,
		IP:         e.IP,
		RequestID:  e.RequestID,
		Data:       data,
		PrevHash:   head.Hash,
	}
	r.Hash = HashRecord(r)
	if err := tx.InsertAuditRecord(ctx, r); err != nil {
		return Record{}, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return r, nil
}

// HashRecord computes a record's hash: SHA-256 over a domain tag and every
// field, each length-prefixed so that no two different records encode alike.
// The previous record's hash is one of the fields, which makes the chain.
func HashRecord(r Record) string {
	h := sha256.New()
	h.Write([]byte("warden-audit-record-v1"))
	for _, field := range []string{
		r.ID, r.Chain, strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.OccurredAt.UnixMicro(), 10),
		r.Actor, r.Action, r.UserID, r.IP, r.RequestID, string(r.Data), r.PrevHash,
	} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(field)))])
		h.Write([]byte(field))
	}
	return hex.EncodeToString(h.Sum(nil))
}
