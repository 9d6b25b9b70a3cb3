package audit

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
)

// VerifySource streams the stored log for Verify, all from one snapshot.
type VerifySource interface {
	// EachAuditRecord calls fn for every record, ordered by chain and then
	// seq, with the head recorded for its chain (zero if there is none).
	EachAuditRecord(ctx context.Context, fn func(r Record, chainHead Head) error) error
	// HeadlessAuditChains lists heads whose chain has no records at all.
	HeadlessAuditChains(ctx context.Context) ([]Head, error)
	// EachAuditCheckpoint calls fn for every checkpoint, ordered by seq.
	EachAuditCheckpoint(ctx context.Context, fn func(Checkpoint) error) error
}

// Report is the outcome of Verify. Broken is nil when the log is intact.
type Report struct {
	Records     int64   `json:"records"`
	Chains      int64   `json:"chains"`
	Checkpoints int64   `json:"checkpoints"`
	Broken      *Broken `json:"broken,omitempty"`
}

// Broken names the first place where the log does not hold together.
type Broken struct {
	RecordID   string `json:"record_id,omitempty"`
	Chain      string `json:"chain,omitempty"`
	Seq        int64  `json:"seq,omitempty"`
	Checkpoint int64  `json:"checkpoint,omitempty"`
	Problem    string `json:"problem"`
}

func (b *Broken) Error() string {
	switch {
	case b.RecordID != "":
		return fmt.Sprintf("audit record %s (chain %s, seq %d): %s", b.RecordID, b.Chain, b.Seq, b.Problem)
	case b.Checkpoint != 0:
		return fmt.Sprintf("audit checkpoint %d: %s", b.Checkpoint, b.Problem)
	default:
		return fmt.Sprintf("audit chain %s: %s", b.Chain, b.Problem)
	}
}

// errStop ends a stream early once the first break is found.
var errStop = errors.New("stop")

// Verify checks the whole log: every record's hash, every link to its
// predecessor, that seqs run 1, 2, 3… without gaps, that each chain ends at
// its recorded head, and that checkpoints are authentic and agree with the
// records they sealed. It stops at the first break and names it.
func Verify(ctx context.Context, src VerifySource, keys MACKeys) (Report, error) {
	var rep Report
	sealed, broken, err := verifyCheckpoints(ctx, src, keys, &rep)
	if err != nil || broken != nil {
		rep.Broken = broken
		return rep, err
	}

	var prev Record // the record before, in the chain being read
	var head Head   // that chain's recorded head
	// endOfChain checks that the chain just read ends where its head says.
	endOfChain := func() *Broken {
		switch {
		case prev.Chain == "":
			return nil
		case head.Chain == "":
			return &Broken{RecordID: prev.ID, Chain: prev.Chain, Seq: prev.Seq, Problem: "chain has no head (records inserted outside Warden)"}
		case head.Seq > prev.Seq:
			return &Broken{Chain: prev.Chain, Seq: prev.Seq + 1, Problem: fmt.Sprintf("head says seq %d but the chain ends at seq %d (records deleted)", head.Seq, prev.Seq)}
		case head.Seq < prev.Seq:
			return &Broken{RecordID: prev.ID, Chain: prev.Chain, Seq: prev.Seq, Problem: fmt.Sprintf("record beyond the chain's head at seq %d (inserted)", head.Seq)}
		case head.Hash != prev.Hash:
			return &Broken{RecordID: prev.ID, Chain: prev.Chain, Seq: prev.Seq, Problem: "head hash does not match the last record (edited)"}
		}
		return nil
	}

	err = src.EachAuditRecord(ctx, func(r Record, chainHead Head) error {
		if r.Chain != prev.Chain {
			if broken = endOfChain(); broken != nil {
				return errStop
			}
			prev, head = Record{}, chainHead
			rep.Chains++
		}
		rep.Records++
		bad := func(problem string) error {
			broken = &Broken{RecordID: r.ID, Chain: r.Chain, Seq: r.Seq, Problem: problem}
			return errStop
		}
		switch {
		case r.Seq != prev.Seq+1:
			return bad(fmt.Sprintf("expected seq %d after %d (a record is missing, inserted or moved)", prev.Seq+1, prev.Seq))
		case r.PrevHash != prev.Hash:
			return bad("does not link to the record before it (inserted, deleted or reordered)")
		case HashRecord(r) != r.Hash:
			return bad("hash does not match its contents (edited)")
		}
		key := seqKey{r.Chain, r.Seq}
		if want, ok := sealed[key]; ok {
			if want != r.Hash {
				return bad("differs from what a checkpoint sealed (chain rewritten)")
			}
			delete(sealed, key)
		}
		prev = r
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	if broken == nil {
		broken = endOfChain()
	}
	if broken == nil {
		headless, err := src.HeadlessAuditChains(ctx)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: %w", err)
		}
		if len(headless) > 0 {
			h := headless[0]
			broken = &Broken{Chain: h.Chain, Seq: 1, Problem: fmt.Sprintf("head says seq %d but the chain has no records (deleted)", h.Seq)}
		}
	}
	if broken == nil {
		for k := range sealed {
			broken = &Broken{Chain: k.chain, Seq: k.seq, Problem: "a checkpoint sealed this record but it is gone (deleted)"}
			break
		}
	}
	rep.Broken = broken
	return rep, nil
}

type seqKey struct {
	chain string
	seq   int64
}

func verifyCheckpoints(ctx context.Context, src VerifySource, keys MACKeys, rep *Report) (map[seqKey]string, *Broken, error) {
	sealed := map[seqKey]string{}
	var prev Checkpoint
	var broken *Broken
	err := src.EachAuditCheckpoint(ctx, func(c Checkpoint) error {
		rep.Checkpoints++
		bad := func(problem string) error {
			broken = &Broken{Checkpoint: c.Seq, Problem: problem}
			return errStop
		}
		if c.Seq != prev.Seq+1 {
			return bad(fmt.Sprintf("expected checkpoint %d after %d (deleted or inserted)", prev.Seq+1, prev.Seq))
		}
		if c.PrevMAC != prev.MAC {
			return bad("does not link to the checkpoint before it")
		}
		want, err := checkpointMAC(keys, c)
		if err != nil {
			return bad(err.Error())
		}
		if !hmac.Equal([]byte(want), []byte(c.MAC)) {
			return bad("authentication code does not match (forged or edited)")
		}
		for _, h := range c.Heads {
			sealed[seqKey{h.Chain, h.Seq}] = h.Hash
		}
		prev = c
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, nil, fmt.Errorf("verify audit checkpoints: %w", err)
	}
	return sealed, broken, nil
}
