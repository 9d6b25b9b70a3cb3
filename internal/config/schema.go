package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/verification"
)

// Key is one configuration key.
type Key struct {
	Env        string // environment variable
	Default    string
	DevDefault string // default under serve --dev, when it differs
	Help       string
	parse      func(c *Config, raw string) error
}

// YAMLName is the key's name in a --config file.
func (k Key) YAMLName() string { return strings.ToLower(strings.TrimPrefix(k.Env, "WARDEN_")) }

// Keys lists every key, in documentation order.
func Keys() []Key { return append([]Key(nil), schema...) }

func byYAMLName(name string) (Key, bool) {
	for _, k := range schema {
		if k.YAMLName() == name {
			return k, true
		}
	}
	return Key{}, false
}

var schema = []Key{
	{Env: "WARDEN_ADDR", Default: "127.0.0.1:8080", Help: "listen address",
		parse: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("want host:port, got %q", v)
			}
			c.Addr = v
			return nil
		}},
	{Env: "WARDEN_DATABASE_URL", Default: "sqlite://./warden-data/warden.db", Help: "`sqlite://PATH` or `postgres://…`",
		parse: func(c *Config, v string) error {
			switch {
			case strings.HasPrefix(v, "sqlite://") && len(v) > len("sqlite://"):
			case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
				if _, err := url.Parse(v); err != nil {
					return errors.New("not a valid postgres:// URL")
				}
			default:
				return errors.New("want sqlite://PATH or postgres://…")
			}
			c.DatabaseURL = v
			return nil
		}},
	{Env: "WARDEN_BASE_URL", Default: "http://localhost:8080", Help: "public URL of Warden, used in links inside emails and as the passkey origin",
		parse: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return fmt.Errorf("want an absolute http(s) URL without path or query, got %q", v)
			}
			c.BaseURL = strings.TrimSuffix(v, "/")
			return nil
		}},
	{Env: "WARDEN_PLATFORM_NAME", Default: "Warden", Help: "name shown in pages, emails and authenticator apps",
		parse: func(c *Config, v string) error {
			if v == "" || len(v) > 60 || strings.ContainsAny(v, ":\r\n") {
				return errors.New("must be 1 to 60 characters, without ':' or line breaks")
			}
			c.PlatformName = v
			return nil
		}},
	{Env: "WARDEN_SUPPORT_URL", Help: "where users reach the platform's support: an absolute `http(s)://` URL or `mailto:` address; the frozen-account page links to it",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if err := checkSupportURL(v); err != nil {
				return err
			}
			c.SupportURL = v
			return nil
		}},
	{Env: "WARDEN_SMTP_URL", Help: "`smtp://[user:pass@]host:port` (STARTTLS when offered) or `smtps://…`; unset: dev mailbox under --dev, refused otherwise",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if _, err := notify.ParseSMTPURL(v); err != nil {
				return err
			}
			c.SMTPURL = v
			return nil
		}},
	{Env: "WARDEN_MAIL_FROM", Default: "Warden <no-reply@localhost>", Help: "sender of every email",
		parse: func(c *Config, v string) error {
			if _, err := mail.ParseAddress(v); err != nil {
				return fmt.Errorf("not an email address: %q", v)
			}
			c.MailFrom = v
			return nil
		}},
	{Env: "WARDEN_SECRET_KEY", Help: "base64 of 32 random bytes: encryption at rest and audit checkpoints; generated in dev, required otherwise",
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			key, err := decodeKey(v)
			c.SecretKey = key
			return err
		}},
	{Env: "WARDEN_OLD_SECRET_KEYS", Help: "comma-separated earlier secret keys, still used to open what they sealed (key rotation)",
		parse: func(c *Config, v string) error {
			for _, part := range splitList(v) {
				key, err := decodeKey(part)
				if err != nil {
					return err
				}
				c.OldSecretKeys = append(c.OldSecretKeys, key)
			}
			return nil
		}},
	{Env: "WARDEN_TRUSTED_PROXIES", Help: "comma-separated CIDRs whose X-Forwarded-For is believed",
		parse: func(c *Config, v string) error {
			for _, part := range splitList(v) {
				p, err := netip.ParsePrefix(part)
				if err != nil {
					addr, addrErr := netip.ParseAddr(part)
					if addrErr != nil {
						return fmt.Errorf("not a CIDR or IP address: %q", part)
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
	{Env: "WARDEN_GEOIP_DB", Help: "path of a MaxMind/DB-IP .mmdb city or country database; unset: the place signals (new country, impossible travel) are off",
		parse: func(c *Config, v string) error { c.GeoIPDB = v; return nil }},
	{Env: "WARDEN_GEOIP_ASN_DB", Help: "path of a MaxMind/DB-IP .mmdb ASN database, for the new-network signal (optional)",
		parse: func(c *Config, v string) error { c.GeoIPASNDB = v; return nil }},
	{Env: "WARDEN_ADMIN_KEY", Help: "if set, an admin key with every scope (bootstrap for scripts and tests); at least 32 characters",
		parse: func(c *Config, v string) error {
			if v != "" && len(v) < 32 {
				return errors.New("must be at least 32 characters")
			}
			c.AdminKey = v
			return nil
		}},
	{Env: "WARDEN_LOG_LEVEL", Default: "info", Help: "`debug`, `info`, `warn` or `error`",
		parse: oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{Env: "WARDEN_LOG_FORMAT", Default: "json", DevDefault: "text", Help: "`json` or `text`",
		parse: oneOf(func(c *Config) *string { return &c.LogFormat }, "json", "text")},
	{Env: "WARDEN_HTTP_READ_TIMEOUT", Default: "15s", Help: "longest time to read a request, body included",
		parse: duration(func(c *Config) *time.Duration { return &c.HTTPReadTimeout }, time.Second, time.Hour)},
	{Env: "WARDEN_HTTP_WRITE_TIMEOUT", Default: "30s", Help: "longest time to write a response",
		parse: duration(func(c *Config) *time.Duration { return &c.HTTPWriteTimeout }, time.Second, time.Hour)},
	{Env: "WARDEN_HTTP_IDLE_TIMEOUT", Default: "120s", Help: "how long an idle keep-alive connection stays open",
		parse: duration(func(c *Config) *time.Duration { return &c.HTTPIdleTimeout }, time.Second, time.Hour)},
	{Env: "WARDEN_SHUTDOWN_TIMEOUT", Default: "20s", Help: "how long a stopping server waits for requests and deliveries in flight",
		parse: duration(func(c *Config) *time.Duration { return &c.HTTPShutdownTimeout }, 0, time.Hour)},
	{Env: "WARDEN_OUTBOX_MAX_ATTEMPTS", Default: "12", Help: "delivery attempts before an email or webhook is parked dead",
		parse: integer(func(c *Config) *int { return &c.OutboxMaxAttempts }, 1, 1000)},
	{Env: "WARDEN_OUTBOX_BACKOFF_BASE", Default: "10s", Help: "wait after a first failed delivery; doubles each time, with jitter",
		parse: duration(func(c *Config) *time.Duration { return &c.OutboxBackoffBase }, time.Millisecond, 24*time.Hour)},
	{Env: "WARDEN_OUTBOX_BACKOFF_MAX", Default: "1h", Help: "longest wait between delivery attempts",
		parse: duration(func(c *Config) *time.Duration { return &c.OutboxBackoffMax }, time.Millisecond, 7*24*time.Hour)},
	{Env: "WARDEN_OUTBOX_TIMEOUT", Default: "30s", Help: "limit on one delivery attempt",
		parse: duration(func(c *Config) *time.Duration { return &c.OutboxTimeout }, 100*time.Millisecond, 10*time.Minute)},
	{Env: "WARDEN_OUTBOX_POLL_INTERVAL", Default: "1s", Help: "how often each node looks for due messages",
		parse: duration(func(c *Config) *time.Duration { return &c.OutboxPollInterval }, time.Millisecond, time.Hour)},
	{Env: "WARDEN_OUTBOX_CONCURRENCY", Default: "4", Help: "deliveries in flight at once on each node",
		parse: integer(func(c *Config) *int { return &c.OutboxConcurrency }, 1, 256)},
	{Env: "WARDEN_AUDIT_CHECKPOINT_INTERVAL", Default: "1m", Help: "how often the heads of the audit chains are sealed by a keyed checkpoint",
		parse: duration(func(c *Config) *time.Duration { return &c.AuditCheckpointInterval }, 100*time.Millisecond, 24*time.Hour)},
	{Env: "WARDEN_PASSWORD_MEMORY_KIB", Default: "19456", Help: "Argon2id memory per hash in KiB (OWASP: at least 19456 with 2 iterations); raise freely, old hashes are upgraded at the next login",
		parse: integer(func(c *Config) *int { return &c.PasswordMemoryKiB }, 7168, 4<<20)},
	{Env: "WARDEN_PASSWORD_ITERATIONS", Default: "2", Help: "Argon2id passes over memory",
		parse: integer(func(c *Config) *int { return &c.PasswordIterations }, 1, 100)},
	{Env: "WARDEN_PASSWORD_PARALLELISM", Default: "1", Help: "Argon2id lanes per hash",
		parse: integer(func(c *Config) *int { return &c.PasswordParallelism }, 1, 16)},
	{Env: "WARDEN_PASSWORD_HASH_QUEUE", Default: "64", Help: "password hashes that may wait for a core; past it logins answer 503 `overloaded`",
		parse: integer(func(c *Config) *int { return &c.PasswordHashQueue }, 1, 100000)},
	{Env: "WARDEN_PASSWORD_HASH_MAX_WAIT", Default: "2s", Help: "longest wait for a core before a login answers 503 `overloaded`",
		parse: duration(func(c *Config) *time.Duration { return &c.PasswordHashMaxWait }, 10*time.Millisecond, time.Minute)},
	{Env: "WARDEN_SESSION_IDLE_TIMEOUT", Default: "30m", Help: "a session unused this long ends",
		parse: duration(func(c *Config) *time.Duration { return &c.SessionIdleTimeout }, time.Second, 30*24*time.Hour)},
	{Env: "WARDEN_SESSION_LIFETIME", Default: "24h", Help: "a session ends this long after login, however active",
		parse: duration(func(c *Config) *time.Duration { return &c.SessionLifetime }, time.Second, 365*24*time.Hour)},
	{Env: "WARDEN_SESSION_CACHE_TTL", Default: "30s", Help: "how long a node keeps a resolved session in memory (revocations evict it at once)",
		parse: duration(func(c *Config) *time.Duration { return &c.SessionCacheTTL }, 0, time.Hour)},
	{Env: "WARDEN_RATE_LOGIN_PER_IP", Default: "30/1m", Help: "login attempts from one IP address (`N/duration`, a token bucket: N at once, refilled at N per duration)",
		parse: rate(func(c *Config) *ratelimit.Limit { return &c.RateLoginPerIP })},
	{Env: "WARDEN_RATE_LOGIN_FAILURES_PER_IP", Default: "30/15m", Help: "failed logins from one IP address across all accounts (credential stuffing); past it logins from there answer 429",
		parse: rate(func(c *Config) *ratelimit.Limit { return &c.RateLoginFailuresPerIP })},
	{Env: "WARDEN_RATE_REGISTER_PER_IP", Default: "10/1h", Help: "registrations from one IP address",
		parse: rate(func(c *Config) *ratelimit.Limit { return &c.RateRegisterPerIP })},
	{Env: "WARDEN_RATE_RESET_PER_IP", Default: "10/1h", Help: "password reset requests from one IP address",
		parse: rate(func(c *Config) *ratelimit.Limit { return &c.RateResetPerIP })},
	{Env: "WARDEN_RATE_RESET_PER_ACCOUNT", Default: "3/1h", Help: "password reset emails to one address",
		parse: rate(func(c *Config) *ratelimit.Limit { return &c.RateResetPerAccount })},
	{Env: "WARDEN_EMAIL_VERIFICATION_TTL", Default: "24h", Help: "how long an email verification link works",
		parse: duration(func(c *Config) *time.Duration { return &c.EmailVerificationTTL }, time.Second, 30*24*time.Hour)},
	{Env: "WARDEN_PASSWORD_RESET_TTL", Default: "30m", Help: "how long a password reset link works",
		parse: duration(func(c *Config) *time.Duration { return &c.PasswordResetTTL }, time.Second, 24*time.Hour)},
	{Env: "WARDEN_FREEZE_LINK_TTL", Default: "720h", Help: "how long the \"this wasn't me\" link of a security email works",
		parse: duration(func(c *Config) *time.Duration { return &c.FreezeLinkTTL }, time.Minute, 365*24*time.Hour)},
	{Env: "WARDEN_LOCKOUT_MAX_FAILURES", Default: "5", Help: "wrong passwords or codes in a row that lock a lane (a trusted device, or all untrusted devices together)",
		parse: integer(func(c *Config) *int { return &c.LockoutMaxFailures }, 1, 1000)},
	{Env: "WARDEN_LOCKOUT_BASE_DELAY", Default: "1m", Help: "length of a lane's first lock; each further lock doubles it",
		parse: duration(func(c *Config) *time.Duration { return &c.LockoutBaseDelay }, time.Second, 24*time.Hour)},
	{Env: "WARDEN_LOCKOUT_MAX_DELAY", Default: "1h", Help: "longest lock",
		parse: duration(func(c *Config) *time.Duration { return &c.LockoutMaxDelay }, time.Second, 30*24*time.Hour)},
	{Env: "WARDEN_LOGIN_FAILURE_WINDOW", Default: "1h", Help: "how far back the risk signals count failures and addresses",
		parse: duration(func(c *Config) *time.Duration { return &c.LoginFailureWindow }, time.Minute, 30*24*time.Hour)},
	{Env: "WARDEN_RISK_CHALLENGE_AT", Default: "30", Help: "risk score from which a login on a trusted device is challenged",
		parse: integer(func(c *Config) *int { return &c.RiskChallengeAt }, 1, 100000)},
	{Env: "WARDEN_RISK_DENY_AT", Default: "100", Help: "risk score from which a login is denied",
		parse: integer(func(c *Config) *int { return &c.RiskDenyAt }, 1, 100000)},
	{Env: "WARDEN_RISK_WEIGHTS", Default: "new_ip=10,new_country=30,new_network=15,impossible_travel=60,unusual_hour=10,recent_failures=20,credential_stuffing=50,many_ips=25",
		Help:  "score each risk signal adds, as reason=weight pairs (unlisted reasons keep their default)",
		parse: riskWeights},
	{Env: "WARDEN_RISK_MAX_TRAVEL_KMH", Default: "1000", Help: "speed between the last login's place and this one above which travel is impossible",
		parse: integer(func(c *Config) *int { return &c.RiskMaxTravelKmh }, 1, 100000)},
	{Env: "WARDEN_RISK_MIN_TRAVEL_KM", Default: "300", Help: "moves shorter than this (in km) from the last login's place never count as impossible travel, whatever the speed: GeoIP places are approximate",
		parse: integer(func(c *Config) *int { return &c.RiskMinTravelKm }, 0, 20000)},
	{Env: "WARDEN_RISK_RECENT_FAILURES_MIN", Default: "3", Help: "wrong passwords or codes on the account within `WARDEN_LOGIN_FAILURE_WINDOW`, from any device, from which a login gets the `recent_failures` signal",
		parse: integer(func(c *Config) *int { return &c.RiskRecentFailuresMin }, 1, 100000)},
	{Env: "WARDEN_RISK_STUFFING_MIN_ACCOUNTS", Default: "5", Help: "accounts one IP address failed to log in to within `WARDEN_LOGIN_FAILURE_WINDOW` from which its logins get the `credential_stuffing` signal",
		parse: integer(func(c *Config) *int { return &c.RiskStuffingMinAccounts }, 2, 100000)},
	{Env: "WARDEN_RISK_MANY_IPS_MIN", Default: "5", Help: "IP addresses that tried the account within `WARDEN_LOGIN_FAILURE_WINDOW` from which a login gets the `many_ips` signal",
		parse: integer(func(c *Config) *int { return &c.RiskManyIPsMin }, 2, 100000)},
	{Env: "WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", Default: "10", Help: "past logins it takes to know an account's usual hours; with fewer the `unusual_hour` signal stays off (the last 50 logins are read)",
		parse: integer(func(c *Config) *int { return &c.RiskUsualHourMinLogins }, 1, 50)},
	{Env: "WARDEN_RISK_UNUSUAL_HOUR_SPAN", Default: "3", Help: "a login more than this many hours (UTC, round the clock) from the hour of every past login gets the `unusual_hour` signal",
		parse: integer(func(c *Config) *int { return &c.RiskUnusualHourSpan }, 0, 11)},
	{Env: "WARDEN_DEVICE_CONFIRMATION_TTL", Default: "15m", Help: "how long the link in a new-device email works (and the login waits for it)",
		parse: duration(func(c *Config) *time.Duration { return &c.DeviceConfirmationTTL }, time.Minute, 24*time.Hour)},
	{Env: "WARDEN_NEW_DEVICE_EMAIL_WITH_MFA", Default: "true", Help: "a new device with 2FA on needs the email confirmation as well as the second factor (false: the second factor alone)",
		parse: boolean(func(c *Config) *bool { return &c.NewDeviceEmailWithMFA })},
	{Env: "WARDEN_MFA_CHALLENGE_TTL", Default: "5m", Help: "how long a login or step-up challenge for a second factor may be answered",
		parse: duration(func(c *Config) *time.Duration { return &c.MFAChallengeTTL }, 30*time.Second, time.Hour)},
	{Env: "WARDEN_STEP_UP_WINDOW", Default: "5m", Help: "how recent a second factor must be for sensitive actions (disable 2FA, new codes, remove a passkey, change password, withdraw)",
		parse: duration(func(c *Config) *time.Duration { return &c.StepUpWindow }, 30*time.Second, 24*time.Hour)},
	{Env: "WARDEN_REFERENCE_CURRENCY", Default: "USD", Help: "the currency limits and reference values are in (ISO 4217 code)",
		parse: currencyCode},
	{Env: "WARDEN_REFERENCE_DECIMALS", Default: "2", Help: "decimals of the reference currency",
		parse: integer(func(c *Config) *int { return &c.ReferenceDecimals }, 0, 8)},
	{Env: "WARDEN_VERIFICATION_TIERS", Default: "1=personal_info:1000/2000; 2=personal_info+id_document+selfie:50000/100000",
		Help:  "tiers above 0 (email verified, no withdrawals), separated by ';': LEVEL=REQUIREMENT+…:PER_TRANSACTION/ROLLING_24H in the reference currency; requirements: personal_info, id_document, selfie",
		parse: verificationTiers},
	{Env: "WARDEN_KYC_ADULT_AGE", Default: "18", Help: "youngest age accepted in personal information",
		parse: integer(func(c *Config) *int { return &c.KYCAdultAge }, 14, 30)},
	{Env: "WARDEN_KYC_RETENTION_DAYS", Default: "1825", Help: "days after a final decision that identity documents are kept (the decision, hashes and audit records stay)",
		parse: days(func(c *Config) *time.Duration { return &c.KYCRetention }, 0, 36500)},
	{Env: "WARDEN_KYC_PROVIDERS", Default: "", Help: "external KYC providers allowed to post results, as name=secret pairs (secret: base64 of at least 32 bytes)",
		parse: kycProviders},
	{Env: "WARDEN_KYC_PROVIDER_TOLERANCE", Default: "5m", Help: "how far a provider result's timestamp may be from now (older ones are replays)",
		parse: duration(func(c *Config) *time.Duration { return &c.KYCProviderTolerance }, 10*time.Second, time.Hour)},
	{Env: "WARDEN_MFA_RESET_WAIT", Default: "48h", Help: "waiting period between an approved 2FA reset and the removal of the second factor",
		parse: duration(func(c *Config) *time.Duration { return &c.MFAResetWait }, time.Second, 30*24*time.Hour)},
	{Env: "WARDEN_MFA_RESET_REMINDER", Default: "24h", Help: "how often the owner is emailed during a 2FA reset's waiting period",
		parse: duration(func(c *Config) *time.Duration { return &c.MFAResetReminder }, time.Second, 7*24*time.Hour)},
	{Env: "WARDEN_NETWORKS", Default: `bitcoin=bitcoin; ethereum=evm; tron=pattern:T[1-9A-HJ-NP-Za-km-z]{33}; xrp=pattern:r[1-9A-HJ-NP-Za-km-z]{24,34}:memo=[0-9]{1,10}`,
		Help:  "networks withdrawals go over, separated by ';': NAME=KIND with KIND bitcoin, bitcoin-testnet, evm, or pattern:REGEXP; add :memo=REGEXP when a memo/tag is required (:memo?=REGEXP when optional)",
		parse: networks},
	{Env: "WARDEN_ASSETS", Default: "BTC:8:bitcoin; ETH:18:ethereum; USDT:6:ethereum,tron; XRP:6:xrp",
		Help:  "assets paid out, separated by ';': CODE:DECIMALS:NETWORK,… (networks from WARDEN_NETWORKS)",
		parse: assets},
	{Env: "WARDEN_ADDRESS_HOLD", Default: "24h", Help: "how long a confirmed withdrawal address waits before use; turning the allow-list off waits as long",
		parse: duration(func(c *Config) *time.Duration { return &c.AddressHold }, time.Second, 30*24*time.Hour)},
	{Env: "WARDEN_WITHDRAWAL_CONFIRMATION_TTL", Default: "30m", Help: "how long a withdrawal (or address) waits for its confirmations; then it expires and its limit is free again",
		parse: duration(func(c *Config) *time.Duration { return &c.WithdrawalConfirmationTTL }, 10*time.Second, 24*time.Hour)},
	{Env: "WARDEN_WITHDRAWAL_REQUIRE_2FA", Default: "true", Help: "a withdrawal must be confirmed with a second-factor code",
		parse: boolean(func(c *Config) *bool { return &c.WithdrawalRequireMFA })},
	{Env: "WARDEN_WITHDRAWAL_REQUIRE_EMAIL", Default: "true", Help: "a withdrawal must be confirmed with the link in an email",
		parse: boolean(func(c *Config) *bool { return &c.WithdrawalRequireEmail })},
	{Env: "WARDEN_WITHDRAWAL_ONE_IN_REVIEW", Default: "true", Help: "while one of an account's withdrawals waits for staff review, refuse its new ones (withdrawals_locked, reason review), so that a held withdrawal is not worked around by asking again",
		parse: boolean(func(c *Config) *bool { return &c.WithdrawalOneInReview })},
	{Env: "WARDEN_COOLDOWN_PASSWORD", Default: "24h", Help: "no withdrawals for this long after a password reset or change",
		parse: duration(func(c *Config) *time.Duration { return &c.CooldownPassword }, 0, 30*24*time.Hour)},
	{Env: "WARDEN_COOLDOWN_MFA", Default: "24h", Help: "no withdrawals for this long after two-factor authentication is turned off or reset",
		parse: duration(func(c *Config) *time.Duration { return &c.CooldownMFA }, 0, 30*24*time.Hour)},
	{Env: "WARDEN_COOLDOWN_NEW_DEVICE", Default: "24h", Help: "no withdrawals from a device for this long after its first login",
		parse: duration(func(c *Config) *time.Duration { return &c.CooldownNewDevice }, 0, 30*24*time.Hour)},
	{Env: "WARDEN_COOLDOWN_UNFREEZE", Default: "24h", Help: "no withdrawals for this long after the account is unfrozen",
		parse: duration(func(c *Config) *time.Duration { return &c.CooldownUnfreeze }, 0, 30*24*time.Hour)},
	{Env: "WARDEN_PRICE_MAX_AGE", Default: "10m", Help: "the oldest reference price used to value a withdrawal; older counts as missing (price_unavailable)",
		parse: duration(func(c *Config) *time.Duration { return &c.PriceMaxAge }, 10*time.Second, 7*24*time.Hour)},
	{Env: "WARDEN_RULES_FILE", Default: "", Help: "a YAML file of monitoring rules, made the rules in force at start when it differs from them (unset: the defaults, or the rules set through the admin API)",
		parse: func(c *Config, v string) error { c.RulesFile = v; return nil }},
	{Env: "WARDEN_MONITOR_SYNC_TIMEOUT", Default: "200ms", Help: "longest a withdrawal request waits for the monitoring rules; past it the withdrawal is held for review",
		parse: duration(func(c *Config) *time.Duration { return &c.MonitorSyncTimeout }, 10*time.Millisecond, 10*time.Second)},
}

// networks reads NAME=KIND[:memo=RE|:memo?=RE]; …
func networks(c *Config, v string) error {
	c.Networks = map[string]address.Network{}
	for _, part := range strings.Split(v, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, spec, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " ,:") {
			return fmt.Errorf("want NAME=KIND, got %q", part)
		}
		n := address.Network{Name: name}
		// The memo part comes last; a pattern may itself hold ':'.
		if i := strings.LastIndex(spec, ":memo"); i >= 0 {
			memo := spec[i+len(":memo"):]
			spec = spec[:i]
			required := !strings.HasPrefix(memo, "?")
			memo = strings.TrimPrefix(strings.TrimPrefix(memo, "?"), "=")
			re, err := regexp.Compile(memo)
			if err != nil {
				return fmt.Errorf("network %s: memo pattern: %w", name, err)
			}
			n.MemoRequired, n.MemoPattern = required, re
		}
		kind, pattern, _ := strings.Cut(spec, ":")
		k, err := address.ParseNetworkKind(strings.TrimSpace(kind))
		if err != nil {
			return fmt.Errorf("network %s: %w", name, err)
		}
		n.Kind = k
		if k == address.KindPattern {
			re, err := regexp.Compile(pattern)
			if err != nil || pattern == "" {
				return fmt.Errorf("network %s: want pattern:REGEXP with a valid expression", name)
			}
			n.Pattern = re
		}
		if _, dup := c.Networks[name]; dup {
			return fmt.Errorf("network %s is listed twice", name)
		}
		c.Networks[name] = n
	}
	return nil
}

// assets reads CODE:DECIMALS:NETWORK,…; … against WARDEN_NETWORKS (parsed first).
func assets(c *Config, v string) error {
	c.Assets = nil
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) != 3 {
			return fmt.Errorf("want CODE:DECIMALS:NETWORK,…, got %q", part)
		}
		code := strings.TrimSpace(fields[0])
		dec, err := strconv.Atoi(strings.TrimSpace(fields[1]))
		if code == "" || len(code) > 12 || strings.ToUpper(code) != code || err != nil || dec < 0 || dec > 18 || seen[code] {
			return fmt.Errorf("asset %q: want an upper-case code (once) and 0 to 18 decimals", part)
		}
		seen[code] = true
		a := AssetConfig{Code: code, Decimals: dec}
		for _, n := range splitList(fields[2]) {
			if _, ok := c.Networks[n]; !ok {
				return fmt.Errorf("asset %s: network %q is not in WARDEN_NETWORKS", code, n)
			}
			a.Networks = append(a.Networks, n)
		}
		if len(a.Networks) == 0 {
			return fmt.Errorf("asset %s: name at least one network", code)
		}
		c.Assets = append(c.Assets, a)
	}
	return nil
}

// currencyCode accepts three capital letters.
func currencyCode(c *Config, v string) error {
	if len(v) != 3 || strings.IndexFunc(v, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return fmt.Errorf("want an ISO 4217 code like USD, got %q", v)
	}
	c.ReferenceCurrency = v
	return nil
}

// days reads a whole number of days into a duration.
func days(field func(*Config) *time.Duration, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number of days from %d to %d, got %q", lo, hi, v)
		}
		*field(c) = time.Duration(n) * 24 * time.Hour
		return nil
	}
}

// verificationTiers reads LEVEL=REQ+REQ:PER_TX/DAY; … (WARDEN_REFERENCE_DECIMALS
// is parsed before it). Tier 0 is implicit; levels must rise and so must
// the requirements and the limits, so a higher tier never allows less.
func verificationTiers(c *Config, v string) error {
	tiers := []verification.Tier{{Level: 0, Name: "Email verified", Requires: []string{verification.RequireEmailVerified}}}
	names := map[int]string{1: "Personal information", 2: "Identity verified"}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		level, rest, ok1 := strings.Cut(part, "=")
		reqs, limits, ok2 := strings.Cut(rest, ":")
		perTx, daily, ok3 := strings.Cut(limits, "/")
		n, err := strconv.Atoi(strings.TrimSpace(level))
		prev := tiers[len(tiers)-1]
		if !ok1 || !ok2 || !ok3 || err != nil || n != prev.Level+1 {
			return fmt.Errorf("want LEVEL=REQUIREMENT+…:PER_TRANSACTION/ROLLING_24H with levels 1, 2, … in order, got %q", part)
		}
		t := verification.Tier{Level: n, Name: names[n], Requires: []string{verification.RequireEmailVerified}}
		if t.Name == "" {
			t.Name = fmt.Sprintf("Tier %d", n)
		}
		for _, r := range strings.Split(reqs, "+") {
			r = strings.TrimSpace(r)
			if r != verification.RequirePersonalInfo && r != verification.RequireIDDocument && r != verification.RequireSelfie {
				return fmt.Errorf("tier %d: unknown requirement %q (personal_info, id_document, selfie)", n, r)
			}
			if !slices.Contains(t.Requires, r) {
				t.Requires = append(t.Requires, r)
			}
		}
		if t.PerTransaction, err = money.Parse(strings.TrimSpace(perTx), c.ReferenceDecimals); err != nil {
			return fmt.Errorf("tier %d per-transaction limit: %w", n, err)
		}
		if t.Rolling24h, err = money.Parse(strings.TrimSpace(daily), c.ReferenceDecimals); err != nil {
			return fmt.Errorf("tier %d rolling 24h limit: %w", n, err)
		}
		switch {
		case t.PerTransaction > t.Rolling24h:
			return fmt.Errorf("tier %d: the per-transaction limit is above the 24h limit", n)
		case len(verification.Missing(prev, t.Requires)) > 0:
			return fmt.Errorf("tier %d must require everything tier %d does", n, prev.Level)
		case t.PerTransaction < prev.PerTransaction || t.Rolling24h < prev.Rolling24h:
			return fmt.Errorf("tier %d's limits are below tier %d's", n, prev.Level)
		}
		tiers = append(tiers, t)
	}
	c.VerificationTiers = tiers
	return nil
}

// kycProviders reads name=secret pairs; a secret is base64 of 32+ bytes.
func kycProviders(c *Config, v string) error {
	c.KYCProviders = map[string][]byte{}
	for _, part := range splitList(v) {
		name, secret, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " /") {
			return fmt.Errorf("want name=secret pairs, got %q", part)
		}
		key, err := decodeKey(strings.TrimSpace(secret))
		if err != nil || len(key) < 32 {
			return fmt.Errorf("provider %s: want a base64 secret of at least 32 bytes", name)
		}
		c.KYCProviders[name] = key
	}
	return nil
}

// checkSupportURL accepts an absolute http(s) URL with a host, or a mailto:
// URL with one address.
func checkSupportURL(v string) error {
	const want = "want an absolute http(s):// URL or mailto:ADDRESS"
	if len(v) > 2000 || strings.ContainsAny(v, " \t\r\n\"<>\\") {
		return fmt.Errorf("%s, got %q", want, v)
	}
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("%s, got %q", want, v)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.Opaque != "" || u.User != nil {
			return fmt.Errorf("%s, got %q", want, v)
		}
	case "mailto":
		addr, err := url.PathUnescape(u.Opaque)
		if err != nil || u.Host != "" {
			return fmt.Errorf("%s, got %q", want, v)
		}
		if a, err := mail.ParseAddress(addr); err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
			return fmt.Errorf("%s, got %q", want, v)
		}
	default:
		return fmt.Errorf("%s, got %q", want, v)
	}
	return nil
}

func decodeKey(v string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(v)
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(key) != keyring.KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(key), keyring.KeySize)
	}
	return key, nil
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func oneOf(field func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(c) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

func duration(field func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (like 30s, 5m, 24h): %q", v)
		}
		if d < lo || d > hi {
			return fmt.Errorf("must be between %v and %v, got %v", lo, hi, d)
		}
		*field(c) = d
		return nil
	}
}

// rate parses N/duration, e.g. 10/1m.
func rate(field func(*Config) *ratelimit.Limit) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, per, ok := strings.Cut(v, "/")
		burst, err := strconv.Atoi(strings.TrimSpace(n))
		d, derr := time.ParseDuration(strings.TrimSpace(per))
		l := ratelimit.Limit{Burst: burst, Per: d}
		if !ok || err != nil || derr != nil || l.Validate() != nil || burst > 1_000_000 {
			return fmt.Errorf("want N/duration like 10/1m (N from 1 to 1000000, a positive duration), got %q", v)
		}
		*field(c) = l
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*field(c) = b
		return nil
	}
}

func integer(field func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
		}
		*field(c) = n
		return nil
	}
}

// riskWeights reads "reason=weight,…" over the defaults, refusing unknown
// reasons so that a typo does not silently leave a signal at its default.
func riskWeights(c *Config, v string) error {
	c.RiskWeights = map[string]int{}
	for _, part := range splitList(v) {
		name, value, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if !ok || err != nil || n < 0 || n > 100000 {
			return fmt.Errorf("want reason=weight pairs with weights 0 to 100000, got %q", part)
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(RiskReasons, name) {
			return fmt.Errorf("unknown risk reason %q; known: %s", name, strings.Join(RiskReasons, ", "))
		}
		c.RiskWeights[name] = n
	}
	return nil
}

// RiskReasons are the weighted risk signals (package risk's reason codes).
var RiskReasons = []string{"new_ip", "new_country", "new_network", "impossible_travel", "unusual_hour", "recent_failures", "credential_stuffing", "many_ips"}
