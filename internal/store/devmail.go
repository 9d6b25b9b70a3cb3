package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wardenhq/warden/internal/notify"
)

// SaveDevMail implements notify.DevMailStore: a retried delivery of the same
// message (same Message-ID) is kept once.
func (s *Store) SaveDevMail(ctx context.Context, m notify.DevMail) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, `
			INSERT INTO dev_mailbox (id, message_id, received_at, mail_from, mail_to, subject, text_body, html_body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (message_id) DO NOTHING`,
			m.ID, m.MessageID, micros(m.ReceivedAt), m.From, m.To, m.Subject, m.Text, m.HTML)
		if err != nil {
			return fmt.Errorf("save dev mail: %w", err)
		}
		return nil
	})
}

const devMailColumns = `id, message_id, received_at, mail_from, mail_to, subject, text_body, html_body`

func scanDevMail(row rowScanner) (notify.DevMail, error) {
	var m notify.DevMail
	var at int64
	err := row.Scan(&m.ID, &m.MessageID, &at, &m.From, &m.To, &m.Subject, &m.Text, &m.HTML)
	m.ReceivedAt = fromMicros(at)
	return m, err
}

// ListDevMail returns the newest dev mail first, optionally only mail to one address.
func (s *Store) ListDevMail(ctx context.Context, to string, limit int) ([]notify.DevMail, error) {
	return queryAll(ctx, s.reader, "list dev mail", scanDevMail, `SELECT `+devMailColumns+` FROM dev_mailbox
		WHERE ($1 = '' OR mail_to = $1) ORDER BY received_at DESC, id DESC LIMIT $2`, to, limit)
}

// GetDevMail returns one dev mail by id, or ErrNotFound.
func (s *Store) GetDevMail(ctx context.Context, id string) (notify.DevMail, error) {
	m, err := scanDevMail(s.reader.QueryRowContext(ctx, `SELECT `+devMailColumns+` FROM dev_mailbox WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return notify.DevMail{}, ErrNotFound
	}
	if err != nil {
		return notify.DevMail{}, fmt.Errorf("get dev mail %s: %w", id, err)
	}
	return m, nil
}
