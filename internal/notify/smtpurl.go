package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// SMTPConfig says how to reach the mail server: parsed from WARDEN_SMTP_URL
// by ParseSMTPURL. Its String, GoString and LogValue never show Password,
// so the config can be printed or logged as is.
type SMTPConfig struct {
	Host string
	Port int
	// Username and Password are both set or both empty; with them the
	// client authenticates (AUTH), but only over TLS or with a mechanism
	// that does not reveal the password.
	Username string
	Password string
	// ImplicitTLS is true for smtps:// (TLS from the first byte, usually
	// port 465). Otherwise the connection is upgraded with STARTTLS
	// whenever the server offers it.
	ImplicitTLS bool
}

// ParseSMTPURL parses smtp://[user:pass@]host:port (STARTTLS when the
// server offers it) or smtps://[user:pass@]host:port (implicit TLS). User
// and password are percent-decoded, so they may hold any character. Errors
// never repeat the URL, since it may hold the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// its reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return SMTPConfig{}, fmt.Errorf("parse SMTP URL: %w", err)
	}
	var cfg SMTPConfig
	switch u.Scheme {
	case "smtp":
	case "smtps":
		cfg.ImplicitTLS = true
	case "":
		return SMTPConfig{}, errors.New("parse SMTP URL: missing scheme: want smtp://host:port or smtps://host:port")
	default:
		return SMTPConfig{}, fmt.Errorf("parse SMTP URL: unsupported scheme %q: want smtp or smtps", u.Scheme)
	}
	if u.Opaque != "" {
		return SMTPConfig{}, fmt.Errorf("parse SMTP URL: want %s://host:port", u.Scheme)
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return SMTPConfig{}, errors.New("parse SMTP URL: missing host")
	}
	if !validHost(cfg.Host, strings.HasPrefix(u.Host, "[")) {
		return SMTPConfig{}, errors.New("parse SMTP URL: bad host: want a host name, an IPv4 address or an IPv6 address in brackets")
	}
	port := u.Port()
	if port == "" {
		// No default: whether the server listens on 25, 587 or 2525 is
		// something only the operator knows.
		return SMTPConfig{}, fmt.Errorf("parse SMTP URL: missing port: want %s://%s:PORT (usually %s)", u.Scheme, hostForURL(cfg.Host), usualPort(cfg.ImplicitTLS))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return SMTPConfig{}, fmt.Errorf("parse SMTP URL: bad port %q: want 1 to 65535", port)
	}
	cfg.Port = n
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, errors.New("parse SMTP URL: unexpected path after host:port")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return SMTPConfig{}, errors.New("parse SMTP URL: unexpected query: no options are supported")
	}
	if u.Fragment != "" {
		return SMTPConfig{}, errors.New("parse SMTP URL: unexpected fragment")
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" || cfg.Password == "" {
			return SMTPConfig{}, errors.New("parse SMTP URL: want both user and password (user:pass@) or neither")
		}
	}
	return cfg, nil
}

// validHost accepts a DNS name (letters, digits, '-', '_' and dots), an IPv4
// address, or an IPv6 address written in brackets. net/url is laxer: it
// takes "smtp://0:0:1" as host "0:0" and port 1.
func validHost(host string, bracketed bool) bool {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Is6() == bracketed
	}
	if bracketed || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func usualPort(implicitTLS bool) string {
	if implicitTLS {
		return "465"
	}
	return "587"
}

func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// Addr is host:port for dialling.
func (c SMTPConfig) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// String is the config as a URL with the password masked.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr()}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "xxxxx")
	}
	return u.String()
}

// GoString keeps %#v from printing the password.
func (c SMTPConfig) GoString() string { return "notify.SMTPConfig(" + c.String() + ")" }

// LogValue keeps slog from printing the password.
func (c SMTPConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }
