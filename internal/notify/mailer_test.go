package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
)

// fakeTx records what is enqueued, as the action's transaction would.
type fakeTx struct {
	msgs      []outbox.Message
	endpoints []notify.WebhookEndpoint
	err       error
}

func (tx *fakeTx) InsertOutboxMessage(_ context.Context, m outbox.Message) error {
	if tx.err != nil {
		return tx.err
	}
	tx.msgs = append(tx.msgs, m)
	return nil
}

func (tx *fakeTx) WebhookEndpointsFor(_ context.Context, _ string) ([]notify.WebhookEndpoint, error) {
	return tx.endpoints, tx.err
}

func newMailer(t *testing.T) *notify.Mailer {
	t.Helper()
	m, err := notify.NewMailer("https://wallet.example.com/", "Example Wallet")
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}
	return m
}

func TestNewMailerRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct{ baseURL, platform string }{
		{"", "P"},
		{"wallet.example.com", "P"},
		{"ftp://wallet.example.com", "P"},
		{"https://", "P"},
		{"https://u:p@wallet.example.com", "P"},
		{"https://wallet.example.com/?a=b", "P"},
		{"https://wallet.example.com/#x", "P"},
		{"https://wallet.example.com", ""},
		{"https://wallet.example.com", "  "},
		{"https://wallet.example.com", "Evil\r\nBcc: x@example.com"},
	}
	for _, tt := range tests {
		if _, err := notify.NewMailer(tt.baseURL, tt.platform); err == nil {
			t.Errorf("NewMailer(%q, %q) succeeded", tt.baseURL, tt.platform)
		}
	}
}

func TestRenderTest(t *testing.T) {
	t.Parallel()
	m := newMailer(t)
	tests := []struct {
		name      string
		data      map[string]any
		code      string
		wantText  []string
		wantHTML  []string
		forbidden []string // in either part
	}{
		{
			name: "no code, no link",
			wantText: []string{
				"Email delivery works.",
				"Open Example Wallet: https://wallet.example.com/",
				"An anti-phishing code is a word you choose",
			},
			wantHTML: []string{
				`<html lang="en"`,
				`<a href="https://wallet.example.com/"`,
				"Email delivery works",
				"An anti-phishing code is a word you choose",
			},
			forbidden: []string{"Your anti-phishing code", "More:", "<no value>", "<img"},
		},
		{
			name:     "code and link",
			data:     map[string]any{"link": "https://wallet.example.com/settings?a=1&b=2"},
			code:     "BlueFox42",
			wantText: []string{"Your anti-phishing code: BlueFox42 — an email from us without it is not from us.", "More: https://wallet.example.com/settings?a=1&b=2"},
			wantHTML: []string{
				`Your anti-phishing code: <strong`, `>BlueFox42</strong> — an email from us without it is not from us.`,
				`<a href="https://wallet.example.com/settings?a=1&amp;b=2"`,
			},
			forbidden: []string{"An anti-phishing code is a word"},
		},
		{
			name:     "markup in the code is text in HTML, verbatim in text",
			code:     `<b>"x"&</b>`,
			wantText: []string{`Your anti-phishing code: <b>"x"&</b> —`},
			wantHTML: []string{`&lt;b&gt;&#34;x&#34;&amp;&lt;/b&gt;`},
		},
		{
			name:     "a javascript: link is neutralised in HTML",
			data:     map[string]any{"link": "javascript:alert(1)"},
			wantHTML: []string{`href="#ZgotmplZ"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := m.Render("test", "alice@example.com", tt.data, tt.code)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if e.Subject != "Warden test email" || e.To != "alice@example.com" {
				t.Errorf("subject %q to %q", e.Subject, e.To)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(e.Text, w) {
					t.Errorf("text part lacks %q:\n%s", w, e.Text)
				}
			}
			for _, w := range tt.wantHTML {
				if !strings.Contains(e.HTML, w) {
					t.Errorf("HTML part lacks %q:\n%s", w, e.HTML)
				}
			}
			for _, f := range tt.forbidden {
				if strings.Contains(e.Text, f) || strings.Contains(e.HTML, f) {
					t.Errorf("email contains %q", f)
				}
			}
			if strings.Contains(e.Text, "&amp;") || strings.Contains(e.Text, "&lt;") {
				t.Errorf("text part is HTML-escaped:\n%s", e.Text)
			}
			if !strings.Contains(e.HTML, "<title>Warden test email</title>") {
				t.Errorf("HTML part lacks the subject as title")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	m := newMailer(t)
	if _, err := m.Render("nope", "alice@example.com", nil, ""); err == nil {
		t.Error("rendered an unknown template")
	}
	for _, to := range []string{"", "alice", "a@b\r\nBcc: c@d"} {
		if _, err := m.Render("test", to, nil, ""); err == nil {
			t.Errorf("rendered for recipient %q", to)
		}
	}
}

func TestEnqueueEmail(t *testing.T) {
	t.Parallel()
	m := newMailer(t)
	e, err := m.Render("test", "alice@example.com", nil, "code")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tx := &fakeTx{}
	msg, err := notify.EnqueueEmail(context.Background(), tx, now, "test", e)
	if err != nil {
		t.Fatalf("EnqueueEmail: %v", err)
	}
	if len(tx.msgs) != 1 || tx.msgs[0].ID != msg.ID {
		t.Fatalf("inserted %+v, returned %+v", tx.msgs, msg)
	}
	if msg.Kind != outbox.KindEmail || msg.Topic != "test" || !msg.CreatedAt.Equal(now) || !msg.NextAttemptAt.Equal(now) {
		t.Errorf("message = %+v", msg)
	}
	var got notify.Email
	if err := json.Unmarshal(msg.Payload, &got); err != nil || got != e {
		t.Errorf("payload = %+v (%v), want %+v", got, err, e)
	}

	if _, err := notify.EnqueueEmail(context.Background(), tx, now, "test", notify.Email{To: "a@b.c"}); err == nil {
		t.Error("enqueued an email without subject or body")
	}
	boom := errors.New("boom")
	if _, err := notify.EnqueueEmail(context.Background(), &fakeTx{err: boom}, now, "test", e); !errors.Is(err, boom) {
		t.Errorf("error = %v, want it to wrap the transaction's", err)
	}
}
