package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wardenhq/warden/internal/adminkey"
)

// InsertAdminKey stores a key by the hash of its plaintext.
func (tx *Tx) InsertAdminKey(ctx context.Context, k adminkey.Key, hash string) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("encode admin key scopes: %w", err)
	}
	if _, err := tx.q.ExecContext(ctx, `
		INSERT INTO admin_keys (id, name, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Name, hash, string(scopes), micros(k.CreatedAt)); err != nil {
		return fmt.Errorf("insert admin key: %w", err)
	}
	return nil
}

// AdminKeyByHash finds a live key by the hash of its plaintext, or ErrNotFound.
func (s *Store) AdminKeyByHash(ctx context.Context, hash string) (adminkey.Key, error) {
	var k adminkey.Key
	var scopes string
	var created int64
	err := s.reader.QueryRowContext(ctx, `
		SELECT id, name, scopes, created_at FROM admin_keys WHERE key_hash = $1 AND revoked_at = 0`, hash).
		Scan(&k.ID, &k.Name, &scopes, &created)
	if isNoRows(err) {
		return adminkey.Key{}, ErrNotFound
	}
	if err != nil {
		return adminkey.Key{}, fmt.Errorf("look up admin key: %w", err)
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return adminkey.Key{}, fmt.Errorf("decode scopes of admin key %s: %w", k.ID, err)
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}
