package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/verification"
)

const verificationColumns = `id, account_id, purpose, status, target_tier, personal_info, info_key_id, resubmit, reason,
	reviewer, provider_ref, access_hash, created_at, updated_at, submitted_at, decided_at, documents_purged_at,
	effective_at, reminded_at, completed_at, cancelled_at`

func scanVerification(row rowScanner) (verification.Verification, error) {
	var v verification.Verification
	var resubmit string
	var created, updated, submitted, decided, purged, effective, reminded, completed, cancelled int64
	err := row.Scan(&v.ID, &v.AccountID, &v.Purpose, &v.Status, &v.TargetTier, &v.SealedInfo, &v.InfoKeyID, &resubmit, &v.Reason,
		&v.Reviewer, &v.ProviderRef, &v.AccessHash, &created, &updated, &submitted, &decided, &purged,
		&effective, &reminded, &completed, &cancelled)
	if isNoRows(err) {
		return v, ErrNotFound
	}
	if len(v.SealedInfo) == 0 {
		v.SealedInfo = nil
	}
	v.Resubmit = splitList(resubmit)
	v.CreatedAt, v.UpdatedAt, v.SubmittedAt, v.DecidedAt = fromMicros(created), fromMicros(updated), fromMicros(submitted), fromMicros(decided)
	v.DocumentsPurgedAt, v.EffectiveAt, v.RemindedAt = fromMicros(purged), fromMicros(effective), fromMicros(reminded)
	v.CompletedAt, v.CancelledAt = fromMicros(completed), fromMicros(cancelled)
	return v, err
}

// nullBytes stores an empty byte slice as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// InsertVerification stores a new verification.
func (tx *Tx) InsertVerification(ctx context.Context, v verification.Verification) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO verifications (`+verificationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		v.ID, v.AccountID, v.Purpose, v.Status, v.TargetTier, nullBytes(v.SealedInfo), v.InfoKeyID, strings.Join(v.Resubmit, ","), v.Reason,
		v.Reviewer, v.ProviderRef, v.AccessHash, micros(v.CreatedAt), micros(v.UpdatedAt), micros(v.SubmittedAt), micros(v.DecidedAt),
		micros(v.DocumentsPurgedAt), micros(v.EffectiveAt), micros(v.RemindedAt), micros(v.CompletedAt), micros(v.CancelledAt))
	if err != nil {
		return fmt.Errorf("insert verification: %w", err)
	}
	return nil
}

// UpdateVerification is read-modify-write of a verification under its lock:
// fn sees the current row and returns the new one (or an error, which
// changes nothing). The id, account, purpose and creation time never change.
func (tx *Tx) UpdateVerification(ctx context.Context, id string, fn func(old verification.Verification) (verification.Verification, error)) (verification.Verification, error) {
	if err := tx.Lock(ctx, "verification:"+id); err != nil {
		return verification.Verification{}, err
	}
	old, err := tx.VerificationByID(ctx, id)
	if err != nil {
		return verification.Verification{}, err
	}
	v, err := fn(old)
	if err != nil {
		return verification.Verification{}, err
	}
	v.ID, v.AccountID, v.Purpose, v.CreatedAt = old.ID, old.AccountID, old.Purpose, old.CreatedAt
	return v, tx.execOne(ctx, "update verification "+id, `UPDATE verifications SET status = $2, target_tier = $3,
			personal_info = $4, info_key_id = $5, resubmit = $6, reason = $7, reviewer = $8, provider_ref = $9, access_hash = $10,
			updated_at = $11, submitted_at = $12, decided_at = $13, documents_purged_at = $14,
			effective_at = $15, reminded_at = $16, completed_at = $17, cancelled_at = $18
		WHERE id = $1`,
		id, v.Status, v.TargetTier, nullBytes(v.SealedInfo), v.InfoKeyID, strings.Join(v.Resubmit, ","), v.Reason, v.Reviewer, v.ProviderRef, v.AccessHash,
		micros(v.UpdatedAt), micros(v.SubmittedAt), micros(v.DecidedAt), micros(v.DocumentsPurgedAt),
		micros(v.EffectiveAt), micros(v.RemindedAt), micros(v.CompletedAt), micros(v.CancelledAt))
}

// oneVerification runs a query for at most one verification; what names it in errors.
func (tx *Tx) oneVerification(ctx context.Context, what, query string, args ...any) (verification.Verification, error) {
	v, err := scanVerification(tx.q.QueryRowContext(ctx, `SELECT `+verificationColumns+` FROM verifications `+query, args...))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, err
}

// VerificationByID finds a verification by id.
func (tx *Tx) VerificationByID(ctx context.Context, id string) (verification.Verification, error) {
	return tx.oneVerification(ctx, "find verification "+id, `WHERE id = $1`, id)
}

// LatestVerification finds the account's newest verification for purpose
// with status, or of any status when status is empty.
func (tx *Tx) LatestVerification(ctx context.Context, accountID, purpose, status string) (verification.Verification, error) {
	return tx.oneVerification(ctx, "find latest verification",
		`WHERE account_id = $1 AND purpose = $2 AND ($3 = '' OR status = $3) ORDER BY created_at DESC, id DESC LIMIT 1`,
		accountID, purpose, status)
}

// VerificationByAccess finds a 2FA reset by the hash of its access token;
// an empty hash (a tier verification's) finds nothing.
func (tx *Tx) VerificationByAccess(ctx context.Context, accessHash string) (verification.Verification, error) {
	if accessHash == "" {
		return verification.Verification{}, ErrNotFound
	}
	return tx.oneVerification(ctx, "find verification by access token", `WHERE access_hash = $1`, accessHash)
}

// Verifications lists verifications with status (all when empty), oldest
// submission first: with pending_review, the review queue.
func (tx *Tx) Verifications(ctx context.Context, status string, limit int) ([]verification.Verification, error) {
	return queryAll(ctx, tx.q, "list verifications", scanVerification, `SELECT `+verificationColumns+` FROM verifications
		WHERE ($1 = '' OR status = $1) ORDER BY submitted_at, created_at, id LIMIT $2`, status, limit)
}

// DecidedBefore lists verifications whose documents are due for purging:
// decided (approved or rejected), or cancelled undecided, before cutoff, and
// not purged yet.
func (tx *Tx) DecidedBefore(ctx context.Context, cutoff time.Time, limit int) ([]verification.Verification, error) {
	return queryAll(ctx, tx.q, "list verifications due for purging", scanVerification, `SELECT `+verificationColumns+` FROM verifications
		WHERE documents_purged_at = 0
			AND ((decided_at > 0 AND decided_at < $1) OR (decided_at = 0 AND cancelled_at > 0 AND cancelled_at < $1)
				OR (decided_at = 0 AND cancelled_at = 0 AND status IN ($3, $4, $5) AND updated_at < $1))
		ORDER BY decided_at, cancelled_at, id LIMIT $2`, micros(cutoff), limit,
		verification.StatusNotStarted, verification.StatusInProgress, verification.StatusResubmissionRequested)
}

// ResetsDue lists approved 2FA resets still waiting whose end (effective_at)
// or next reminder (remindEvery after the last) has come at now.
func (tx *Tx) ResetsDue(ctx context.Context, now time.Time, remindEvery time.Duration, limit int) ([]verification.Verification, error) {
	return queryAll(ctx, tx.q, "list due 2FA resets", scanVerification, `SELECT `+verificationColumns+` FROM verifications
		WHERE purpose = $1 AND status = $2 AND completed_at = 0 AND cancelled_at = 0
			AND (effective_at <= $3 OR reminded_at <= $4)
		ORDER BY effective_at, id LIMIT $5`,
		verification.PurposeMFAReset, verification.StatusApproved, micros(now), micros(now.Add(-remindEvery)), limit)
}

// documentColumns are every column of verification_documents but content;
// queries select content (or NULL, to leave it out) after them.
const documentColumns = `id, verification_id, account_id, kind, side, media_type, sha256, size, width, height,
	key_id, created_at, replaced_at, purged_at`

func scanDocument(row rowScanner) (verification.Document, error) {
	var d verification.Document
	var created, replaced, purged int64
	err := row.Scan(&d.ID, &d.VerificationID, &d.AccountID, &d.Kind, &d.Side, &d.MediaType, &d.SHA256, &d.Size, &d.Width, &d.Height,
		&d.KeyID, &created, &replaced, &purged, &d.Sealed)
	if isNoRows(err) {
		return d, ErrNotFound
	}
	if len(d.Sealed) == 0 {
		d.Sealed = nil
	}
	d.CreatedAt, d.ReplacedAt, d.PurgedAt = fromMicros(created), fromMicros(replaced), fromMicros(purged)
	return d, err
}

// idKinds are the government ID document kinds: an upload of one replaces
// the same side of any of them.
var idKinds = []string{verification.KindPassport, verification.KindIDCard, verification.KindDriversLicense}

// InsertDocument stores a document and marks replaced, at its creation, the
// verification's current documents it supersedes: the same kind and side; for
// an ID, the same side of any ID kind; for a passport, a whole ID (both sides).
func (tx *Tx) InsertDocument(ctx context.Context, d verification.Document) error {
	kinds, sameSide := []string{d.Kind}, true
	switch d.Kind {
	case verification.KindPassport:
		kinds, sameSide = idKinds, false
	case verification.KindIDCard, verification.KindDriversLicense:
		kinds = idKinds
	}
	args := []any{d.VerificationID, micros(d.CreatedAt)}
	query := `UPDATE verification_documents SET replaced_at = $2
		WHERE verification_id = $1 AND replaced_at = 0 AND kind IN (` + placeholders(&args, kinds...) + `)`
	if sameSide {
		query += ` AND side = ` + placeholders(&args, d.Side)
	}
	if _, err := tx.q.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("replace earlier documents: %w", err)
	}
	_, err := tx.q.ExecContext(ctx, `INSERT INTO verification_documents (`+documentColumns+`, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		d.ID, d.VerificationID, d.AccountID, d.Kind, d.Side, d.MediaType, d.SHA256, d.Size, d.Width, d.Height,
		d.KeyID, micros(d.CreatedAt), micros(d.ReplacedAt), micros(d.PurgedAt), nullBytes(d.Sealed))
	if err != nil {
		return fmt.Errorf("insert document: %w", err)
	}
	return nil
}

// placeholders appends values to args and returns their placeholders, comma-separated.
func placeholders(args *[]any, values ...string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		*args = append(*args, v)
		ph[i] = fmt.Sprintf("$%d", len(*args))
	}
	return strings.Join(ph, ", ")
}

// DocumentsOf lists a verification's documents, replaced ones included,
// oldest first, without their content.
func (tx *Tx) DocumentsOf(ctx context.Context, verificationID string) ([]verification.Document, error) {
	return queryAll(ctx, tx.q, "list documents", scanDocument, `SELECT `+documentColumns+`, NULL FROM verification_documents
		WHERE verification_id = $1 ORDER BY created_at, id`, verificationID)
}

// DocumentContent finds a document with its sealed content (empty once purged).
func (tx *Tx) DocumentContent(ctx context.Context, documentID string) (verification.Document, error) {
	d, err := scanDocument(tx.q.QueryRowContext(ctx, `SELECT `+documentColumns+`, content FROM verification_documents
		WHERE id = $1`, documentID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("find document %s: %w", documentID, err)
	}
	return d, err
}

// ReplaceDocuments marks the verification's current documents of kinds
// replaced (a reviewer asked for them again).
func (tx *Tx) ReplaceDocuments(ctx context.Context, verificationID string, kinds []string, now time.Time) error {
	if len(kinds) == 0 {
		return nil
	}
	args := []any{verificationID, micros(now)}
	_, err := tx.q.ExecContext(ctx, `UPDATE verification_documents SET replaced_at = $2
		WHERE verification_id = $1 AND replaced_at = 0 AND kind IN (`+placeholders(&args, kinds...)+`)`, args...)
	if err != nil {
		return fmt.Errorf("replace documents: %w", err)
	}
	return nil
}

// PurgeDocuments drops the content of the verification's documents not
// purged yet, keeping their hashes, and returns how many it purged.
func (tx *Tx) PurgeDocuments(ctx context.Context, verificationID string, now time.Time) (int, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE verification_documents SET content = NULL, purged_at = $2
		WHERE verification_id = $1 AND purged_at = 0`, verificationID, micros(now))
	if err != nil {
		return 0, fmt.Errorf("purge documents: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge documents: %w", err)
	}
	return int(n), nil
}

// TakeProviderMessage records a provider's message id; false when it was
// taken already (a replay).
func (tx *Tx) TakeProviderMessage(ctx context.Context, provider, messageID string, now time.Time) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO provider_messages (provider, message_id, received_at)
		VALUES ($1, $2, $3) ON CONFLICT (provider, message_id) DO NOTHING`, provider, messageID, micros(now))
	if err != nil {
		return false, fmt.Errorf("take provider message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take provider message: %w", err)
	}
	return n == 1, nil
}
