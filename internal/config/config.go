// Package config reads Warden's configuration from the environment and an
// optional YAML file. One table (schema.go) lists every key with its default
// and meaning; it is the single source for parsing, validation and the docs.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/verification"
)

// Config is the whole configuration, every field filled with its value or default.
type Config struct {
	Dev bool // serve --dev: SQLite in ./warden-data, generated key, dev mailbox

	Addr           string
	DatabaseURL    string
	BaseURL        string
	PlatformName   string
	SupportURL     string
	SMTPURL        string
	MailFrom       string
	SecretKey      []byte
	OldSecretKeys  [][]byte
	TrustedProxies []netip.Prefix
	GeoIPDB        string
	GeoIPASNDB     string
	AdminKey       string
	LogLevel       string
	LogFormat      string

	HTTPReadTimeout     time.Duration
	HTTPWriteTimeout    time.Duration
	HTTPIdleTimeout     time.Duration
	HTTPShutdownTimeout time.Duration

	OutboxMaxAttempts  int
	OutboxBackoffBase  time.Duration
	OutboxBackoffMax   time.Duration
	OutboxTimeout      time.Duration
	OutboxPollInterval time.Duration
	OutboxConcurrency  int

	AuditCheckpointInterval time.Duration

	PasswordMemoryKiB   int
	PasswordIterations  int
	PasswordParallelism int
	PasswordHashQueue   int
	PasswordHashMaxWait time.Duration

	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration
	SessionCacheTTL    time.Duration

	RateLoginPerIP ratelimit.Limit
	// RateLoginFailuresPerIP counts only failures, across all accounts.
	RateLoginFailuresPerIP ratelimit.Limit
	RateRegisterPerIP      ratelimit.Limit
	RateResetPerIP         ratelimit.Limit
	RateResetPerAccount    ratelimit.Limit

	EmailVerificationTTL time.Duration
	PasswordResetTTL     time.Duration
	FreezeLinkTTL        time.Duration
	MFAChallengeTTL      time.Duration

	LockoutMaxFailures int
	LockoutBaseDelay   time.Duration
	LockoutMaxDelay    time.Duration
	LoginFailureWindow time.Duration
	RiskChallengeAt    int
	RiskDenyAt         int
	RiskWeights        map[string]int
	RiskMaxTravelKmh   int
	// The thresholds that start risk signals (risk.Config's).
	RiskMinTravelKm         int
	RiskRecentFailuresMin   int
	RiskStuffingMinAccounts int
	RiskManyIPsMin          int
	RiskUsualHourMinLogins  int
	RiskUnusualHourSpan     int
	NewDeviceEmailWithMFA   bool
	DeviceConfirmationTTL   time.Duration
	StepUpWindow            time.Duration

	ReferenceCurrency string
	ReferenceDecimals int
	// VerificationTiers are the tiers above 0, with their requirements and
	// limits in the reference currency's smallest unit.
	VerificationTiers    []verification.Tier
	KYCAdultAge          int
	KYCRetention         time.Duration
	KYCProviders         map[string][]byte // provider name → HMAC secret
	KYCProviderTolerance time.Duration
	MFAResetWait         time.Duration
	MFAResetReminder     time.Duration

	// Networks and Assets are what the platform pays out, and where.
	Networks                  map[string]address.Network
	Assets                    []AssetConfig
	AddressHold               time.Duration
	WithdrawalConfirmationTTL time.Duration
	WithdrawalRequireMFA      bool
	WithdrawalRequireEmail    bool
	CooldownPassword          time.Duration
	CooldownMFA               time.Duration
	CooldownNewDevice         time.Duration
	CooldownUnfreeze          time.Duration
	WithdrawalOneInReview     bool
	PriceMaxAge               time.Duration
	RulesFile                 string
	MonitorSyncTimeout        time.Duration
}

// AssetConfig is one asset of WARDEN_ASSETS.
type AssetConfig struct {
	Code     string
	Decimals int
	Networks []string
}

// devHost names a loopback listen address "localhost": passkeys need a
// domain name as their relying-party id, never an IP address, and browsers
// treat http://localhost as a secure context.
func devHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		return net.JoinHostPort("localhost", port)
	}
	return addr
}

// Error names the key that is wrong and says what is wrong with it, in one line.
type Error struct {
	Key     string // the environment variable name
	Problem string
}

func (e *Error) Error() string { return e.Key + ": " + e.Problem }

// Source is where raw values come from: the environment (os.LookupEnv) and a YAML file.
type Source struct {
	LookupEnv func(string) (string, bool)
	// YAML is the content of the --config file, if one was given. Its keys are
	// the variable names without WARDEN_, in lower case (smtp_url, addr, …).
	YAML []byte
}

// FromEnvironment reads the process environment and, if path is not empty, that YAML file.
func FromEnvironment(path string) (Source, error) {
	src := Source{LookupEnv: os.LookupEnv}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Source{}, &Error{Key: "--config", Problem: fmt.Sprintf("cannot read %s: %v", path, err)}
		}
		src.YAML = b
	}
	return src, nil
}

// Load builds the configuration: defaults, then the YAML file, then the
// environment (which wins). The first bad value stops it with an *Error.
func Load(src Source, dev bool) (Config, error) {
	raw := map[string]string{}
	for _, k := range schema {
		raw[k.Env] = k.Default
		if dev && k.DevDefault != "" {
			raw[k.Env] = k.DevDefault
		}
	}
	given := map[string]bool{}
	if len(bytes.TrimSpace(src.YAML)) > 0 {
		fromFile, err := parseYAML(src.YAML)
		if err != nil {
			return Config{}, err
		}
		for k, v := range fromFile {
			raw[k] = v
			given[k] = true
		}
	}
	if src.LookupEnv != nil {
		for _, k := range schema {
			if v, ok := src.LookupEnv(k.Env); ok {
				raw[k.Env] = v
				given[k.Env] = true
			}
		}
	}
	// In dev the links in emails must reach this server wherever it listens.
	if dev && !given["WARDEN_BASE_URL"] {
		raw["WARDEN_BASE_URL"] = "http://" + devHost(strings.TrimSpace(raw["WARDEN_ADDR"]))
	}
	c := Config{Dev: dev}
	for _, k := range schema {
		if err := k.parse(&c, strings.TrimSpace(raw[k.Env])); err != nil {
			return Config{}, &Error{Key: k.Env, Problem: err.Error()}
		}
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseYAML reads a flat mapping of known keys to scalar values.
func parseYAML(b []byte) (map[string]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &Error{Key: "--config", Problem: "not a YAML mapping: " + firstLine(err.Error())}
	}
	out := map[string]string{}
	names := make([]string, 0, len(doc))
	for name := range doc {
		names = append(names, name)
	}
	sort.Strings(names) // report the first bad key deterministically
	for _, name := range names {
		k, ok := byYAMLName(name)
		if !ok {
			return nil, &Error{Key: "--config", Problem: fmt.Sprintf("unknown key %q", name)}
		}
		switch v := doc[name].(type) {
		case string:
			out[k.Env] = v
		case int, int64, uint64, float64, bool:
			out[k.Env] = fmt.Sprint(v)
		case []any:
			parts := make([]string, 0, len(v))
			for _, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, &Error{Key: k.Env, Problem: fmt.Sprintf("config file key %q: list items must be strings", name)}
				}
				parts = append(parts, s)
			}
			out[k.Env] = strings.Join(parts, ",")
		case nil:
			out[k.Env] = ""
		default:
			return nil, &Error{Key: k.Env, Problem: fmt.Sprintf("config file key %q must be a single value", name)}
		}
	}
	return out, nil
}

// CheckServe applies the rules for running the server outside --dev: it must
// be able to encrypt and to send security email. Other commands (migrate,
// admin, audit) need neither.
func (c *Config) CheckServe() error {
	if !c.Dev {
		if len(c.SecretKey) == 0 {
			return &Error{Key: "WARDEN_SECRET_KEY", Problem: "required (base64 of 32 random bytes, e.g. `openssl rand -base64 32`); only serve --dev generates one"}
		}
		if c.SMTPURL == "" {
			return &Error{Key: "WARDEN_SMTP_URL", Problem: "required outside --dev: Warden must be able to send security emails"}
		}
	}
	return nil
}

// check applies the rules that involve more than one key.
func (c *Config) check() error {
	// OWASP's equivalent settings all cost at least 35840 KiB·passes
	// (e.g. 19456 KiB × 2); the password package refuses less.
	if c.PasswordMemoryKiB*c.PasswordIterations < 35840 {
		return &Error{Key: "WARDEN_PASSWORD_MEMORY_KIB", Problem: fmt.Sprintf("memory × WARDEN_PASSWORD_ITERATIONS = %d KiB, at least 35840 needed (OWASP: e.g. 19456 KiB with 2 iterations)", c.PasswordMemoryKiB*c.PasswordIterations)}
	}
	if c.OutboxBackoffMax < c.OutboxBackoffBase {
		return &Error{Key: "WARDEN_OUTBOX_BACKOFF_MAX", Problem: "must not be shorter than WARDEN_OUTBOX_BACKOFF_BASE"}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ErrorKey returns the key named by a configuration error, if err is one.
func ErrorKey(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Key, true
	}
	return "", false
}
