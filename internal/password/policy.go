package password

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The policy follows NIST SP 800-63B §5.1.1.2: a minimum length (above
// NIST's 8, as for an account that guards money), a generous maximum, no
// composition rules (they push users to "Password1!"), and a check against
// passwords known or easy to guess, including ones built from the user's
// own identifiers.
const (
	// MinLength and MaxLength are in characters (runes) after NFKC
	// normalisation, the form that is hashed.
	MinLength = 10
	MaxLength = 128
	// MinScore is the lowest acceptable zxcvbn score: 3 is "safely
	// unguessable", at least 10^8 guesses, beyond an online attack.
	MinScore = 3
	// zxcvbnPrefix is how many characters zxcvbn examines; see CheckPolicy.
	zxcvbnPrefix = 32
	// siteWord is a user input for zxcvbn: the service's own name is one
	// of the first things a targeted guesser tries.
	siteWord = "warden"
)

// Codes of Weakness, stable for API clients.
const (
	CodeTooShort      = "too_short"
	CodeTooLong       = "too_long"
	CodeContainsEmail = "contains_email"
	CodeTooGuessable  = "too_guessable"
)

// Weakness explains why a password is refused, in the style of zxcvbn's
// feedback, so that the user can choose a better one. It is an error, so
// that a service can return it as is.
type Weakness struct {
	Code        string   // one of the Code constants
	Score       int      // zxcvbn score 0 to 4; 0 when not computed (length)
	Warning     string   // what is wrong, possibly empty
	Suggestions []string // how to do better, never nil
}

func (w *Weakness) Error() string {
	switch w.Code {
	case CodeTooShort:
		return fmt.Sprintf("the password must have at least %d characters", MinLength)
	case CodeTooLong:
		return fmt.Sprintf("the password must have at most %d characters", MaxLength)
	case CodeContainsEmail:
		return "the password must not contain your email address or its name part"
	}
	if w.Warning != "" {
		return "the password is too easy to guess: " + w.Warning
	}
	return "the password is too easy to guess"
}

// CheckPolicy returns nil when plain is acceptable as a new password for
// the account with this email, or the first Weakness found: length, then
// containing the email's local part, then guessability.
func CheckPolicy(plain, email string) *Weakness {
	// Measured in bytes first, so that normalising a hostile megabyte is
	// never attempted: over MaxInputBytes is certainly over MaxLength.
	if len(plain) > MaxInputBytes {
		return &Weakness{Code: CodeTooLong, Warning: "This password is too long",
			Suggestions: []string{fmt.Sprintf("Use at most %d characters", MaxLength)}}
	}
	plain = normalize(plain)
	switch n := utf8.RuneCountInString(plain); {
	case n < MinLength:
		return &Weakness{Code: CodeTooShort, Warning: "This password is too short",
			Suggestions: []string{fmt.Sprintf("Use at least %d characters", MinLength), msgUseAFewWords, msgNoNeedForMixedChars}}
	case n > MaxLength:
		return &Weakness{Code: CodeTooLong, Warning: "This password is too long",
			Suggestions: []string{fmt.Sprintf("Use at most %d characters", MaxLength)}}
	}

	email = strings.ToLower(normalize(email))
	local, _, _ := strings.Cut(email, "@")
	inputs := []string{siteWord}
	if email != "" {
		inputs = append(inputs, email, local)
		// The parts of "jane.doe+bank" are guessable on their own too.
		for _, part := range strings.FieldsFunc(local, func(r rune) bool { return strings.ContainsRune(".+-_", r) }) {
			if part != local {
				inputs = append(inputs, part)
			}
		}
	}

	// zxcvbn's cost grows with the cube of the length (every substring is
	// lower-cased and looked up in every dictionary) times the number of
	// l33t substitution tables the password's symbols allow. Measured here
	// on a password made of l33t symbols: 8 ms at 24 characters, 15 ms at
	// 32, 27 ms at 40, 84 ms at 64, 190 ms at 100, 400 ms at 128. This runs
	// before hashing and outside the bounded pool, so it must not cost more
	// than the hash itself (about 20 ms per core at DefaultParams): only the
	// first zxcvbnPrefix characters are scored (BenchmarkCheckPolicy keeps
	// the worst case in view). That is conservative: characters after the
	// prefix can raise the real strength, never lower it, so a refusal may
	// be stricter than needed but never an acceptance looser. Passphrases
	// of a few uncommon words score well within 32 characters.
	scored := plain
	if utf8.RuneCountInString(scored) > zxcvbnPrefix {
		scored = string([]rune(scored)[:zxcvbnPrefix])
	}
	score, sequence := strength(scored, inputs)
	warning, suggestions := zxcvbnFeedback(score, sequence)

	// Containing the local part is refused outright, whatever the score: it
	// is the first thing an attacker who knows the email tries. Short local
	// parts ("jo") would forbid too many innocent passwords.
	lower := strings.ToLower(plain)
	for _, part := range []string{local, strings.SplitN(local, "+", 2)[0]} {
		if utf8.RuneCountInString(part) >= 3 && strings.Contains(lower, part) {
			return &Weakness{Code: CodeContainsEmail, Score: score,
				Warning:     "Avoid using your email address or its name part",
				Suggestions: append([]string{msgUseAFewWords}, suggestions...)}
		}
	}
	if score < MinScore {
		if suggestions == nil {
			suggestions = []string{}
		}
		return &Weakness{Code: CodeTooGuessable, Score: score, Warning: warning, Suggestions: suggestions}
	}
	return nil
}
