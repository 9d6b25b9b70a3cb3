// Package smtptest runs a real SMTP server inside a test, so that code which
// sends mail is tested against the protocol rather than a fake client.
//
// The server listens on 127.0.0.1 on a free port, speaks ESMTP through
// github.com/emersion/go-smtp, and records every message whose content it
// received — including the ones it then refused — so a test can see exactly
// what a client sent on each attempt:
//
//	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("user", "secret"))
//	// point the code under test at srv.URL(), trusting srv.TLSConfig()
//	msgs, err := srv.WaitFor(1, 2*time.Second)
//
// Failures are switched on and off while it runs: SetDown answers 451 after
// the message content (a temporary failure), SetFailure any other code,
// RejectRecipient refuses one address at RCPT TO, and Stop/Restart take the
// server away and bring it back on the same address.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// maxMessageBytes bounds what one message may hold: far above any email the
// code under test sends, far below what could exhaust a test machine.
const maxMessageBytes = 10 << 20

// Message is one message whose content the server received.
type Message struct {
	// From and To are the SMTP envelope (MAIL FROM, RCPT TO), not headers.
	From string
	To   []string
	// Raw is the message exactly as received after DATA (CRLF line ends).
	Raw []byte
	// Header is Raw's header parsed by net/mail; nil if it did not parse.
	Header mail.Header
	// TLS tells whether the session was encrypted (STARTTLS or implicit
	// TLS) when the message was sent.
	TLS bool
	// AuthUser is the user name the client authenticated as, or "".
	AuthUser string
	// Accepted is false when the server answered the content with an
	// error (SetDown, SetFailure); Code is the reply code it gave.
	Accepted bool
	Code     int
	// ReceivedAt is when the content was received (wall clock).
	ReceivedAt time.Time
}

// Option configures a Server at Start.
type Option func(*config)

type config struct {
	startTLS    bool
	implicitTLS bool
	user, pass  string
}

// WithSTARTTLS makes the server offer STARTTLS with a self-signed
// certificate generated for 127.0.0.1 and localhost; clients trust it
// through TLSConfig or RootCAs.
func WithSTARTTLS() Option { return func(c *config) { c.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte, as an
// smtps:// server on port 465 does, with the same self-signed certificate.
func WithImplicitTLS() Option { return func(c *config) { c.implicitTLS = true } }

// WithAuth makes the server offer AUTH PLAIN and refuse MAIL FROM (530)
// until the client authenticated as user with password pass. The server
// accepts AUTH even without TLS, so that a test can check that the client
// is the one that refuses to send credentials in clear.
func WithAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	t    testing.TB
	cfg  config
	addr string // host:port, fixed for the server's life so Restart reuses it

	cert    tls.Certificate // zero unless TLS was asked for
	rootCAs *x509.CertPool

	mu          sync.Mutex
	srv         *smtp.Server // nil while stopped
	listener    net.Listener
	served      chan struct{}
	failCode    int
	rejectRcpt  map[string]bool
	messages    []Message
	newMessages chan struct{} // closed and replaced whenever a message is recorded
}

// Start runs a server on 127.0.0.1 on a free port and stops it when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, rejectRcpt: map[string]bool{}, newMessages: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}
	if s.cfg.startTLS || s.cfg.implicitTLS {
		cert, pool, err := selfSignedCert()
		if err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		s.cert, s.rootCAs = cert, pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Host is the server's IP address, 127.0.0.1.
func (s *Server) Host() string {
	host, _, _ := net.SplitHostPort(s.addr)
	return host
}

// Port is the server's TCP port.
func (s *Server) Port() int {
	_, port, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// URL is the server's address as a Warden SMTP URL: smtps:// with implicit
// TLS, smtp:// otherwise, with the WithAuth credentials when given.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.cfg.implicitTLS {
		u.Scheme = "smtps"
	}
	if s.cfg.user != "" {
		u.User = url.UserPassword(s.cfg.user, s.cfg.pass)
	}
	return u.String()
}

// RootCAs is a pool holding the server's self-signed certificate, or nil
// when the server has no TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// TLSConfig is a client configuration that trusts the server's certificate
// (and nothing else), or nil when the server has no TLS. Each call returns
// a new value, so callers may change it.
func (s *Server) TLSConfig() *tls.Config {
	if s.rootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.rootCAs, ServerName: s.Host(), MinVersion: tls.VersionTLS12}
}

// SetDown switches the temporary failure mode: while down, the server reads
// each message and then answers 451, so the client's attempt is recorded
// (Accepted false) yet fails as a retryable error.
func (s *Server) SetDown(down bool) {
	if down {
		s.SetFailure(451)
	} else {
		s.SetFailure(0)
	}
}

// SetFailure makes the server answer every message's content with code (a
// 4xx or 5xx reply), or accept it again when code is 0.
func (s *Server) SetFailure(code int) {
	if code != 0 && (code < 400 || code > 599) {
		s.t.Errorf("smtptest: SetFailure(%d): want 0 or a 4xx/5xx code", code)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode = code
}

// RejectRecipient makes the server refuse addr at RCPT TO with 550 5.1.1,
// as a server does for a mailbox that does not exist. The message is then
// never sent and not recorded.
func (s *Server) RejectRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectRcpt[strings.ToLower(addr)] = true
}

// Messages returns a copy of every message received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor waits until at least n messages were received (accepted or not)
// and returns them all, or returns an error after timeout.
func (s *Server) WaitFor(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.messages), s.newMessages
		if got >= n {
			msgs := append([]Message(nil), s.messages...)
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return nil, fmt.Errorf("smtptest: %d message(s) received after %v, want %d", got, timeout, n)
		}
	}
}

// Stop closes the listener and every open connection; clients then get
// "connection refused". Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l, served := s.srv, s.listener, s.served
	s.srv, s.listener = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	// go-smtp's Close closes only the listeners its Serve has registered,
	// which it may not have done yet when Stop follows Start at once:
	// close ours too, so Serve returns either way.
	_ = srv.Close() // its only error is "already closed", impossible here
	_ = l.Close()   // "already closed" when Close got there first
	<-served
}

// Restart brings a stopped server back on the same address, keeping the
// recorded messages and failure settings. Restarting a running server does
// nothing.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	// The port was ours a moment ago; Go listeners set SO_REUSEADDR, so only
	// a stranger grabbing it in between can make this fail. Retry briefly in
	// case the kernel is still releasing it.
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", s.addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: restart on %s: %v", s.addr, err)
	}
	s.serve(l)
}

// serve starts a new go-smtp server on l: a go-smtp Server cannot be served
// again once closed, so each (re)start has its own.
func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.MaxMessageBytes = maxMessageBytes
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	// Connections cut by Stop would otherwise be reported on stderr.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = s.cfg.user != ""
	if s.cfg.startTLS || s.cfg.implicitTLS {
		tlsCfg := &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
		if s.cfg.implicitTLS {
			l = tls.NewListener(l, tlsCfg)
		} else {
			srv.TLSConfig = tlsCfg // go-smtp offers STARTTLS when this is set
		}
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.srv, s.listener, s.served = srv, l, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(l) // returns nil once closed; any other error shows as refused connections
	}()
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.newMessages)
	s.newMessages = make(chan struct{})
}

// session is one SMTP session. go-smtp starts a new one after STARTTLS, so
// the TLS state read from conn is always that of the current session.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.srv.cfg.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.srv.cfg.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if (identity != "" && identity != user) || user != ss.srv.cfg.user || pass != ss.srv.cfg.pass {
			return smtp.ErrAuthFailed
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.cfg.user != "" && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	reject := ss.srv.rejectRcpt[strings.ToLower(to)]
	ss.srv.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		// Too large or cut off: nothing complete to record.
		return err
	}
	m := Message{
		From:       ss.from,
		To:         append([]string(nil), ss.to...),
		Raw:        raw,
		AuthUser:   ss.authUser,
		ReceivedAt: time.Now(),
	}
	if parsed, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = parsed.Header
	}
	_, m.TLS = ss.conn.TLSConnectionState()

	ss.srv.mu.Lock()
	code := ss.srv.failCode
	ss.srv.mu.Unlock()
	m.Accepted, m.Code = code == 0, code
	if code == 0 {
		m.Code = 250
	}
	ss.srv.record(m)
	if code != 0 {
		return &smtp.SMTPError{
			Code:         code,
			EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0},
			Message:      "smtptest: failure mode " + strconv.Itoa(code),
		}
	}
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }

// selfSignedCert makes a certificate for 127.0.0.1, ::1 and localhost that
// is its own root, so a client trusts it by adding it to RootCAs alone.
func selfSignedCert() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
