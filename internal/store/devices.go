package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/session"
)

// DeviceByTokenHash finds an account's device by the hash of its token.
func (tx *Tx) DeviceByTokenHash(ctx context.Context, accountID, hash string) (session.Device, error) {
	d, err := scanDevice(tx.q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE token_hash = $1 AND account_id = $2 AND forgotten_at = 0`, hash, accountID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("find device: %w", err)
	}
	return d, err
}

var devicesOfSQL = `SELECT ` + deviceColumns + ` FROM devices
	WHERE account_id = $1 AND forgotten_at = 0 ORDER BY last_seen_at DESC, id`

const deviceColumns = `id, account_id, token_hash, user_agent, first_seen_at, last_seen_at, last_ip, last_place, trusted_at`

func scanDevice(row rowScanner) (session.Device, error) {
	var d session.Device
	var first, last, trusted int64
	err := row.Scan(&d.ID, &d.AccountID, &d.TokenHash, &d.UserAgent, &first, &last, &d.LastIP, &d.LastPlace, &trusted)
	if isNoRows(err) {
		return d, ErrNotFound
	}
	d.FirstSeenAt, d.LastSeenAt, d.TrustedAt = fromMicros(first), fromMicros(last), fromMicros(trusted)
	return d, err
}

// DevicesOf lists the account's devices that are not forgotten, most
// recently used first.
func (tx *Tx) DevicesOf(ctx context.Context, accountID string) ([]session.Device, error) {
	return queryAll(ctx, tx.hotQ(), "list devices", scanDevice, devicesOfSQL, accountID)
}

// ForgetDevice marks one of the account's devices forgotten.
func (tx *Tx) ForgetDevice(ctx context.Context, accountID, id string, now time.Time) (session.Device, error) {
	d, err := scanDevice(tx.q.QueryRowContext(ctx, `UPDATE devices SET forgotten_at = $3
		WHERE id = $1 AND account_id = $2 AND forgotten_at = 0 RETURNING `+deviceColumns, id, accountID, micros(now)))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("forget device: %w", err)
	}
	return d, err
}

// RevokeDeviceSessions ends the sessions started from a device.
func (tx *Tx) RevokeDeviceSessions(ctx context.Context, accountID, deviceID, reason string, now time.Time) ([]string, error) {
	hashes, err := queryAll(ctx, tx.q, "revoke device sessions", func(row rowScanner) (string, error) {
		var h string
		return h, row.Scan(&h)
	}, `UPDATE sessions SET revoked_at = $3, revoke_reason = $4
		WHERE account_id = $1 AND device_id = $2 AND revoked_at = 0 RETURNING token_hash`, accountID, deviceID, micros(now), reason)
	if err != nil {
		return nil, err
	}
	return hashes, tx.notifyRevoked(ctx, hashes)
}

// InsertDevice stores a new device (its token's hash only).
func (tx *Tx) InsertDevice(ctx context.Context, d session.Device) error {
	_, err := tx.q.ExecContext(ctx, `
		INSERT INTO devices (`+deviceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.ID, d.AccountID, d.TokenHash, d.UserAgent, micros(d.FirstSeenAt), micros(d.LastSeenAt), d.LastIP, d.LastPlace, micros(d.TrustedAt))
	if err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}

// SeeDevice records that a device was used again (and maybe became trusted).
func (tx *Tx) SeeDevice(ctx context.Context, d session.Device) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE devices SET last_seen_at = $2, last_ip = $3, user_agent = $4, last_place = $5, trusted_at = $6
		WHERE id = $1`, d.ID, micros(d.LastSeenAt), d.LastIP, d.UserAgent, d.LastPlace, micros(d.TrustedAt))
	if err != nil {
		return fmt.Errorf("see device %s: %w", d.ID, err)
	}
	return nil
}

// DeviceByID finds one of the account's devices by id, forgotten ones
// included (a forgotten device still first logged in when it did); another
// account's device is ErrNotFound.
func (tx *Tx) DeviceByID(ctx context.Context, accountID, id string) (session.Device, error) {
	d, err := scanDevice(tx.q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("find device %s: %w", id, err)
	}
	return d, err
}
