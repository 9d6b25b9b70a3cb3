package notify_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/notify"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    notify.SMTPConfig
		wantErr string // substring of the error; "" means success
	}{
		{raw: "smtp://mail.example.com:587", want: notify.SMTPConfig{Host: "mail.example.com", Port: 587}},
		{raw: " smtp://mail.example.com:25/ ", want: notify.SMTPConfig{Host: "mail.example.com", Port: 25}},
		{raw: "SMTP://mail.example.com:25", want: notify.SMTPConfig{Host: "mail.example.com", Port: 25}},
		{raw: "smtps://mail.example.com:465", want: notify.SMTPConfig{Host: "mail.example.com", Port: 465, ImplicitTLS: true}},
		{raw: "smtp://user:p%40ss%3Aword@127.0.0.1:2525", want: notify.SMTPConfig{Host: "127.0.0.1", Port: 2525, Username: "user", Password: "p@ss:word"}},
		{raw: "smtps://apikey%40example.com:s3cret@[::1]:465", want: notify.SMTPConfig{Host: "::1", Port: 465, Username: "apikey@example.com", Password: "s3cret", ImplicitTLS: true}},

		{raw: "", wantErr: "missing scheme"},
		{raw: "mail.example.com:587", wantErr: "unsupported scheme"},
		{raw: "http://mail.example.com:587", wantErr: `unsupported scheme "http"`},
		{raw: "smtp:mail.example.com:587", wantErr: "want smtp://host:port"},
		{raw: "smtp://:587", wantErr: "missing host"},
		{raw: "smtp://user:pass@:587", wantErr: "missing host"},
		{raw: "smtp://0:0:1", wantErr: "bad host"},
		{raw: "smtp://[1.2.3.4]:25", wantErr: "invalid IP-literal"},
		{raw: "smtp://mail!example.com:25", wantErr: "bad host"},
		{raw: "smtp://mail.example.com", wantErr: "missing port"},
		{raw: "smtps://mail.example.com", wantErr: "usually 465"},
		{raw: "smtp://mail.example.com:", wantErr: "missing port"},
		{raw: "smtp://mail.example.com:0", wantErr: "bad port"},
		{raw: "smtp://mail.example.com:65536", wantErr: "bad port"},
		{raw: "smtp://mail.example.com:abc", wantErr: "invalid port"},
		{raw: "smtp://mail.example.com:25/inbox", wantErr: "unexpected path"},
		{raw: "smtp://mail.example.com:25?tls=no", wantErr: "unexpected query"},
		{raw: "smtp://mail.example.com:25#x", wantErr: "unexpected fragment"},
		{raw: "smtp://user@mail.example.com:25", wantErr: "both user and password"},
		{raw: "smtp://:secret@mail.example.com:25", wantErr: "both user and password"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := notify.ParseSMTPURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSMTPURL(%q) = %+v, %v; want error with %q", tt.raw, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSMTPURL(%q) = %#v, %v; want %#v", tt.raw, got, err, tt.want)
			}
		})
	}
}

// TestSMTPURLErrorsHidePassword: a URL that fails to parse must not end up
// in a log with its password, whatever part of it is wrong.
func TestSMTPURLErrorsHidePassword(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"smtp://user:hunter2secret@mail example.com:25",
		"smtp://user:hunter2secret@mail.example.com:99999",
		"smtp://user:hunter2secret@mail.example.com:25/x",
		"smtp://user:hunter2secret@mail.example.com:x",
		"smtp://user:hunter2secret%zz@mail.example.com:25",
		"ftp://user:hunter2secret@mail.example.com:25",
	} {
		_, err := notify.ParseSMTPURL(raw)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) succeeded", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestSMTPConfigNeverPrintsPassword(t *testing.T) {
	t.Parallel()
	cfg := notify.SMTPConfig{Host: "mail.example.com", Port: 587, Username: "user", Password: "hunter2secret"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("smtp", "config", cfg)
	for _, s := range []string{
		cfg.String(),
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v", &cfg),
		logged.String(),
	} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password printed: %s", s)
		}
	}
	if got, want := cfg.String(), "smtp://user:xxxxx@mail.example.com:587"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// FuzzParseSMTPURL: never panics, and whatever it accepts is a usable
// config that survives a round trip through its URL form.
func FuzzParseSMTPURL(f *testing.F) {
	for _, seed := range []string{
		"smtp://mail.example.com:587",
		"smtps://user:pass@mail.example.com:465",
		"smtp://u%40x:p%3Aw@[::1]:25/",
		"smtp://:25", "smtp://host", "smtp://host:0", "smtp:opaque", "",
		"smtp://host:25?x=y#z", "smtp://user@host:25", "smtp://[fe80::1%25eth0]:25",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := notify.ParseSMTPURL(raw)
		if err != nil {
			return
		}
		if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 || (cfg.Username == "") != (cfg.Password == "") {
			t.Fatalf("ParseSMTPURL(%q) accepted an unusable config %#v", raw, cfg)
		}
		u := url.URL{Scheme: "smtp", Host: hostPort(cfg)}
		if cfg.ImplicitTLS {
			u.Scheme = "smtps"
		}
		if cfg.Username != "" {
			u.User = url.UserPassword(cfg.Username, cfg.Password)
		}
		again, err := notify.ParseSMTPURL(u.String())
		if err != nil || again != cfg {
			t.Fatalf("round trip of %q via %q: %#v, %v; want %#v", raw, u.String(), again, err, cfg)
		}
	})
}

func hostPort(cfg notify.SMTPConfig) string {
	host := cfg.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // url.URL.String escapes a zone's %
	}
	return host + ":" + strconv.Itoa(cfg.Port)
}
