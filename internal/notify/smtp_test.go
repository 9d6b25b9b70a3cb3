package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/outbox"
)

const testFrom = "Warden <no-reply@wallet.example.com>"

var createdAt = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

// emailMessage enqueues e like an action would and returns the outbox message.
func emailMessage(t *testing.T, e notify.Email) outbox.Message {
	t.Helper()
	m, err := notify.EnqueueEmail(context.Background(), &fakeTx{}, createdAt, "test", e)
	if err != nil {
		t.Fatalf("EnqueueEmail: %v", err)
	}
	return m
}

func renderedTest(t *testing.T, code string) notify.Email {
	t.Helper()
	e, err := newMailer(t).Render("test", "Alice <alice@example.com>", map[string]any{"link": "https://wallet.example.com/a?b=1&c=2"}, code)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// deliverer makes an SMTPDeliverer for srv that trusts srv's certificate.
func deliverer(t *testing.T, srv *smtptest.Server, opts ...notify.SMTPOption) *notify.SMTPDeliverer {
	t.Helper()
	cfg, err := notify.ParseSMTPURL(srv.URL())
	if err != nil {
		t.Fatalf("ParseSMTPURL(%q): %v", srv.URL(), err)
	}
	if tc := srv.TLSConfig(); tc != nil {
		opts = append([]notify.SMTPOption{notify.WithTLSConfig(tc)}, opts...)
	}
	d, err := notify.NewSMTPDeliverer(cfg, testFrom, append(opts, notify.WithTimeout(2*time.Second))...)
	if err != nil {
		t.Fatalf("NewSMTPDeliverer: %v", err)
	}
	return d
}

// mimeParts splits a received message into its header and the decoded
// bodies of its multipart/alternative parts, by content type, in order.
type part struct{ contentType, body string }

func mimeParts(t *testing.T, raw []byte) (mail.Header, []part) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	var parts []part
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart() // raw: decode the transfer encoding ourselves, to check it
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || !strings.EqualFold(ctParams["charset"], "utf-8") {
			t.Errorf("part Content-Type %q: want a UTF-8 charset", p.Header.Get("Content-Type"))
		}
		var body io.Reader = p
		switch enc := strings.ToLower(p.Header.Get("Content-Transfer-Encoding")); enc {
		case "quoted-printable":
			body = quotedprintable.NewReader(p)
		case "", "7bit", "8bit":
		default:
			t.Fatalf("unexpected transfer encoding %q", enc)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read %s part: %v", ct, err)
		}
		parts = append(parts, part{ct, string(b)})
	}
	return msg.Header, parts
}

// sameText compares bodies modulo line ends, which SMTP turns into CRLF.
func sameText(a, b string) bool {
	norm := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	return norm(a) == norm(b)
}

func TestSMTPDeliverMessage(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	e := renderedTest(t, "Renard-été")
	e.Subject = "Sécurité: test — ✓" // non-ASCII must survive the header encoding
	m := emailMessage(t, e)

	if err := deliverer(t, srv).Deliver(context.Background(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	msgs, err := srv.WaitFor(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.From != "no-reply@wallet.example.com" || len(got.To) != 1 || got.To[0] != "alice@example.com" {
		t.Errorf("envelope %q → %q", got.From, got.To)
	}
	if got.TLS {
		t.Error("TLS without a server offering it")
	}

	h, parts := mimeParts(t, got.Raw)
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != e.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, e.Subject)
	}
	wantMessageID := "<" + m.ID + "@wallet.example.com>"
	headers := []struct{ name, want string }{
		{"Message-ID", wantMessageID},
		{"Auto-Submitted", "auto-generated"},
		{"X-Auto-Response-Suppress", "All"},
		{"MIME-Version", "1.0"},
	}
	for _, hh := range headers {
		if got := h.Get(hh.name); got != hh.want {
			t.Errorf("%s = %q, want %q", hh.name, got, hh.want)
		}
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Warden" || from[0].Address != "no-reply@wallet.example.com" {
		t.Errorf("From = %q (%v)", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "alice@example.com" {
		t.Errorf("To = %q (%v)", h.Get("To"), err)
	}
	if date, err := h.Date(); err != nil || !date.Equal(createdAt) {
		t.Errorf("Date = %q (%v), want the message's creation time %v", h.Get("Date"), err, createdAt)
	}
	if h.Get("User-Agent") != "" || h.Get("X-Mailer") != "" {
		t.Errorf("mailer advertised: %q %q", h.Get("User-Agent"), h.Get("X-Mailer"))
	}

	if len(parts) != 2 || parts[0].contentType != "text/plain" || parts[1].contentType != "text/html" {
		t.Fatalf("parts = %+v, want text/plain then text/html", parts)
	}
	if !sameText(parts[0].body, e.Text) {
		t.Errorf("text part:\n%s\nwant:\n%s", parts[0].body, e.Text)
	}
	if !sameText(parts[1].body, e.HTML) {
		t.Errorf("HTML part:\n%s\nwant:\n%s", parts[1].body, e.HTML)
	}
	if !strings.Contains(parts[0].body, "Your anti-phishing code: Renard-été") {
		t.Error("text part lost the anti-phishing code")
	}
}

func TestSMTPDeliverTLSAndAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      []smtptest.Option
		untrusted bool   // the deliverer is not given the server's certificate
		password  string // overrides the right one when set
		wantTLS   bool
		wantUser  string
		wantErr   bool // a retryable error, and nothing received
	}{
		{name: "STARTTLS when offered", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, wantTLS: true},
		{name: "STARTTLS and AUTH", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "s3cret")}, wantTLS: true, wantUser: "mailer"},
		{name: "smtps and AUTH", opts: []smtptest.Option{smtptest.WithImplicitTLS(), smtptest.WithAuth("mailer", "s3cret")}, wantTLS: true, wantUser: "mailer"},
		{name: "untrusted certificate: no fallback to clear text", opts: []smtptest.Option{smtptest.WithSTARTTLS()}, untrusted: true, wantErr: true},
		{name: "untrusted smtps certificate", opts: []smtptest.Option{smtptest.WithImplicitTLS()}, untrusted: true, wantErr: true},
		{name: "wrong password", opts: []smtptest.Option{smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "s3cret")}, password: "wrong", wantErr: true},
		{name: "credentials never sent in clear", opts: []smtptest.Option{smtptest.WithAuth("mailer", "s3cret")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tt.opts...)
			cfg, err := notify.ParseSMTPURL(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			if tt.password != "" {
				cfg.Password = tt.password
			}
			opts := []notify.SMTPOption{notify.WithTimeout(2 * time.Second)}
			if !tt.untrusted && srv.TLSConfig() != nil {
				opts = append(opts, notify.WithTLSConfig(srv.TLSConfig()))
			}
			d, err := notify.NewSMTPDeliverer(cfg, testFrom, opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = d.Deliver(context.Background(), emailMessage(t, renderedTest(t, "")))
			if tt.wantErr {
				if err == nil || outbox.IsPermanent(err) {
					t.Fatalf("Deliver = %v, want a retryable error", err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the password: %v", err)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("server received %d message(s)", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 || msgs[0].TLS != tt.wantTLS || msgs[0].AuthUser != tt.wantUser {
				t.Fatalf("received %+v, want one message with TLS=%v user=%q", msgs, tt.wantTLS, tt.wantUser)
			}
		})
	}
}

func TestSMTPDeliverFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		setup         func(*smtptest.Server)
		wantPermanent bool
		wantReceived  int // attempts the server saw the content of
	}{
		{"451 after DATA is retried", func(s *smtptest.Server) { s.SetDown(true) }, false, 1},
		{"452 is retried", func(s *smtptest.Server) { s.SetFailure(452) }, false, 1},
		{"554 after DATA is permanent", func(s *smtptest.Server) { s.SetFailure(554) }, true, 1},
		{"unknown mailbox is permanent", func(s *smtptest.Server) { s.RejectRecipient("alice@example.com") }, true, 0},
		{"server down is retried", func(s *smtptest.Server) { s.Stop() }, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t)
			tt.setup(srv)
			err := deliverer(t, srv).Deliver(context.Background(), emailMessage(t, renderedTest(t, "")))
			if err == nil {
				t.Fatal("Deliver succeeded")
			}
			if outbox.IsPermanent(err) != tt.wantPermanent {
				t.Errorf("Deliver = %v: permanent %v, want %v", err, outbox.IsPermanent(err), tt.wantPermanent)
			}
			if n := len(srv.Messages()); n != tt.wantReceived {
				t.Errorf("server saw %d message(s), want %d", n, tt.wantReceived)
			}
		})
	}
}

// TestSMTPRetryKeepsMessageID: the attempt that failed and the one that
// succeeded carry the same Message-ID, so a receiver that got both keeps one.
func TestSMTPRetryKeepsMessageID(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithSTARTTLS())
	d := deliverer(t, srv)
	m := emailMessage(t, renderedTest(t, ""))

	srv.SetDown(true)
	if err := d.Deliver(context.Background(), m); err == nil || outbox.IsPermanent(err) {
		t.Fatalf("first attempt = %v, want a retryable error", err)
	}
	srv.SetDown(false)
	srv.Stop()
	if err := d.Deliver(context.Background(), m); err == nil || outbox.IsPermanent(err) {
		t.Fatalf("attempt while stopped = %v, want a retryable error", err)
	}
	srv.Restart()
	if err := d.Deliver(context.Background(), m); err != nil {
		t.Fatalf("attempt after restart: %v", err)
	}

	msgs, err := srv.WaitFor(2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Accepted || !msgs[1].Accepted {
		t.Fatalf("received %d messages, want a refused then an accepted one", len(msgs))
	}
	first, second := msgs[0].Header.Get("Message-ID"), msgs[1].Header.Get("Message-ID")
	want, err := notify.MessageID(m.ID, testFrom)
	if err != nil {
		t.Fatal(err)
	}
	if first != want || second != want {
		t.Errorf("Message-IDs %q and %q, want both %q", first, second, want)
	}
	if msgs[0].Header.Get("Date") != msgs[1].Header.Get("Date") {
		t.Errorf("Date changed between attempts: %q, %q", msgs[0].Header.Get("Date"), msgs[1].Header.Get("Date"))
	}
}

func TestSMTPDeliverUndeliverablePayloads(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	d := deliverer(t, srv)
	good := emailMessage(t, renderedTest(t, ""))
	tests := []struct {
		name string
		edit func(*outbox.Message)
	}{
		{"wrong kind", func(m *outbox.Message) { m.Kind = outbox.KindWebhook }},
		{"payload not JSON", func(m *outbox.Message) { m.Payload = []byte("{") }},
		{"no recipient", func(m *outbox.Message) { m.Payload = []byte(`{"subject":"s","text":"t"}`) }},
		{"bad recipient", func(m *outbox.Message) { m.Payload = []byte(`{"to":"not an address","subject":"s","text":"t"}`) }},
		{"id unfit for a Message-ID", func(m *outbox.Message) { m.ID = "a b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := good
			tt.edit(&m)
			if err := d.Deliver(context.Background(), m); !outbox.IsPermanent(err) {
				t.Errorf("Deliver = %v, want a permanent error", err)
			}
		})
	}
}

func TestSMTPDeliverSinglePartAndClock(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := deliverer(t, srv, notify.WithClock(func() time.Time { return clock }))
	m := emailMessage(t, notify.Email{To: "bob@example.com", Subject: "Hi", Text: "just text\n"})
	m.CreatedAt = time.Time{} // a message without creation time is dated by the clock
	if err := d.Deliver(context.Background(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	msgs, err := srv.WaitFor(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if date, err := msg.Header.Date(); err != nil || !date.Equal(clock) {
		t.Errorf("Date = %q, want %v", msg.Header.Get("Date"), clock)
	}
}

func TestNewSMTPDelivererRejectsBadSettings(t *testing.T) {
	t.Parallel()
	ok := notify.SMTPConfig{Host: "mail.example.com", Port: 587}
	tests := []struct {
		name string
		cfg  notify.SMTPConfig
		from string
		opts []notify.SMTPOption
	}{
		{"bad from", ok, "no-reply", nil},
		{"from without domain", ok, "no-reply@", nil},
		{"no host", notify.SMTPConfig{Port: 25}, testFrom, nil},
		{"no port", notify.SMTPConfig{Host: "h"}, testFrom, nil},
		{"user without password", notify.SMTPConfig{Host: "h", Port: 25, Username: "u"}, testFrom, nil},
		{"zero timeout", ok, testFrom, []notify.SMTPOption{notify.WithTimeout(0)}},
	}
	for _, tt := range tests {
		if _, err := notify.NewSMTPDeliverer(tt.cfg, tt.from, tt.opts...); err == nil {
			t.Errorf("%s: NewSMTPDeliverer succeeded", tt.name)
		}
	}
	// The caller's TLS config is copied, not changed.
	tc := &tls.Config{}
	if _, err := notify.NewSMTPDeliverer(ok, testFrom, notify.WithTLSConfig(tc)); err != nil || tc.ServerName != "" {
		t.Errorf("NewSMTPDeliverer: %v; caller's ServerName = %q", err, tc.ServerName)
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, from, want string
	}{
		{"msg_abc", "Warden <no-reply@wallet.example.com>", "<msg_abc@wallet.example.com>"},
		{"msg_abc", "no-reply@localhost", "<msg_abc@localhost>"},
		{"msg_abc", `"a@b" <x@mail.example.com>`, "<msg_abc@mail.example.com>"},
		{"", testFrom, ""},
		{"a b", testFrom, ""},
		{"a>b", testFrom, ""},
		{"msg_abc", "nobody", ""},
	}
	for _, tt := range tests {
		got, err := notify.MessageID(tt.id, tt.from)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("MessageID(%q, %q) = %q, %v; want %q", tt.id, tt.from, got, err, tt.want)
		}
	}
}

// devStore keeps dev mail like the store: once per Message-ID.
type devStore struct {
	mails []notify.DevMail
	err   error
}

func (s *devStore) SaveDevMail(_ context.Context, m notify.DevMail) error {
	if s.err != nil {
		return s.err
	}
	for _, kept := range s.mails {
		if kept.MessageID == m.MessageID {
			return nil
		}
	}
	s.mails = append(s.mails, m)
	return nil
}

func TestDevMailboxDeliverer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	store := &devStore{}
	d := notify.DevMailboxDeliverer{Store: store, From: testFrom, Now: func() time.Time { return now }}
	e := renderedTest(t, "code")
	m := emailMessage(t, e)
	for range 2 { // a retried delivery is kept once
		if err := d.Deliver(context.Background(), m); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	wantID, _ := notify.MessageID(m.ID, testFrom)
	if len(store.mails) != 1 {
		t.Fatalf("kept %d mails, want 1", len(store.mails))
	}
	got := store.mails[0]
	if got.MessageID != wantID || !got.ReceivedAt.Equal(now) || got.From != testFrom ||
		got.To != e.To || got.Subject != e.Subject || got.Text != e.Text || got.HTML != e.HTML || got.ID == "" {
		t.Errorf("kept %+v", got)
	}

	bad := m
	bad.Payload = []byte("nope")
	if err := d.Deliver(context.Background(), bad); !outbox.IsPermanent(err) {
		t.Errorf("bad payload: %v, want permanent", err)
	}
	boom := errors.New("disk full")
	failing := notify.DevMailboxDeliverer{Store: &devStore{err: boom}, From: testFrom}
	if err := failing.Deliver(context.Background(), m); !errors.Is(err, boom) || outbox.IsPermanent(err) {
		t.Errorf("store failure: %v, want a retryable error wrapping it", err)
	}
}
