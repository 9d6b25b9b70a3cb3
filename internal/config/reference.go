package config

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

//go:generate go run ./cmd/configref -o ../../docs/CONFIGURATION.md

// ReferencePath is where the rendered reference is kept, relative to the
// repository root; RegenerateCommand rewrites it from the schema.
const (
	ReferencePath     = "docs/CONFIGURATION.md"
	RegenerateCommand = "go generate ./internal/config"
)

// section groups keys of the schema for the reference. The keys' defaults
// and meanings come from the schema itself; only the grouping and each
// section's introduction live here. A test fails when a key of the schema is
// in no section, or in two.
type section struct {
	Title string
	Intro string
	Keys  []string
}

var sections = []section{
	{
		Title: "Server",
		Intro: "Where Warden listens, how it names itself, which proxies it believes, and how it logs.",
		Keys: []string{
			"WARDEN_ADDR", "WARDEN_BASE_URL", "WARDEN_PLATFORM_NAME", "WARDEN_SUPPORT_URL", "WARDEN_TRUSTED_PROXIES",
			"WARDEN_LOG_LEVEL", "WARDEN_LOG_FORMAT",
			"WARDEN_HTTP_READ_TIMEOUT", "WARDEN_HTTP_WRITE_TIMEOUT", "WARDEN_HTTP_IDLE_TIMEOUT", "WARDEN_SHUTDOWN_TIMEOUT",
		},
	},
	{
		Title: "Database",
		Intro: "SQLite for one machine, PostgreSQL for several `warden serve` processes sharing one database. " +
			"Run `warden migrate` once per release before serving.",
		Keys: []string{"WARDEN_DATABASE_URL"},
	},
	{
		Title: "Mail and delivery",
		Intro: "Security emails and webhooks leave through a transactional outbox: written in the same transaction as " +
			"the action that causes them, then delivered by every node with retries and backoff, and parked dead " +
			"(`GET /admin/v1/outbox?status=dead`) when the attempts run out.",
		Keys: []string{
			"WARDEN_SMTP_URL", "WARDEN_MAIL_FROM",
			"WARDEN_OUTBOX_MAX_ATTEMPTS", "WARDEN_OUTBOX_BACKOFF_BASE", "WARDEN_OUTBOX_BACKOFF_MAX",
			"WARDEN_OUTBOX_TIMEOUT", "WARDEN_OUTBOX_POLL_INTERVAL", "WARDEN_OUTBOX_CONCURRENCY",
		},
	},
	{
		Title: "Keys and audit",
		Intro: "The secret key encrypts data at rest and authenticates the audit log's checkpoints: keep it, and " +
			"keep the old ones in `WARDEN_OLD_SECRET_KEYS` after a rotation. Admin API keys are made with " +
			"`warden admin create-key`; `WARDEN_ADMIN_KEY` is only a bootstrap.",
		Keys: []string{"WARDEN_SECRET_KEY", "WARDEN_OLD_SECRET_KEYS", "WARDEN_ADMIN_KEY", "WARDEN_AUDIT_CHECKPOINT_INTERVAL"},
	},
	{
		Title: "Passwords",
		Intro: "Argon2id hashing in a bounded pool: past the queue, logins answer `503 overloaded` with `Retry-After` " +
			"instead of exhausting the machine.",
		Keys: []string{
			"WARDEN_PASSWORD_MEMORY_KIB", "WARDEN_PASSWORD_ITERATIONS", "WARDEN_PASSWORD_PARALLELISM",
			"WARDEN_PASSWORD_HASH_QUEUE", "WARDEN_PASSWORD_HASH_MAX_WAIT",
		},
	},
	{
		Title: "Accounts and sessions",
		Intro: "How long sessions and the links in account emails live. Platforms check sessions with " +
			"`POST /admin/v1/sessions/introspect`, answered from each node's cache.",
		Keys: []string{
			"WARDEN_SESSION_IDLE_TIMEOUT", "WARDEN_SESSION_LIFETIME", "WARDEN_SESSION_CACHE_TTL",
			"WARDEN_EMAIL_VERIFICATION_TTL", "WARDEN_PASSWORD_RESET_TTL", "WARDEN_FREEZE_LINK_TTL",
		},
	},
	{
		Title: "Rate limits",
		Intro: "Token buckets written `N/duration` (N at once, refilled at N per duration), counted in the database so " +
			"that every node sees one count. Past a limit the answer is `429 rate_limited` with `Retry-After`.",
		Keys: []string{
			"WARDEN_RATE_LOGIN_PER_IP", "WARDEN_RATE_LOGIN_FAILURES_PER_IP", "WARDEN_RATE_REGISTER_PER_IP",
			"WARDEN_RATE_RESET_PER_IP", "WARDEN_RATE_RESET_PER_ACCOUNT",
		},
	},
	{
		Title: "Login risk, devices and lockout",
		Intro: "Every login with the right password is scored on its signals and allowed, challenged or denied. " +
			"Failures lock a lane (one per trusted device, one for all untrusted devices), never the whole account.",
		Keys: []string{
			"WARDEN_GEOIP_DB", "WARDEN_GEOIP_ASN_DB",
			"WARDEN_RISK_WEIGHTS", "WARDEN_RISK_CHALLENGE_AT", "WARDEN_RISK_DENY_AT", "WARDEN_RISK_MAX_TRAVEL_KMH",
			"WARDEN_RISK_MIN_TRAVEL_KM", "WARDEN_RISK_RECENT_FAILURES_MIN", "WARDEN_RISK_STUFFING_MIN_ACCOUNTS",
			"WARDEN_RISK_MANY_IPS_MIN", "WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", "WARDEN_RISK_UNUSUAL_HOUR_SPAN",
			"WARDEN_LOGIN_FAILURE_WINDOW", "WARDEN_DEVICE_CONFIRMATION_TTL", "WARDEN_NEW_DEVICE_EMAIL_WITH_MFA",
			"WARDEN_LOCKOUT_MAX_FAILURES", "WARDEN_LOCKOUT_BASE_DELAY", "WARDEN_LOCKOUT_MAX_DELAY",
		},
	},
	{
		Title: "Two-factor authentication",
		Intro: "Login challenges, the step-up that sensitive actions want, and the reviewed reset of a lost second factor.",
		Keys:  []string{"WARDEN_MFA_CHALLENGE_TTL", "WARDEN_STEP_UP_WINDOW", "WARDEN_MFA_RESET_WAIT", "WARDEN_MFA_RESET_REMINDER"},
	},
	{
		Title: "Identity verification (KYC)",
		Intro: "Tiers and the withdrawal limits they give, what each needs, and the external providers allowed to post " +
			"their results (`POST /admin/v1/verifications/{id}/provider-result`).",
		Keys: []string{
			"WARDEN_VERIFICATION_TIERS", "WARDEN_KYC_ADULT_AGE", "WARDEN_KYC_RETENTION_DAYS",
			"WARDEN_KYC_PROVIDERS", "WARDEN_KYC_PROVIDER_TOLERANCE",
		},
	},
	{
		Title: "Withdrawals",
		Intro: "What is paid out and where, how withdrawals are valued (prices fed with `PUT /admin/v1/prices`), the " +
			"confirmations they need, the address hold and the cooldowns after security changes.",
		Keys: []string{
			"WARDEN_REFERENCE_CURRENCY", "WARDEN_REFERENCE_DECIMALS", "WARDEN_NETWORKS", "WARDEN_ASSETS",
			"WARDEN_PRICE_MAX_AGE", "WARDEN_ADDRESS_HOLD", "WARDEN_WITHDRAWAL_CONFIRMATION_TTL",
			"WARDEN_WITHDRAWAL_REQUIRE_2FA", "WARDEN_WITHDRAWAL_REQUIRE_EMAIL", "WARDEN_WITHDRAWAL_ONE_IN_REVIEW",
			"WARDEN_COOLDOWN_PASSWORD", "WARDEN_COOLDOWN_MFA", "WARDEN_COOLDOWN_NEW_DEVICE", "WARDEN_COOLDOWN_UNFREEZE",
		},
	},
	{
		Title: "Transaction monitoring",
		Intro: "Rules in CEL over Warden's own events and the platform's (`POST /admin/v1/events`); " +
			"`warden rules check FILE` validates a rules file and `warden rules backtest FILE --since 30d` replays stored events through it.",
		Keys: []string{"WARDEN_RULES_FILE", "WARDEN_MONITOR_SYNC_TIMEOUT"},
	},
}

// devNotes describe defaults that serve --dev computes rather than takes
// from a key's DevDefault (config.go's Load and the server). The reference
// test checks the WARDEN_BASE_URL one against Load.
var devNotes = map[string]string{
	"WARDEN_BASE_URL":   "`http://` + `WARDEN_ADDR`, a loopback address written `localhost`",
	"WARDEN_SECRET_KEY": "generated once and kept in `secret.key` beside the SQLite database",
	"WARDEN_SMTP_URL":   "mail is kept in the dev mailbox at `/dev/mailbox`",
}

// referenceExample is the YAML file shown in the reference; a test loads it.
const referenceExample = `# warden.yaml: warden serve --config warden.yaml
# Secrets stay in the environment: WARDEN_SECRET_KEY, and WARDEN_SMTP_URL
# or WARDEN_DATABASE_URL when they carry a password (it wins over this file).
addr: 0.0.0.0:8080
database_url: postgres://warden@db.internal:5432/warden
base_url: https://security.example.com
platform_name: Example Exchange
support_url: mailto:support@example.com
smtp_url: smtp://smtp.internal:587
mail_from: Example Exchange <security@example.com>
trusted_proxies: [10.0.0.0/8, 192.0.2.7]
log_format: json
session_idle_timeout: 15m
verification_tiers: "1=personal_info:1000/2000; 2=personal_info+id_document+selfie:50000/100000"
address_hold: 48h
`

// Reference renders the configuration reference (docs/CONFIGURATION.md)
// from the schema.
func Reference() string {
	var b strings.Builder
	_ = WriteReference(&b)
	return b.String()
}

// WriteReference writes the configuration reference to w.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Configuration reference\n\n")
	p("<!-- Generated from internal/config/schema.go by `%s`; do not edit. -->\n\n", RegenerateCommand)
	p("Warden is configured with environment variables, and optionally a YAML file given with `--config FILE`\n")
	p("(`warden serve --config warden.yaml`). Every key has a safe default; outside `--dev` only `WARDEN_SECRET_KEY`\n")
	p("and `WARDEN_SMTP_URL` must be set for `warden serve`.\n\n")
	p("- **Precedence**: the defaults (those of `--dev` under `warden serve --dev`), then the YAML file, then the\n")
	p("  environment, which wins.\n")
	p("- **YAML keys** are the variable names without `WARDEN_`, in lower case: `WARDEN_SMTP_URL` is `smtp_url`.\n")
	p("  Values are scalars; a YAML list is joined with commas, so use lists only for the comma-separated keys\n")
	p("  (`trusted_proxies`, `old_secret_keys`, `kyc_providers`, `risk_weights`) and write the `;`-separated ones\n")
	p("  (`networks`, `assets`, `verification_tiers`) as one string. An unknown key in the file is an error.\n")
	p("- **Formats**: durations are Go durations (`30s`, `5m`, `24h`; days as hours, `720h`); booleans `true` or\n")
	p("  `false`; rates `N/duration`.\n")
	p("- **Errors**: an invalid value stops any command at start with one line naming the key and what is wrong\n")
	p("  with it (the allowed range, the expected form), and exit code 2.\n")
	p("- Keep secrets (`WARDEN_SECRET_KEY`, `WARDEN_OLD_SECRET_KEYS`, `WARDEN_ADMIN_KEY`, `WARDEN_KYC_PROVIDERS`,\n")
	p("  passwords in `WARDEN_SMTP_URL` or `WARDEN_DATABASE_URL`) in the environment or a secret store rather\n")
	p("  than in the file.\n\n")
	p("A file for production might read:\n\n```yaml\n%s```\n\n", referenceExample)

	p("## Sections\n\n")
	groups := referenceSections()
	for _, s := range groups {
		p("- [%s](#%s)\n", s.Title, anchor(s.Title))
	}
	p("\n")

	byEnv := map[string]Key{}
	for _, k := range schema {
		byEnv[k.Env] = k
	}
	for _, s := range groups {
		p("## %s\n\n", s.Title)
		if s.Intro != "" {
			p("%s\n\n", s.Intro)
		}
		p("| variable | YAML key | default | meaning |\n")
		p("|---|---|---|---|\n")
		for _, env := range s.Keys {
			k, ok := byEnv[env]
			if !ok {
				continue
			}
			p("| `%s` | `%s` | %s | %s |\n", k.Env, k.YAMLName(), cell(defaultText(k)), cell(k.Help))
		}
		p("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// referenceSections are the sections to render: the declared ones, and an
// "Other" section for keys that none declares (the test fails on those).
func referenceSections() []section {
	out := slices.Clone(sections)
	seen := map[string]bool{}
	for _, s := range sections {
		for _, env := range s.Keys {
			seen[env] = true
		}
	}
	var other []string
	for _, k := range schema {
		if !seen[k.Env] {
			other = append(other, k.Env)
		}
	}
	if len(other) > 0 {
		out = append(out, section{Title: "Other", Keys: other})
	}
	return out
}

// defaultText is the default column: the value in code, "unset" for none,
// and what serve --dev uses when it differs.
func defaultText(k Key) string {
	text := "unset"
	if k.Default != "" {
		text = code(k.Default)
	}
	switch {
	case k.DevDefault != "" && k.DevDefault != k.Default:
		text += " (`--dev`: " + code(k.DevDefault) + ")"
	case devNotes[k.Env] != "":
		text += " (`--dev`: " + devNotes[k.Env] + ")"
	}
	return text
}

// code writes s as a Markdown code span, with a fence longer than any run
// of backticks inside it.
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// cell makes text safe inside a Markdown table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// anchor is GitHub's heading anchor for a title: lower case, spaces to
// hyphens, punctuation dropped.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
