package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/session"
)

// DeviceByTokenHash finds an account's device by the hash of its token.
func (tx *Tx) DeviceByTokenHash(ctx context.Context, accountID, hash string) (session.Device, error) {
	var d session.Device
	var first, last int64
	err := tx.q.QueryRowContext(ctx, `
		SELECT id, account_id, token_hash, user_agent, first_seen_at, last_seen_at, last_ip FROM devices
		WHERE token_hash = $1 AND account_id = $2 AND forgotten_at = 0`, hash, accountID).
		Scan(&d.ID, &d.AccountID, &d.TokenHash, &d.UserAgent, &first, &last, &d.LastIP)
	if isNoRows(err) {
		return session.Device{}, ErrNotFound
	}
	if err != nil {
		return session.Device{}, fmt.Errorf("find device: %w", err)
	}
	d.FirstSeenAt, d.LastSeenAt = fromMicros(first), fromMicros(last)
	return d, nil
}

// InsertDevice stores a new device (its token's hash only).
func (tx *Tx) InsertDevice(ctx context.Context, d session.Device) error {
	_, err := tx.q.ExecContext(ctx, `
		INSERT INTO devices (id, account_id, token_hash, user_agent, first_seen_at, last_seen_at, last_ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		d.ID, d.AccountID, d.TokenHash, d.UserAgent, micros(d.FirstSeenAt), micros(d.LastSeenAt), d.LastIP)
	if err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}

// SeeDevice records that a device was used again.
func (tx *Tx) SeeDevice(ctx context.Context, id, ip, userAgent string, now time.Time) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE devices SET last_seen_at = $2, last_ip = $3, user_agent = $4 WHERE id = $1`,
		id, micros(now), ip, userAgent)
	if err != nil {
		return fmt.Errorf("see device %s: %w", id, err)
	}
	return nil
}
