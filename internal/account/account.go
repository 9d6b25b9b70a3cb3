package account

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/id"
)

// Realms keep the platform's users and its staff apart.
const (
	RealmUser  = "user"
	RealmStaff = "staff"
)

// Account is a user of the platform or a member of its staff.
type Account struct {
	ID              string
	Realm           string
	Email           string
	EmailKey        string
	EmailVerifiedAt time.Time
	PasswordHash    string
	StaffRole       string
	// MustChangePassword is set for a one-time password: the next login must choose another.
	MustChangePassword bool
	AntiPhishingCode   string
	FrozenAt           time.Time
	FrozenReason       string
	// SecurityChangedAt is the latest security change of any kind; the
	// kinds the withdrawal cooldowns start from have their own times.
	SecurityChangedAt time.Time
	PasswordChangedAt time.Time // reset or change
	MFAChangedAt      time.Time // a second factor removed or reset
	UnfrozenAt        time.Time
	CreatedAt         time.Time
	// MFAEnabled is set while the account has a second factor (an
	// authenticator app or a passkey): logins then need it.
	MFAEnabled bool
	// VerificationTier is the identity verification level reached (0: none
	// beyond the email); it sets the withdrawal limits.
	VerificationTier int
	// Restrictions are the kinds of restriction in force (withdrawals,
	// login, trading), kept with the account for introspection.
	Restrictions []string
}

// Kinds of restriction Warden itself enforces; the platform enforces the
// others (trading) from introspection.
const (
	RestrictionWithdrawals = "withdrawals"
	RestrictionLogin       = "login"
)

// Restricted tells whether a restriction of kind is in force.
func (a Account) Restricted(kind string) bool { return slices.Contains(a.Restrictions, kind) }

// Verified tells whether the account proved it owns its email address.
func (a Account) Verified() bool { return !a.EmailVerifiedAt.IsZero() }

// Frozen tells whether logins and withdrawals are blocked.
func (a Account) Frozen() bool { return !a.FrozenAt.IsZero() }

// Actor is how the audit log names the account when it acts itself:
// "user:<id>" or "staff:<id>", so staff actions never read as a user's.
func (a Account) Actor() string { return a.Realm + ":" + a.ID }

// Purposes of email tokens: a token made for one is refused for another.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposePasswordReset = "password_reset"
	PurposeFreeze        = "freeze"
)

// EmailToken is a single-use token sent by email. Only Hash is stored.
type EmailToken struct {
	Hash      string
	AccountID string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// NewEmailToken makes a token for purpose; plain goes in the email, the
// returned EmailToken (holding only its hash) goes in the database.
func NewEmailToken(accountID, purpose string, now time.Time, lifetime time.Duration) (plain string, t EmailToken) {
	plain = id.Token("")
	return plain, EmailToken{
		Hash: HashToken(plain), AccountID: accountID, Purpose: purpose,
		CreatedAt: now, ExpiresAt: now.Add(lifetime),
	}
}

// HashToken is how every token sent to users or clients is stored: tokens
// are 256-bit random, so a plain SHA-256 cannot be reversed and keeps lookups fast.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// ValidateAntiPhishingCode accepts 4 to 20 printable characters: letters,
// digits, spaces and common punctuation, nothing that could read as markup.
func ValidateAntiPhishingCode(code string) error {
	n := utf8.RuneCountInString(code)
	if !utf8.ValidString(code) || n < 4 || n > 20 {
		return fmt.Errorf("must be 4 to 20 characters")
	}
	for _, r := range code {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' || r == '.' || r == '!' || r == '*' || r == '#') {
			return fmt.Errorf("may hold letters, digits, spaces and - _ . ! * # only")
		}
	}
	if code[0] == ' ' || code[len(code)-1] == ' ' {
		return fmt.Errorf("must not start or end with a space")
	}
	return nil
}
