package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/outbox"
)

// DefaultSMTPTimeout bounds connecting and each SMTP command.
const DefaultSMTPTimeout = 15 * time.Second

// MessageID is the Message-ID header of the email sent for outbox message
// outboxID from address from: <outboxID@domain-of-from>. It depends on
// nothing else, so every attempt at the same message carries the same
// Message-ID and the receiver (or the dev mailbox) keeps it once.
func MessageID(outboxID, from string) (string, error) {
	if outboxID == "" || strings.IndexFunc(outboxID, func(r rune) bool { return !isAtext(r) }) >= 0 {
		return "", fmt.Errorf("message id for %q: outbox id must be a non-empty dot-atom", outboxID)
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return "", fmt.Errorf("message id for %s: sender %q: %w", outboxID, from, err)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if at < 0 || at == len(addr.Address)-1 {
		return "", fmt.Errorf("message id for %s: sender %q has no domain", outboxID, from)
	}
	return "<" + outboxID + "@" + addr.Address[at+1:] + ">", nil
}

// isAtext tells whether r may appear in an RFC 5322 dot-atom (dots aside,
// which are fine too except at the ends; outbox ids never have any).
func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)
}

// SMTPOption configures an SMTPDeliverer.
type SMTPOption func(*SMTPDeliverer)

// WithTLSConfig sets the TLS configuration used for STARTTLS and smtps, for
// example to trust a private CA. ServerName defaults to the SMTP host and
// the minimum version to TLS 1.2.
func WithTLSConfig(c *tls.Config) SMTPOption {
	return func(d *SMTPDeliverer) { d.tlsConfig = c }
}

// WithTimeout bounds connecting and each SMTP command (DefaultSMTPTimeout
// otherwise).
func WithTimeout(t time.Duration) SMTPOption {
	return func(d *SMTPDeliverer) { d.timeout = t }
}

// WithClock sets the clock used for the Date of messages that have no
// creation time (time.Now otherwise).
func WithClock(now func() time.Time) SMTPOption {
	return func(d *SMTPDeliverer) { d.now = now }
}

// SMTPDeliverer sends outbox emails to an SMTP server. It opens one
// connection per message: simple, and enough for a security service's
// volume of mail. It is safe for concurrent use.
type SMTPDeliverer struct {
	cfg       SMTPConfig
	from      string // as configured, for the From header
	tlsConfig *tls.Config
	timeout   time.Duration
	now       func() time.Time
}

// NewSMTPDeliverer returns a deliverer that sends through cfg as from
// (WARDEN_MAIL_FROM, e.g. `Warden <no-reply@example.com>`).
func NewSMTPDeliverer(cfg SMTPConfig, from string, opts ...SMTPOption) (*SMTPDeliverer, error) {
	if _, err := MessageID("check", from); err != nil {
		return nil, fmt.Errorf("new SMTP deliverer: %w", err)
	}
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("new SMTP deliverer: server %s: want a host and a port", cfg)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("new SMTP deliverer: want both user name and password or neither")
	}
	d := &SMTPDeliverer{cfg: cfg, from: from, timeout: DefaultSMTPTimeout, now: time.Now}
	for _, o := range opts {
		o(d)
	}
	if d.timeout <= 0 {
		return nil, fmt.Errorf("new SMTP deliverer: timeout %v: want a positive duration", d.timeout)
	}
	var tc *tls.Config
	if d.tlsConfig != nil {
		tc = d.tlsConfig.Clone() // ours to complete, and safe from later changes by the caller
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	d.tlsConfig = tc
	// Building a client checks the options once, at start.
	if _, err := d.client(); err != nil {
		return nil, fmt.Errorf("new SMTP deliverer: %w", err)
	}
	return d, nil
}

// client makes a go-mail client for one delivery. go-mail implements the
// policy we want: with TLSOpportunistic it upgrades with STARTTLS whenever
// the server offers it and fails (never falls back to clear text) when the
// upgrade fails; SMTPAuthAutoDiscover never sends PLAIN or LOGIN over an
// unencrypted connection. Its logging stays off, so credentials never reach
// a log.
func (d *SMTPDeliverer) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(d.cfg.Port),
		gomail.WithTimeout(d.timeout),
		gomail.WithTLSConfig(d.tlsConfig),
		// One message per connection: the NOOP that checks a reused
		// connection is a wasted round trip.
		gomail.WithoutNoop(),
	}
	if d.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if d.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(d.cfg.Username),
			gomail.WithPassword(d.cfg.Password))
	}
	c, err := gomail.NewClient(d.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client for %s: %w", d.cfg, err)
	}
	return c, nil
}

// Deliver sends the email in m. A refusal with a 5xx reply to the message
// (MAIL FROM, RCPT TO or its content: the mailbox does not exist, the
// content is refused) is permanent; a 4xx reply, a network error or a
// failure before the message is sent (connecting, TLS, AUTH) is returned as
// is, to be retried. Failing to authenticate is deliberately not permanent:
// it is the server's setup, not the message, that is wrong, and once the
// operator fixes it the waiting messages go out by themselves.
func (d *SMTPDeliverer) Deliver(ctx context.Context, m outbox.Message) error {
	e, messageID, err := decodeEmail(m, d.from)
	if err != nil {
		return err
	}
	date := m.CreatedAt
	if date.IsZero() {
		date = d.now()
	}
	msg, err := d.compose(e, messageID, date)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("send email %s: %w", m.ID, err))
	}
	c, err := d.client()
	if err != nil {
		return fmt.Errorf("send email %s: %w", m.ID, err)
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server accepted the message; a failure afterwards (RSET,
		// QUIT) must not cause a second copy to be sent.
		return nil
	}
	if err != nil {
		err = fmt.Errorf("send email %s via %s: %w", m.ID, d.cfg.Addr(), err)
		if isPermanentSMTP(err) {
			return outbox.Permanent(err)
		}
		return err
	}
	return errors.New("send email " + m.ID + ": server did not confirm delivery")
}

// decodeEmail reads the Email in an outbox message. A message that cannot
// be read never will be: the error is permanent.
func decodeEmail(m outbox.Message, from string) (Email, string, error) {
	if m.Kind != outbox.KindEmail {
		return Email{}, "", outbox.Permanent(fmt.Errorf("deliver %s: kind %q is not %q", m.ID, m.Kind, outbox.KindEmail))
	}
	var e Email
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return Email{}, "", outbox.Permanent(fmt.Errorf("deliver email %s: decode payload: %w", m.ID, err))
	}
	if e.To == "" {
		return Email{}, "", outbox.Permanent(fmt.Errorf("deliver email %s: no recipient", m.ID))
	}
	messageID, err := MessageID(m.ID, from)
	if err != nil {
		return Email{}, "", outbox.Permanent(fmt.Errorf("deliver email %s: %w", m.ID, err))
	}
	return e, messageID, nil
}

// compose builds the MIME message: multipart/alternative with the text part
// first and the HTML part last (the last is the preferred one), UTF-8,
// quoted-printable.
func (d *SMTPDeliverer) compose(e Email, messageID string, date time.Time) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(d.from); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if err := msg.To(e.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(e.Subject)
	msg.SetDateWithValue(date)
	msg.SetMessageIDWithValue(strings.Trim(messageID, "<>"))
	// RFC 3834: tells auto-responders (vacation replies) not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	// The same, for Microsoft Exchange, which ignores Auto-Submitted.
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	switch {
	case e.Text != "" && e.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, e.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	case e.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, e.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, e.Text)
	}
	return msg, nil
}

// isPermanentSMTP tells whether err is a 5xx reply to the mail transaction
// (MAIL FROM, RCPT TO, DATA or the end of the content). go-mail reports
// those as a SendError with the reply code; failures while connecting,
// starting TLS or authenticating come as other errors.
func isPermanentSMTP(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return se.ErrorCode() >= 500 && se.ErrorCode() <= 599
	}
	return false
}

// DevMailboxDeliverer keeps emails in the dev mailbox (serve --dev) instead
// of sending them, with the Message-ID an SMTPDeliverer would have used, so
// a retried delivery is kept once.
type DevMailboxDeliverer struct {
	Store DevMailStore
	From  string
	Now   func() time.Time
}

// Deliver saves the email in m to the dev mailbox.
func (d DevMailboxDeliverer) Deliver(ctx context.Context, m outbox.Message) error {
	e, messageID, err := decodeEmail(m, d.From)
	if err != nil {
		return err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	dm := DevMail{
		ID:         id.New("dml"),
		MessageID:  messageID,
		ReceivedAt: now(),
		From:       d.From,
		To:         e.To,
		Subject:    e.Subject,
		Text:       e.Text,
		HTML:       e.HTML,
	}
	if err := d.Store.SaveDevMail(ctx, dm); err != nil {
		return fmt.Errorf("deliver email %s to dev mailbox: %w", m.ID, err)
	}
	return nil
}
