package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/withdrawal"
)

// LockWithdrawals serialises one account's withdrawal decisions: the limit
// check (UsedSince) and the reservation (InsertWithdrawal) are one step. On
// PostgreSQL it is a subject lock; SQLite has one writer at a time.
func (tx *Tx) LockWithdrawals(ctx context.Context, accountID string) error {
	return tx.Lock(ctx, "withdrawals:"+accountID)
}

// joinList stores a list comma-separated (read back with splitList). An item
// that is empty or holds a comma would not come back as it went in, so it is
// refused rather than stored changed.
func joinList(what string, list []string) (string, error) {
	for _, s := range list {
		if s == "" || strings.Contains(s, ",") {
			return "", fmt.Errorf("%s: list item %q cannot be stored (empty or holds a comma)", what, s)
		}
	}
	return strings.Join(list, ","), nil
}

// Addresses.

const addressColumns = `id, account_id, asset, network, address, memo, label, status, confirm_token_hash,
	created_at, confirm_by, confirmed_at, available_at, deleted_at`

func scanAddress(row rowScanner) (withdrawal.Address, error) {
	var a withdrawal.Address
	var created, confirmBy, confirmed, available, deleted int64
	err := row.Scan(&a.ID, &a.AccountID, &a.Asset, &a.Network, &a.Address, &a.Memo, &a.Label, &a.Status, &a.ConfirmTokenHash,
		&created, &confirmBy, &confirmed, &available, &deleted)
	if isNoRows(err) {
		return a, ErrNotFound
	}
	a.CreatedAt, a.ConfirmBy, a.ConfirmedAt = fromMicros(created), fromMicros(confirmBy), fromMicros(confirmed)
	a.AvailableAt, a.DeletedAt = fromMicros(available), fromMicros(deleted)
	return a, err
}

// InsertAddress stores a new address-book entry.
func (tx *Tx) InsertAddress(ctx context.Context, a withdrawal.Address) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO addresses (`+addressColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		a.ID, a.AccountID, a.Asset, a.Network, a.Address, a.Memo, a.Label, a.Status, a.ConfirmTokenHash,
		micros(a.CreatedAt), micros(a.ConfirmBy), micros(a.ConfirmedAt), micros(a.AvailableAt), micros(a.DeletedAt))
	if err != nil {
		return fmt.Errorf("insert address: %w", err)
	}
	return nil
}

// UpdateAddress is read-modify-write of one of the account's addresses under
// its lock: fn sees the current row (deleted or not) and returns the new one,
// or an error, which changes nothing. Another account's address is
// ErrNotFound. What the entry is (id, account, asset, network, address, memo,
// creation time) never changes: a changed destination would skip the hold.
func (tx *Tx) UpdateAddress(ctx context.Context, accountID, id string, fn func(old withdrawal.Address) (withdrawal.Address, error)) (withdrawal.Address, error) {
	if err := tx.Lock(ctx, "address:"+id); err != nil {
		return withdrawal.Address{}, err
	}
	old, err := tx.AddressByID(ctx, accountID, id)
	if err != nil {
		return withdrawal.Address{}, err
	}
	a, err := fn(old)
	if err != nil {
		return withdrawal.Address{}, err
	}
	a.ID, a.AccountID, a.Asset, a.Network, a.Address, a.Memo, a.CreatedAt = old.ID, old.AccountID, old.Asset, old.Network, old.Address, old.Memo, old.CreatedAt
	return a, tx.execOne(ctx, "update address "+id, `UPDATE addresses SET label = $3, status = $4, confirm_token_hash = $5,
			confirm_by = $6, confirmed_at = $7, available_at = $8, deleted_at = $9
		WHERE id = $1 AND account_id = $2`,
		id, accountID, a.Label, a.Status, a.ConfirmTokenHash,
		micros(a.ConfirmBy), micros(a.ConfirmedAt), micros(a.AvailableAt), micros(a.DeletedAt))
}

// AddressByID finds one of the account's addresses, deleted ones included
// (the caller checks DeletedAt); another account's is ErrNotFound.
func (tx *Tx) AddressByID(ctx context.Context, accountID, id string) (withdrawal.Address, error) {
	a, err := scanAddress(tx.q.QueryRowContext(ctx, `SELECT `+addressColumns+` FROM addresses
		WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, fmt.Errorf("find address %s: %w", id, err)
	}
	return a, err
}

// AddressesOf lists the account's addresses not deleted, oldest first.
func (tx *Tx) AddressesOf(ctx context.Context, accountID string) ([]withdrawal.Address, error) {
	return queryAll(ctx, tx.q, "list addresses", scanAddress, `SELECT `+addressColumns+` FROM addresses
		WHERE account_id = $1 AND deleted_at = 0 ORDER BY created_at, id`, accountID)
}

// Settings.

const settingsColumns = `account_id, allow_list, off_token_hash, off_requested_at, off_confirmed_at, off_effective_at, updated_at`

func scanSettings(row rowScanner) (withdrawal.Settings, error) {
	var s withdrawal.Settings
	var requested, confirmed, effective, updated int64
	err := row.Scan(&s.AccountID, &s.AllowList, &s.OffTokenHash, &requested, &confirmed, &effective, &updated)
	if isNoRows(err) {
		return s, ErrNotFound
	}
	s.OffRequestedAt, s.OffConfirmedAt, s.OffEffectiveAt, s.UpdatedAt = fromMicros(requested), fromMicros(confirmed), fromMicros(effective), fromMicros(updated)
	return s, err
}

// SettingsOf reads the account's withdrawal settings; an account that never
// changed them has the defaults (allow-list off), not an error.
func (tx *Tx) SettingsOf(ctx context.Context, accountID string) (withdrawal.Settings, error) {
	s, err := scanSettings(tx.q.QueryRowContext(ctx, `SELECT `+settingsColumns+` FROM withdrawal_settings
		WHERE account_id = $1`, accountID))
	if errors.Is(err, ErrNotFound) {
		return withdrawal.Settings{AccountID: accountID}, nil
	}
	if err != nil {
		return withdrawal.Settings{}, fmt.Errorf("find withdrawal settings: %w", err)
	}
	return s, nil
}

// PutSettings stores the account's withdrawal settings, replacing any.
func (tx *Tx) PutSettings(ctx context.Context, s withdrawal.Settings) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO withdrawal_settings (`+settingsColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id) DO UPDATE SET allow_list = excluded.allow_list, off_token_hash = excluded.off_token_hash,
			off_requested_at = excluded.off_requested_at, off_confirmed_at = excluded.off_confirmed_at,
			off_effective_at = excluded.off_effective_at, updated_at = excluded.updated_at`,
		s.AccountID, s.AllowList, s.OffTokenHash, micros(s.OffRequestedAt), micros(s.OffConfirmedAt), micros(s.OffEffectiveAt), micros(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store withdrawal settings: %w", err)
	}
	return nil
}

// SettingsByOffToken finds the settings whose allow-list switch-off the
// email link (the hash of its token) confirms; an empty hash finds nothing.
func (tx *Tx) SettingsByOffToken(ctx context.Context, tokenHash string) (withdrawal.Settings, error) {
	if tokenHash == "" {
		return withdrawal.Settings{}, ErrNotFound
	}
	s, err := scanSettings(tx.q.QueryRowContext(ctx, `SELECT `+settingsColumns+` FROM withdrawal_settings
		WHERE off_token_hash = $1`, tokenHash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return s, fmt.Errorf("find withdrawal settings by token: %w", err)
	}
	return s, err
}

// Withdrawals.

const withdrawalColumns = `id, account_id, asset, network, address_id, address, memo, amount, reference_value, price,
	status, required, satisfied, email_token_hash, mfa_failures, reasons, review_reason, reviewer, txid,
	idempotency_key, request_hash, device_id, ip, created_at, expires_at, updated_at, approved_at, completed_at, held`

func scanWithdrawal(row rowScanner) (withdrawal.Withdrawal, error) {
	var w withdrawal.Withdrawal
	var required, satisfied, reasons, amount string
	var created, expires, updated, approved, completed int64
	err := row.Scan(&w.ID, &w.AccountID, &w.Asset, &w.Network, &w.AddressID, &w.Address, &w.Memo, &amount, &w.ReferenceValue, &w.Price,
		&w.Status, &required, &satisfied, &w.EmailTokenHash, &w.MFAFailures, &reasons, &w.ReviewReason, &w.Reviewer, &w.TxID,
		&w.IdempotencyKey, &w.RequestHash, &w.DeviceID, &w.IP, &created, &expires, &updated, &approved, &completed, &w.Held)
	if isNoRows(err) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, err
	}
	var ok bool
	if w.Amount, ok = new(big.Int).SetString(amount, 10); !ok {
		return w, fmt.Errorf("withdrawal %s: stored amount %q is not an integer", w.ID, amount)
	}
	w.Required, w.Satisfied, w.Reasons = splitList(required), splitList(satisfied), splitList(reasons)
	w.CreatedAt, w.ExpiresAt, w.UpdatedAt = fromMicros(created), fromMicros(expires), fromMicros(updated)
	w.ApprovedAt, w.CompletedAt = fromMicros(approved), fromMicros(completed)
	return w, nil
}

// withdrawalLists are a withdrawal's three lists as stored.
func withdrawalLists(w withdrawal.Withdrawal) (required, satisfied, reasons string, err error) {
	if required, err = joinList("required", w.Required); err != nil {
		return
	}
	if satisfied, err = joinList("satisfied", w.Satisfied); err != nil {
		return
	}
	reasons, err = joinList("reasons", w.Reasons)
	return
}

// InsertWithdrawal stores a new withdrawal request, or returns ErrConflict
// when the account used its idempotency key already.
func (tx *Tx) InsertWithdrawal(ctx context.Context, w withdrawal.Withdrawal) error {
	required, satisfied, reasons, err := withdrawalLists(w)
	if err != nil {
		return fmt.Errorf("insert withdrawal: %w", err)
	}
	res, err := tx.q.ExecContext(ctx, `INSERT INTO withdrawals (`+withdrawalColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28, $29)
		ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key <> '' DO NOTHING`,
		w.ID, w.AccountID, w.Asset, w.Network, w.AddressID, w.Address, w.Memo, w.Amount.String(), w.ReferenceValue, w.Price,
		w.Status, required, satisfied, w.EmailTokenHash, w.MFAFailures, reasons, w.ReviewReason, w.Reviewer, w.TxID,
		w.IdempotencyKey, w.RequestHash, w.DeviceID, w.IP,
		micros(w.CreatedAt), micros(w.ExpiresAt), micros(w.UpdatedAt), micros(w.ApprovedAt), micros(w.CompletedAt), w.Held)
	if err != nil {
		return fmt.Errorf("insert withdrawal: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert withdrawal: %w", err)
	} else if n == 0 {
		return ErrConflict
	}
	return nil
}

// UpdateWithdrawal is read-modify-write of a withdrawal under its lock: fn
// sees the current row and returns the new one (or an error, which changes
// nothing). Only its course changes (status, confirmations, email token,
// wrong codes, reasons, review, txid, and the update, approval and
// completion times); what was asked (id, account, asset, network,
// destination, amount, value, price, required confirmations, idempotency
// key, request hash, device, ip, creation and expiry times) stays as inserted.
func (tx *Tx) UpdateWithdrawal(ctx context.Context, id string, fn func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error)) (withdrawal.Withdrawal, error) {
	if err := tx.Lock(ctx, "withdrawal:"+id); err != nil {
		return withdrawal.Withdrawal{}, err
	}
	old, err := tx.WithdrawalByID(ctx, id)
	if err != nil {
		return withdrawal.Withdrawal{}, err
	}
	w, err := fn(old)
	if err != nil {
		return withdrawal.Withdrawal{}, err
	}
	// What was asked is kept as it was.
	course := w
	w = old
	w.Status, w.Satisfied, w.EmailTokenHash, w.MFAFailures = course.Status, course.Satisfied, course.EmailTokenHash, course.MFAFailures
	w.Reasons, w.ReviewReason, w.Reviewer, w.TxID = course.Reasons, course.ReviewReason, course.Reviewer, course.TxID
	w.UpdatedAt, w.ApprovedAt, w.CompletedAt = course.UpdatedAt, course.ApprovedAt, course.CompletedAt
	_, satisfied, reasons, err := withdrawalLists(w)
	if err != nil {
		return withdrawal.Withdrawal{}, fmt.Errorf("update withdrawal %s: %w", id, err)
	}
	return w, tx.execOne(ctx, "update withdrawal "+id, `UPDATE withdrawals SET status = $2, satisfied = $3, email_token_hash = $4,
			mfa_failures = $5, reasons = $6, review_reason = $7, reviewer = $8, txid = $9,
			updated_at = $10, approved_at = $11, completed_at = $12
		WHERE id = $1`,
		id, w.Status, satisfied, w.EmailTokenHash, w.MFAFailures, reasons, w.ReviewReason, w.Reviewer, w.TxID,
		micros(w.UpdatedAt), micros(w.ApprovedAt), micros(w.CompletedAt))
}

// oneWithdrawal runs a query for at most one withdrawal; what names it in errors.
func (tx *Tx) oneWithdrawal(ctx context.Context, what, query string, args ...any) (withdrawal.Withdrawal, error) {
	w, err := scanWithdrawal(tx.q.QueryRowContext(ctx, `SELECT `+withdrawalColumns+` FROM withdrawals `+query, args...))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return w, fmt.Errorf("%s: %w", what, err)
	}
	return w, err
}

// WithdrawalByID finds a withdrawal by id, whoever's it is (the caller
// checks the account).
func (tx *Tx) WithdrawalByID(ctx context.Context, id string) (withdrawal.Withdrawal, error) {
	return tx.oneWithdrawal(ctx, "find withdrawal "+id, `WHERE id = $1`, id)
}

// WithdrawalByIdempotencyKey finds the account's withdrawal asked with key;
// an empty key finds nothing.
func (tx *Tx) WithdrawalByIdempotencyKey(ctx context.Context, accountID, key string) (withdrawal.Withdrawal, error) {
	if key == "" {
		return withdrawal.Withdrawal{}, ErrNotFound
	}
	return tx.oneWithdrawal(ctx, "find withdrawal by idempotency key",
		`WHERE account_id = $1 AND idempotency_key = $2`, accountID, key)
}

// WithdrawalByEmailToken finds the withdrawal an email link (the hash of its
// token) confirms; an empty hash (a link used or never sent) finds nothing.
func (tx *Tx) WithdrawalByEmailToken(ctx context.Context, tokenHash string) (withdrawal.Withdrawal, error) {
	if tokenHash == "" {
		return withdrawal.Withdrawal{}, ErrNotFound
	}
	return tx.oneWithdrawal(ctx, "find withdrawal by email token", `WHERE email_token_hash = $1`, tokenHash)
}

// Withdrawals lists withdrawals of the account (all accounts when empty)
// with status (any when empty), newest first. The status is the stored one:
// an awaiting_confirmation request past its time is listed as that until
// ExpireWithdrawals marks it; callers show Withdrawal.StatusAt.
func (tx *Tx) Withdrawals(ctx context.Context, accountID, status string, limit int) ([]withdrawal.Withdrawal, error) {
	// The conditions are left out rather than written "($1 = '' OR …)",
	// which would keep either database from using an index.
	var args []any
	var where []string
	from := `withdrawals`
	if accountID != "" {
		where = append(where, "account_id = "+placeholders(&args, accountID))
		from = tx.withdrawalsByAccount()
	}
	if status != "" {
		where = append(where, "status = "+placeholders(&args, status))
	}
	query := `SELECT ` + withdrawalColumns + ` FROM ` + from
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	return queryAll(ctx, tx.q, "list withdrawals", scanWithdrawal, query, args...)
}

// withdrawalsByAccount names the table for a query of one account's rows.
// Without statistics SQLite may take withdrawals_by_status instead when a
// status is asked too, and scan every row of that status (80 ms a listing
// at a million rows); PostgreSQL's planner has statistics and needs no hint.
// Should the index go, SQLite fails the query rather than scan.
func (tx *Tx) withdrawalsByAccount() string {
	if tx.dialect == SQLite {
		return `withdrawals INDEXED BY withdrawals_by_account`
	}
	return `withdrawals`
}

// usedSinceSQL is on the path of every withdrawal decision: account_id and
// created_at bound it to one account's recent rows through
// withdrawals_by_account, whatever the table's size. table is
// Tx.withdrawalsByAccount.
func usedSinceSQL(table string) string {
	return `SELECT CAST(COALESCE(SUM(reference_value), 0) AS BIGINT) FROM ` + table + `
	WHERE account_id = $1 AND created_at >= $2
		AND (status IN ($3, $4, $5) OR (status = $6 AND expires_at > $7))`
}

// UsedSince sums the reference value of the account's withdrawals created
// at or after since that hold their limit at now: pending review, approved,
// completed, or awaiting confirmation and not expired (expires_at after now).
func (tx *Tx) UsedSince(ctx context.Context, accountID string, since, now time.Time) (int64, error) {
	var used int64
	err := tx.q.QueryRowContext(ctx, usedSinceSQL(tx.withdrawalsByAccount()), accountID, micros(since),
		withdrawal.StatusPendingReview, withdrawal.StatusApproved, withdrawal.StatusCompleted,
		withdrawal.StatusAwaitingConfirmation, micros(now)).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("sum withdrawals used: %w", err)
	}
	return used, nil
}

// ExpireWithdrawals marks up to limit requests still awaiting confirmation
// whose time ran out at now (expires_at <= now) expired, oldest first, and
// returns them as changed. On PostgreSQL, rows another transaction holds are
// left for the next run, and those taken are locked until the end, so a
// request confirmed meanwhile is never marked expired.
//
// The rows are chosen by one statement and changed by a second: as one
// "UPDATE … WHERE id IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED)",
// PostgreSQL may run the subquery again per row, skip the rows the UPDATE
// itself just changed, and so change more than limit rows.
func (tx *Tx) ExpireWithdrawals(ctx context.Context, now time.Time, limit int) ([]withdrawal.Withdrawal, error) {
	due, err := queryAll(ctx, tx.q, "find expired withdrawals", func(row rowScanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM withdrawals WHERE status = $1 AND expires_at <= $2
		ORDER BY created_at, id LIMIT $3`+tx.skipLocked(),
		withdrawal.StatusAwaitingConfirmation, micros(now), limit)
	if err != nil || len(due) == 0 {
		return nil, err
	}
	args := []any{withdrawal.StatusExpired, micros(now), withdrawal.StatusAwaitingConfirmation}
	out, err := queryAll(ctx, tx.q, "expire withdrawals", scanWithdrawal, `UPDATE withdrawals SET status = $1, updated_at = $2
		WHERE id IN (`+placeholders(&args, due...)+`) AND status = $3 AND expires_at <= $2
		RETURNING `+withdrawalColumns, args...)
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b withdrawal.Withdrawal) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Prices.

const priceColumns = `asset, price, as_of, updated_at`

// PriceOf finds the asset's reference price.
func (tx *Tx) PriceOf(ctx context.Context, asset string) (withdrawal.Price, error) {
	var p withdrawal.Price
	var asOf, updated int64
	err := tx.q.QueryRowContext(ctx, `SELECT `+priceColumns+` FROM prices WHERE asset = $1`, asset).
		Scan(&p.Asset, &p.Price, &asOf, &updated)
	if isNoRows(err) {
		return withdrawal.Price{}, ErrNotFound
	}
	if err != nil {
		return withdrawal.Price{}, fmt.Errorf("find price of %s: %w", asset, err)
	}
	p.AsOf, p.UpdatedAt = fromMicros(asOf), fromMicros(updated)
	return p, nil
}

// PutPrice stores the asset's reference price, replacing any.
func (tx *Tx) PutPrice(ctx context.Context, p withdrawal.Price) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO prices (`+priceColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (asset) DO UPDATE SET price = excluded.price, as_of = excluded.as_of, updated_at = excluded.updated_at`,
		p.Asset, p.Price, micros(p.AsOf), micros(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store price of %s: %w", p.Asset, err)
	}
	return nil
}

// Restrictions.

const restrictionColumns = `id, account_id, kind, reason, source, lift_on, created_at, expires_at, lifted_at, lifted_by`

func scanRestriction(row rowScanner) (withdrawal.Restriction, error) {
	var r withdrawal.Restriction
	var created, expires, lifted int64
	err := row.Scan(&r.ID, &r.AccountID, &r.Kind, &r.Reason, &r.Source, &r.LiftOn, &created, &expires, &lifted, &r.LiftedBy)
	if isNoRows(err) {
		return r, ErrNotFound
	}
	r.CreatedAt, r.ExpiresAt, r.LiftedAt = fromMicros(created), fromMicros(expires), fromMicros(lifted)
	return r, err
}

// InsertRestriction stores a new restriction.
func (tx *Tx) InsertRestriction(ctx context.Context, r withdrawal.Restriction) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO restrictions (`+restrictionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.AccountID, r.Kind, r.Reason, r.Source, r.LiftOn, micros(r.CreatedAt), micros(r.ExpiresAt), micros(r.LiftedAt), r.LiftedBy)
	if err != nil {
		return fmt.Errorf("insert restriction: %w", err)
	}
	return nil
}

// UpdateRestriction is read-modify-write of one of the account's
// restrictions under its lock: fn sees the current row (lifted or not) and
// returns the new one, or an error, which changes nothing. Another
// account's restriction is ErrNotFound. The id, account, kind, source and
// creation time never change.
func (tx *Tx) UpdateRestriction(ctx context.Context, accountID, id string, fn func(old withdrawal.Restriction) (withdrawal.Restriction, error)) (withdrawal.Restriction, error) {
	if err := tx.Lock(ctx, "restriction:"+id); err != nil {
		return withdrawal.Restriction{}, err
	}
	old, err := scanRestriction(tx.q.QueryRowContext(ctx, `SELECT `+restrictionColumns+` FROM restrictions
		WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return old, err
		}
		return old, fmt.Errorf("find restriction %s: %w", id, err)
	}
	r, err := fn(old)
	if err != nil {
		return withdrawal.Restriction{}, err
	}
	r.ID, r.AccountID, r.Kind, r.Source, r.CreatedAt = old.ID, old.AccountID, old.Kind, old.Source, old.CreatedAt
	return r, tx.execOne(ctx, "update restriction "+id, `UPDATE restrictions SET reason = $3, lift_on = $4,
			expires_at = $5, lifted_at = $6, lifted_by = $7
		WHERE id = $1 AND account_id = $2`,
		id, accountID, r.Reason, r.LiftOn, micros(r.ExpiresAt), micros(r.LiftedAt), r.LiftedBy)
}

// RestrictionsOf lists the account's restrictions not lifted, newest first,
// HasWithdrawalInReview tells whether one of the account's withdrawals is
// pending_review; the literal status lets both databases use the partial
// index withdrawals_in_review.
func (tx *Tx) HasWithdrawalInReview(ctx context.Context, accountID string) (bool, error) {
	var one int
	err := tx.q.QueryRowContext(ctx, `SELECT 1 FROM withdrawals WHERE account_id = $1 AND status = 'pending_review' LIMIT 1`, accountID).Scan(&one)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find withdrawals in review of %s: %w", accountID, err)
	}
	return true, nil
}

// expired ones included (Restriction.ActiveAt tells).
func (tx *Tx) RestrictionsOf(ctx context.Context, accountID string) ([]withdrawal.Restriction, error) {
	return queryAll(ctx, tx.q, "list restrictions", scanRestriction, `SELECT `+restrictionColumns+` FROM restrictions
		WHERE account_id = $1 AND lifted_at = 0 ORDER BY created_at DESC, id DESC`, accountID)
}

// RestrictionsExpired lists restrictions not lifted whose expiry has passed
// at now, oldest expiry first.
func (tx *Tx) RestrictionsExpired(ctx context.Context, now time.Time, limit int) ([]withdrawal.Restriction, error) {
	return queryAll(ctx, tx.q, "list expired restrictions", scanRestriction, `SELECT `+restrictionColumns+` FROM restrictions
		WHERE lifted_at = 0 AND expires_at > 0 AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, micros(now), limit)
}
