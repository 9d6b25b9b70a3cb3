package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Checkpoint seals the heads of the chains that grew since the previous checkpoint.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	Heads     []Head    `json:"heads"`
	PrevMAC   string    `json:"prev_mac"`
	KeyID     string    `json:"key_id"`
	MAC       string    `json:"mac"`
}

// MACKeys gives the key that authenticates checkpoints; keyring.Keyring is one.
type MACKeys interface {
	PrimaryID() string
	Derive(id, purpose string) ([]byte, error)
}

const macPurpose = "audit-checkpoint"

// CheckpointTx is what Seal needs from its transaction.
type CheckpointTx interface {
	// LockAuditCheckpoints orders checkpoint writers (several nodes may run one)
	// and returns the last checkpoint, or a zero one if there is none.
	LockAuditCheckpoints(ctx context.Context) (Checkpoint, error)
	// UnsealedAuditHeads lists the heads that grew since they were last sealed.
	UnsealedAuditHeads(ctx context.Context, limit int) ([]Head, error)
	// InsertAuditCheckpoint stores the checkpoint and marks its heads as sealed.
	InsertAuditCheckpoint(ctx context.Context, c Checkpoint) error
}

// Seal writes a checkpoint over the heads that grew since the last one. It
// returns false when nothing grew. At most limit heads go into one checkpoint;
// the rest wait for the next.
func Seal(ctx context.Context, tx CheckpointTx, keys MACKeys, now time.Time, limit int) (Checkpoint, bool, error) {
	last, err := tx.LockAuditCheckpoints(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit checkpoint: %w", err)
	}
	heads, err := tx.UnsealedAuditHeads(ctx, limit)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit checkpoint: %w", err)
	}
	if len(heads) == 0 {
		return Checkpoint{}, false, nil
	}
	c := Checkpoint{
		Seq:       last.Seq + 1,
		CreatedAt: now.UTC().Truncate(time.Microsecond),
		Heads:     heads,
		PrevMAC:   last.MAC,
		KeyID:     keys.PrimaryID(),
	}
	if c.MAC, err = checkpointMAC(keys, c); err != nil {
		return Checkpoint{}, false, err
	}
	if err := tx.InsertAuditCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit checkpoint: %w", err)
	}
	return c, true, nil
}

func checkpointMAC(keys MACKeys, c Checkpoint) (string, error) {
	key, err := keys.Derive(c.KeyID, macPurpose)
	if err != nil {
		return "", fmt.Errorf("audit checkpoint %d: %w", c.Seq, err)
	}
	heads, err := json.Marshal(c.Heads)
	if err != nil {
		return "", fmt.Errorf("audit checkpoint %d: %w", c.Seq, err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "warden-audit-checkpoint-v1\x00%d\x00%d\x00%s\x00", c.Seq, c.CreatedAt.UnixMicro(), c.PrevMAC)
	m.Write(heads)
	return hex.EncodeToString(m.Sum(nil)), nil
}
