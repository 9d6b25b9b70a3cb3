// Package mfa owns second factors: an authenticator app (TOTP), passkeys
// (WebAuthn) and recovery codes; the challenges that ask for one at login
// or before a sensitive action; and the step-up that keeps a proof fresh.
// The rules live here, free of HTTP and SQL; the store persists them.
package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Methods a challenge can be answered with (API.md).
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodWebAuthn     = "webauthn"
)

// Purposes of a challenge: a challenge made for one is refused for another.
const (
	PurposeLogin               = "login"
	PurposeStepUp              = "step_up"
	PurposePasskeyRegistration = "passkey_registration"
)

// ChallengeIDPrefix starts every challenge id given to clients.
const ChallengeIDPrefix = "wch_"

// RecoveryCodeCount is how many recovery codes a set holds.
const RecoveryCodeCount = 10

var (
	ErrInvalidCode      = errors.New("invalid code")
	ErrCodeReused       = errors.New("code already used")
	ErrChallengeExpired = errors.New("challenge expired, used or voided")
	ErrAlreadyEnabled   = errors.New("authenticator app already enabled")
	ErrNotEnabled       = errors.New("authenticator app not enabled")
	ErrNoEnrolment      = errors.New("no authenticator app enrolment in progress")
	ErrMethodNotAllowed = errors.New("method not available for this account")
	ErrPasskeyNotFound  = errors.New("no such passkey")
	ErrInvalidPasskey   = errors.New("passkey response refused")
	// ErrPasskeysOff: WARDEN_BASE_URL has no host name for passkeys to belong to.
	ErrPasskeysOff = errors.New("passkeys are not available on this server")
	// ErrConfirmationPending: the new-device email's link was not followed yet.
	ErrConfirmationPending = errors.New("waiting for the confirmation from the email")
)

// DriftError is an invalid code that would have been right on a clock this
// far off: the user's phone needs its time synchronised.
type DriftError struct {
	Seconds int64 // positive: the phone is ahead
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("invalid code: the authenticator's clock looks %d seconds off", e.Seconds)
}

// Is makes a drift an invalid code for errors.Is.
func (e *DriftError) Is(target error) bool { return target == ErrInvalidCode }

// TOTPSecret is an account's authenticator-app secret, sealed.
type TOTPSecret struct {
	AccountID   string
	Sealed      []byte
	KeyID       string
	CreatedAt   time.Time
	ConfirmedAt time.Time
	LastStep    int64
}

// Confirmed tells whether a first code proved the app holds the secret.
func (t TOTPSecret) Confirmed() bool { return !t.ConfirmedAt.IsZero() }

// Passkey is a registered WebAuthn credential.
type Passkey struct {
	ID           string
	AccountID    string
	Name         string
	CredentialID []byte
	Credential   []byte // the passkey package's stored form
	CreatedAt    time.Time
	LastUsedAt   time.Time
}

// Challenge is a pending request for a second factor. Only the hash of its
// id is stored; the client holds the id.
type Challenge struct {
	IDHash    string
	AccountID string
	Purpose   string
	SessionID string // step-up and registration: the session that asked
	Methods   []string
	State     []byte // a WebAuthn ceremony's state, when one is open
	Failures  int
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	// Requires lists what a login challenge waits for (RequireEmail,
	// RequireSecondFactor); Satisfied what was proven so far. The challenge
	// is spent when nothing is missing.
	Requires  []string
	Satisfied []string
	// EmailTokenHash is the hash of the new-device email's link token.
	EmailTokenHash string
	// DeviceID and LoginEventID tie a login challenge to its device and its
	// recorded attempt.
	DeviceID     string
	LoginEventID string
	// FactorAt is when the second factor was proven.
	FactorAt time.Time
}

// Requirements a login challenge may wait for.
const (
	RequireEmail        = "email"
	RequireSecondFactor = "second_factor"
)

// MethodEmail answers a challenge once the new-device email's link was followed.
const MethodEmail = "email"

// Missing lists the requirements not yet satisfied.
func (c Challenge) Missing() []string {
	var out []string
	for _, r := range c.Requires {
		if !slices.Contains(c.Satisfied, r) {
			out = append(out, r)
		}
	}
	return out
}

// Open tells whether the challenge can still be answered at now.
func (c Challenge) Open(now time.Time, maxFailures int) bool {
	return c.UsedAt.IsZero() && now.Before(c.ExpiresAt) && c.Failures < maxFailures
}

// Allows tells whether method may answer the challenge.
func (c Challenge) Allows(method string) bool { return slices.Contains(c.Methods, method) }

// HashChallengeID is how challenge ids are stored: they are 256-bit random,
// so a plain SHA-256 suffices.
func HashChallengeID(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// recoveryAlphabet is lower-case base32: no 0/1/8/9, so nothing reads as o/l/b/g.
var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewRecoveryCodes makes a set of codes as users see them: two groups of five
// characters (50 random bits each), easy to copy onto paper.
func NewRecoveryCodes() []string {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		var b [7]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
		s := recoveryEncoding.EncodeToString(b[:])[:10]
		codes[i] = s[:5] + "-" + s[5:]
	}
	return codes
}

// NormalizeRecoveryCode accepts a code as typed: any case, spaces and
// dashes anywhere. It returns "" for anything that cannot be a code.
func NormalizeRecoveryCode(input string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(input) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= 'a' && r <= 'z', r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return ""
		}
		if b.Len() > 10 {
			return ""
		}
	}
	if b.Len() != 10 {
		return ""
	}
	return b.String()
}

// HashRecoveryCode keys the hash with a server secret: 50-bit codes hashed
// plainly could be searched by anyone holding a copy of the database.
func HashRecoveryCode(key []byte, normalized string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(normalized))
	return hex.EncodeToString(mac.Sum(nil))
}
