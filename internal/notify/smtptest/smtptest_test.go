package smtptest_test

import (
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify/smtptest"
)

const body = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n"

// send is an independent client (the standard library's) speaking to the
// server, optionally with STARTTLS and AUTH PLAIN.
func send(t *testing.T, srv *smtptest.Server, startTLS *tls.Config, auth smtp.Auth, to string) error {
	t.Helper()
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if startTLS != nil {
		if err := c.StartTLS(startTLS); err != nil {
			return err
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("a@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestRecordsMessages(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	if err := send(t, srv, nil, nil, "b@example.com"); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs, err := srv.WaitFor(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "a@example.com" || len(m.To) != 1 || m.To[0] != "b@example.com" {
		t.Errorf("envelope = %q → %q", m.From, m.To)
	}
	if !m.Accepted || m.Code != 250 || m.TLS || m.AuthUser != "" {
		t.Errorf("accepted=%v code=%d tls=%v user=%q", m.Accepted, m.Code, m.TLS, m.AuthUser)
	}
	if got := m.Header.Get("Message-ID"); got != "<1@example.com>" {
		t.Errorf("Message-ID = %q", got)
	}
	if string(m.Raw) != body {
		t.Errorf("raw = %q, want %q", m.Raw, body)
	}
	if srv.TLSConfig() != nil || srv.RootCAs() != nil {
		t.Error("a server without TLS gives a TLS config")
	}
	if want := "smtp://" + srv.Addr(); srv.URL() != want {
		t.Errorf("URL = %q, want %q", srv.URL(), want)
	}
}

func TestSTARTTLSAndAuth(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("user", "pa:ss"))
	if !strings.HasPrefix(srv.URL(), "smtp://user:pa%3Ass@127.0.0.1:") {
		t.Errorf("URL = %q", srv.URL())
	}

	tests := []struct {
		name     string
		tls      bool
		auth     smtp.Auth
		wantCode int // 0: delivered; -1: fails before any reply code
	}{
		{"tls and auth", true, smtp.PlainAuth("", "user", "pa:ss", "127.0.0.1"), 0},
		{"wrong password", true, smtp.PlainAuth("", "user", "nope", "127.0.0.1"), 535},
		{"no auth", true, nil, 530},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *tls.Config
			if tt.tls {
				cfg = srv.TLSConfig()
			}
			err := send(t, srv, cfg, tt.auth, "b@example.com")
			if got := code(err); (tt.wantCode == 0 && err != nil) || got != tt.wantCode {
				t.Fatalf("send: %v (code %d), want code %d", err, got, tt.wantCode)
			}
		})
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "user" {
		t.Fatalf("messages = %+v, want one over TLS by user", msgs)
	}
}

func TestUntrustedClientRefusesCertificate(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithSTARTTLS())
	err := send(t, srv, &tls.Config{ServerName: "127.0.0.1"}, nil, "b@example.com")
	if err == nil {
		t.Fatal("a client without the server's root accepted its certificate")
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.WithImplicitTLS())
	if !strings.HasPrefix(srv.URL(), "smtps://") {
		t.Errorf("URL = %q", srv.URL())
	}
	conn, err := tls.Dial("tcp", srv.Addr(), srv.TLSConfig())
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	c, err := smtp.NewClient(conn, srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("an implicit-TLS server offers STARTTLS")
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

func TestFailureModes(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	srv.RejectRecipient("Gone@example.com")

	srv.SetDown(true)
	if err := send(t, srv, nil, nil, "b@example.com"); code(err) != 451 {
		t.Fatalf("while down: %v, want 451", err)
	}
	srv.SetFailure(554)
	if err := send(t, srv, nil, nil, "b@example.com"); code(err) != 554 {
		t.Fatalf("with failure 554: %v, want 554", err)
	}
	srv.SetDown(false)
	if err := send(t, srv, nil, nil, "gone@example.com"); code(err) != 550 {
		t.Fatalf("rejected recipient: %v, want 550", err)
	}
	if err := send(t, srv, nil, nil, "b@example.com"); err != nil {
		t.Fatalf("back up: %v", err)
	}

	msgs := srv.Messages()
	var got []int
	for _, m := range msgs {
		got = append(got, m.Code)
		if m.Accepted != (m.Code == 250) {
			t.Errorf("message with code %d: accepted = %v", m.Code, m.Accepted)
		}
	}
	if want := []int{451, 554, 250}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("recorded codes = %v, want %v (a refused recipient sends nothing)", got, want)
	}
}

func TestStopRestartSameAddress(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	addr := srv.Addr()
	srv.Stop()
	srv.Stop() // idempotent
	if err := send(t, srv, nil, nil, "b@example.com"); err == nil {
		t.Fatal("sent to a stopped server")
	}
	srv.Restart()
	srv.Restart() // idempotent
	if srv.Addr() != addr {
		t.Fatalf("address changed: %s → %s", addr, srv.Addr())
	}
	if err := send(t, srv, nil, nil, "b@example.com"); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if _, err := srv.WaitFor(1, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	start := time.Now()
	if _, err := srv.WaitFor(1, 50*time.Millisecond); err == nil {
		t.Fatal("WaitFor returned without a message")
	}
	if time.Since(start) > time.Second {
		t.Error("WaitFor overstayed its timeout")
	}
	go func() { _ = send(t, srv, nil, nil, "b@example.com") }()
	if msgs, err := srv.WaitFor(1, 2*time.Second); err != nil || len(msgs) != 1 {
		t.Fatalf("WaitFor = %d messages, %v", len(msgs), err)
	}
}
