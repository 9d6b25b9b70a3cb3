package config

import (
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/address"
)

var testKey = base64.StdEncoding.EncodeToString(make([]byte, 32))

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(Source{LookupEnv: env()}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DatabaseURL != "sqlite://./warden-data/warden.db" || c.BaseURL != "http://localhost:8080" ||
		c.MailFrom != "Warden <no-reply@localhost>" || c.LogFormat != "text" || c.OutboxMaxAttempts != 12 || c.OutboxBackoffBase != 10*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Parallel()
	file := []byte("addr: 0.0.0.0:9000\nsmtp_url: smtp://mail:25\nsecret_key: " + testKey + "\ntrusted_proxies: [10.0.0.0/8, 192.0.2.7]\noutbox_max_attempts: 3\n")
	c, err := Load(Source{LookupEnv: env("WARDEN_ADDR", "127.0.0.1:7000"), YAML: file}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" {
		t.Errorf("Addr = %s: the environment must win over the file", c.Addr)
	}
	if c.SMTPURL != "smtp://mail:25" || c.OutboxMaxAttempts != 3 || len(c.SecretKey) != 32 {
		t.Errorf("file values not applied: %+v", c)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
}

func TestInvalidValuesNameTheKey(t *testing.T) {
	t.Parallel()
	base := []string{"WARDEN_SECRET_KEY", testKey, "WARDEN_SMTP_URL", "smtp://localhost:25"}
	for _, tc := range []struct {
		env     []string
		yaml    string
		dev     bool
		wantKey string
	}{
		{env: []string{"WARDEN_ADDR", "8080"}, wantKey: "WARDEN_ADDR"},
		{env: []string{"WARDEN_DATABASE_URL", "mysql://x"}, wantKey: "WARDEN_DATABASE_URL"},
		{env: []string{"WARDEN_BASE_URL", "ftp://x"}, wantKey: "WARDEN_BASE_URL"},
		{env: []string{"WARDEN_BASE_URL", "https://x.example/app"}, wantKey: "WARDEN_BASE_URL"},
		{env: []string{"WARDEN_SMTP_URL", "http://mail"}, wantKey: "WARDEN_SMTP_URL"},
		{env: []string{"WARDEN_MAIL_FROM", "not an address"}, wantKey: "WARDEN_MAIL_FROM"},
		{env: []string{"WARDEN_SECRET_KEY", "c2hvcnQ="}, wantKey: "WARDEN_SECRET_KEY"},
		{env: []string{"WARDEN_SECRET_KEY", "!!!"}, wantKey: "WARDEN_SECRET_KEY"},
		{env: []string{"WARDEN_TRUSTED_PROXIES", "10.0.0.0/8, nonsense"}, wantKey: "WARDEN_TRUSTED_PROXIES"},
		{env: []string{"WARDEN_ADMIN_KEY", "short"}, wantKey: "WARDEN_ADMIN_KEY"},
		{env: []string{"WARDEN_LOG_LEVEL", "loud"}, wantKey: "WARDEN_LOG_LEVEL"},
		{env: []string{"WARDEN_OUTBOX_MAX_ATTEMPTS", "0"}, wantKey: "WARDEN_OUTBOX_MAX_ATTEMPTS"},
		{env: []string{"WARDEN_OUTBOX_BACKOFF_BASE", "soon"}, wantKey: "WARDEN_OUTBOX_BACKOFF_BASE"},
		{env: []string{"WARDEN_OUTBOX_BACKOFF_BASE", "2h", "WARDEN_OUTBOX_BACKOFF_MAX", "1h"}, wantKey: "WARDEN_OUTBOX_BACKOFF_MAX"},
		{env: []string{"WARDEN_RATE_LOGIN_PER_IP", "10"}, wantKey: "WARDEN_RATE_LOGIN_PER_IP"},
		{env: []string{"WARDEN_RATE_LOGIN_PER_IP", "0/1m"}, wantKey: "WARDEN_RATE_LOGIN_PER_IP"},
		{env: []string{"WARDEN_RATE_RESET_PER_ACCOUNT", "3/-1h"}, wantKey: "WARDEN_RATE_RESET_PER_ACCOUNT"},
		{env: []string{"WARDEN_PASSWORD_MEMORY_KIB", "8192", "WARDEN_PASSWORD_ITERATIONS", "1"}, wantKey: "WARDEN_PASSWORD_MEMORY_KIB"},
		{yaml: "no_such_key: 1", wantKey: "--config"},
		{yaml: "addr: [1, 2]", wantKey: "WARDEN_ADDR"},
		{yaml: "addr: {a: b}", wantKey: "WARDEN_ADDR"},
		{yaml: "- just\n- a list", wantKey: "--config"},
		{env: []string{"WARDEN_SECRET_KEY", ""}, wantKey: "WARDEN_SECRET_KEY"},
		{env: []string{"WARDEN_SMTP_URL", ""}, wantKey: "WARDEN_SMTP_URL"},
	} {
		c, err := Load(Source{LookupEnv: env(append(append([]string{}, base...), tc.env...)...), YAML: []byte(tc.yaml)}, tc.dev)
		if err == nil {
			err = c.CheckServe()
		}
		key, ok := ErrorKey(err)
		if !ok || key != tc.wantKey {
			t.Errorf("env %v yaml %q: err = %v, want an error naming %s", tc.env, tc.yaml, err, tc.wantKey)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, tc.wantKey+": ") {
			t.Errorf("error %q is not one line starting with the key", msg)
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	_, err := Load(Source{LookupEnv: env("WARDEN_SECRET_KEY", "dG9wc2VjcmV0dG9wc2VjcmV0")}, true)
	if err == nil || strings.Contains(err.Error(), "dG9wc2VjcmV0") {
		t.Fatalf("err = %v: must fail without echoing the key", err)
	}
}

// The README's configuration table is generated from nowhere else: every key
// of the schema must be documented there.
func TestEveryKeyIsDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(readme), "`"+k.Env+"`") {
			t.Errorf("README.md does not document %s", k.Env)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("addr: 127.0.0.1:1\n", "WARDEN_OUTBOX_MAX_ATTEMPTS", "3")
	f.Add("trusted_proxies: [10.0.0.0/8]\n", "WARDEN_TRUSTED_PROXIES", "::1, 10.1.2.3/16")
	f.Add("{", "WARDEN_BASE_URL", "http://[::1]:80")
	f.Add("secret_key: !!binary AAAA\n", "WARDEN_SECRET_KEY", "====")
	f.Add("outbox_backoff_base: 1e400s\n", "WARDEN_OUTBOX_BACKOFF_MAX", "-5s")
	f.Fuzz(func(t *testing.T, file, key, value string) {
		c, err := Load(Source{LookupEnv: env(key, value), YAML: []byte(file)}, true)
		if err != nil {
			if _, ok := ErrorKey(err); !ok {
				t.Fatalf("error without a key: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if c.Addr == "" || c.DatabaseURL == "" || c.OutboxMaxAttempts < 1 {
			t.Fatalf("accepted config with empty essentials: %+v", c)
		}
	})
}

func TestPayoutConfiguration(t *testing.T) {
	c, err := Load(Source{LookupEnv: env()}, true)
	if err != nil {
		t.Fatal(err)
	}
	xrp := c.Networks["xrp"]
	if len(c.Networks) != 4 || xrp.Kind != address.KindPattern || !xrp.MemoRequired || !xrp.MemoPattern.MatchString("12345") {
		t.Fatalf("default networks %+v", c.Networks)
	}
	if len(c.Assets) != 4 || c.Assets[2].Code != "USDT" || c.Assets[2].Decimals != 6 || len(c.Assets[2].Networks) != 2 {
		t.Fatalf("default assets %+v", c.Assets)
	}
	if len(c.VerificationTiers) != 3 || c.VerificationTiers[2].Rolling24h != 100_000_00 {
		t.Fatalf("default tiers %+v", c.VerificationTiers)
	}
	for _, tc := range []struct{ key, value string }{
		{"WARDEN_ASSETS", "BTC:8:dogecoin"},
		{"WARDEN_ASSETS", "btc:8:bitcoin"},
		{"WARDEN_ASSETS", "BTC:19:bitcoin"},
		{"WARDEN_ASSETS", "BTC:8:bitcoin; BTC:8:bitcoin"},
		{"WARDEN_NETWORKS", "x=pattern:("},
		{"WARDEN_NETWORKS", "x=solana"},
		{"WARDEN_NETWORKS", "bitcoin=bitcoin; bitcoin=evm"},
		{"WARDEN_VERIFICATION_TIERS", "1=personal_info:1000/500"},
		{"WARDEN_VERIFICATION_TIERS", "2=personal_info:1000/2000"},
		{"WARDEN_VERIFICATION_TIERS", "1=id_document:1000/2000; 2=personal_info:5000/9000"},
		{"WARDEN_VERIFICATION_TIERS", "1=passport:1/2"},
		{"WARDEN_VERIFICATION_TIERS", "1=personal_info:1.005/2"},
		{"WARDEN_KYC_PROVIDERS", "acme=short"},
	} {
		_, err := Load(Source{LookupEnv: env(tc.key, tc.value)}, true)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%s=%q: %v, want an error naming the key", tc.key, tc.value, err)
		}
	}
}
