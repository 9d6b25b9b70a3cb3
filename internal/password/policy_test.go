package password

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestCheckPolicy(t *testing.T) {
	const email = "alice@example.com"
	tests := []struct {
		name      string
		plain     string
		email     string
		code      string // "" when accepted
		score     int    // checked when code is too_guessable
		warning   string // checked when not empty
		suggested string // one expected suggestion, when not empty
	}{
		{name: "passphrase (xkcd 936)", plain: "correct horse battery staple", email: email},
		// The misspelling of "troubadour" in xkcd 936 is in no dictionary,
		// so zxcvbn falls back to brute force: 10^11 guesses, score 4.
		{name: "Tr0ub4dor&3 as zxcvbn sees it", plain: "Tr0ub4dor&3", email: email},
		// Spelled right, the word is found through its l33t substitutions.
		{name: "Tr0ub4dour&3", plain: "Tr0ub4dour&3", email: email, code: CodeTooGuessable, score: 2,
			suggested: msgSubstitutionDoesntHelp},
		{name: "password1234", plain: "password1234", email: email, code: CodeTooGuessable, score: 1,
			warning: msgVeryCommonPassword, suggested: msgUncommonWordsAreBetter},
		{name: "top-100 password", plain: "qwertyuiop", email: email, code: CodeTooGuessable, score: 0,
			warning: msgTop100Password},
		{name: "keyboard row", plain: "zxcvbnm,./", email: email, code: CodeTooGuessable,
			warning: msgStraightRowsAreEasy, suggested: msgUseLongerKeyboardPattern},
		{name: "sequence", plain: "abcdefghijk", email: email, code: CodeTooGuessable, warning: msgSequencesAreEasy,
			suggested: msgAvoidSequences},
		{name: "repeat", plain: "abcabcabcabc", email: email, code: CodeTooGuessable, warning: msgRepeatedPatternsAreEasy},
		{name: "date", plain: "11/12/1985", email: email, code: CodeTooGuessable, warning: msgDatesAreEasy},
		{name: "common password and a year", plain: "password1987", email: email, code: CodeTooGuessable,
			warning: msgSimilarToCommonPassword},
		{name: "names", plain: "Jennifer1234", email: email, code: CodeTooGuessable, warning: msgCommonNamesAreEasy,
			suggested: msgCapitalizationDoesntHelp},
		{name: "site name repeated", plain: "wardenwarden", email: email, code: CodeTooGuessable},

		{name: "contains the local part", plain: "xq7!alice-Rv93wq", email: email, code: CodeContainsEmail},
		{name: "contains it in capitals", plain: "Rv93wq-ALICE-xq7!", email: email, code: CodeContainsEmail},
		{name: "contains the whole email", plain: "alice@example.com", email: email, code: CodeContainsEmail},
		{name: "email given in capitals", plain: "xq7!alice-Rv93wq", email: "Alice@Example.com", code: CodeContainsEmail},
		{name: "contains the part before +", plain: "xq7!alice-Rv93wq", email: "alice+bank@example.com", code: CodeContainsEmail},
		{name: "short local part is not checked", plain: "jo-Rv93wq-xq7!k", email: "jo@example.com"},
		{name: "three-letter local part is", plain: "bob-Rv93wq-xq7!k", email: "bob@example.com", code: CodeContainsEmail},
		{name: "dotted local part, one piece", plain: "doe1234567", email: "jane.doe@example.com", code: CodeTooGuessable},
		{name: "no email", plain: "xq7!alice-Rv93wq", email: ""},

		{name: "9 characters", plain: "kq9!zR2#v", email: email, code: CodeTooShort, suggested: "Use at least 10 characters"},
		{name: "10 random characters", plain: "kq9!zR2#vW", email: email},
		{name: "empty", plain: "", email: email, code: CodeTooShort},
		{name: "128 characters", plain: strings.Repeat("kq9!zR2#vW", 12) + "kq9!zR2#", email: email},
		{name: "129 characters", plain: strings.Repeat("kq9!zR2#vW", 12) + "kq9!zR2#v", email: email, code: CodeTooLong},
		{name: "megabyte", plain: strings.Repeat("x", 1<<20), email: email, code: CodeTooLong},

		// Lengths count characters after NFKC, not bytes.
		{name: "non-ASCII, 11 characters, 33 bytes", plain: "日本語のパスワードです", email: email},
		{name: "non-ASCII, 9 characters, 27 bytes", plain: "日本語のパスワード", email: email, code: CodeTooShort},
		{name: "accents", plain: "Ünïcödé-Pässwörd", email: email},
		{name: "cyrillic", plain: "пароль-для-банка", email: email},
		{name: "emoji count as one character each", plain: "🔐🦊🔑🌋🐙🎻🧲🪁🥁", email: email, code: CodeTooShort},
		{name: "128 emoji (512 bytes), repeating", plain: strings.Repeat("🔐🦊🔑🌋", 32), email: email, code: CodeTooGuessable},
		{name: "128 emoji (512 bytes), 8 random repeated", plain: strings.Repeat("🔐🦊🔑🌋🐙🎻🧲🪁", 16), email: email},
		{name: "decomposed accent composes to 9", plain: "a\u0301bcdefghi", email: email, code: CodeTooShort},
		{name: "repeated non-ASCII letter", plain: "ääääääääää", email: email, code: CodeTooGuessable,
			warning: msgRepeatedCharsAreEasy},
		{name: "repeated emoji", plain: strings.Repeat("🔐", 10), email: email, code: CodeTooGuessable},
		{name: "repeated non-ASCII word", plain: "парольпароль", email: email, code: CodeTooGuessable,
			warning: msgRepeatedPatternsAreEasy},
		{name: "Cyrillic alphabet in order", plain: "абвгдежзийклмн", email: email, code: CodeTooGuessable,
			warning: msgSequencesAreEasy},
		{name: "Greek alphabet backwards", plain: "ωψχφυτσρποξνμλ", email: email, code: CodeTooGuessable,
			warning: msgSequencesAreEasy},
		{name: "invalid UTF-8 is weakest", plain: "kq9!zR2#vW\xff\xfe", email: email, code: CodeTooGuessable, score: 0},
		{name: "ligatures expand to 12", plain: "\ufb03\ufb03\ufb03\ufb03", email: email, code: CodeTooGuessable},
		{name: "full-width is normalised first", plain: "ｐａｓｓｗｏｒｄ１２３４", email: email, code: CodeTooGuessable,
			warning: msgVeryCommonPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := CheckPolicy(tt.plain, tt.email)
			if tt.code == "" {
				if w != nil {
					t.Fatalf("refused: %+v", *w)
				}
				return
			}
			if w == nil {
				t.Fatalf("accepted, want %s", tt.code)
			}
			t.Logf("%+v", *w)
			if w.Code != tt.code {
				t.Fatalf("code %s, want %s (%+v)", w.Code, tt.code, *w)
			}
			if tt.code == CodeTooGuessable && (w.Score >= MinScore || (tt.score != 0 && w.Score != tt.score)) {
				t.Errorf("score %d, want %d", w.Score, tt.score)
			}
			if tt.warning != "" && w.Warning != tt.warning {
				t.Errorf("warning %q, want %q", w.Warning, tt.warning)
			}
			if tt.suggested != "" && !slices.Contains(w.Suggestions, tt.suggested) {
				t.Errorf("suggestions %q lack %q", w.Suggestions, tt.suggested)
			}
			if w.Suggestions == nil || w.Error() == "" {
				t.Errorf("incomplete weakness %+v", *w)
			}
		})
	}
}

// The score is computed on the first zxcvbnPrefix characters only; a
// guessable beginning is refused even if more follows, which is the
// conservative side.
func TestCheckPolicyScoresPrefix(t *testing.T) {
	strong := "kq9!zR2#vW-Lp4$mT8&xB1"
	if w := CheckPolicy(strings.Repeat("a", zxcvbnPrefix)+strong, ""); w == nil || w.Code != CodeTooGuessable {
		t.Fatalf("guessable prefix accepted: %+v", w)
	}
	if w := CheckPolicy(strong+strings.Repeat("a", 100), ""); w != nil {
		t.Fatalf("strong prefix refused: %+v", *w)
	}
}

func TestWeaknessIsError(t *testing.T) {
	// Check the *Weakness for nil before using it as an error: a nil
	// *Weakness in an error variable is a non-nil error.
	w := CheckPolicy("short", "")
	if w == nil {
		t.Fatal("accepted")
	}
	var err error = fmt.Errorf("register: %w", w)
	var got *Weakness
	if !errors.As(err, &got) || got.Code != CodeTooShort || !strings.Contains(err.Error(), "at least 10") {
		t.Fatalf("err = %v", err)
	}
}

// CheckPolicy runs before hashing and outside the pool, so even its worst
// case must cost no more than about one hash at DefaultParams; both are
// timed here (best of 3) so that the bound holds on a loaded machine or
// under the race detector. The inputs are the slowest found for zxcvbn:
// its l33t matcher re-runs every dictionary once per substitution table
// that the symbols allow.
func TestCheckPolicyWorstCaseCostsAboutAHash(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	best := func(f func()) time.Duration {
		d := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			f()
			d = min(d, time.Since(start))
		}
		return d
	}
	p := DefaultParams()
	salt := make([]byte, p.SaltLen)
	hash := best(func() { argon2.IDKey([]byte("password"), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen) })
	for _, plain := range worstCasePasswords() {
		d := best(func() { CheckPolicy(plain, "alice@example.com") })
		t.Logf("%.16q…: %v (one hash: %v)", plain, d, hash)
		if d > 2*hash {
			t.Errorf("CheckPolicy(%.16q…) took %v, one hash %v", plain, d, hash)
		}
	}
}

func worstCasePasswords() []string {
	return []string{
		strings.Repeat("4@8({[<369!|70$5+%2", 7)[:MaxLength],
		strings.Repeat("p4$$w0rd", 16),
		strings.Repeat("a", MaxLength),
		strings.Repeat("kq9!zR2#vW", 13)[:MaxLength],
		strings.Repeat("19701231", 16),
	}
}

// FuzzCheckPolicy checks that no input (invalid UTF-8, combining marks,
// astral characters, anything) makes the policy or the repaired zxcvbn
// matching panic, and that every refusal is well formed.
func FuzzCheckPolicy(f *testing.F) {
	for _, s := range []string{"correct horse battery staple", "password1234", "ääääääääää", "абвгдежзий",
		"🔐🦊🔐🦊🔐🦊🔐🦊🔐🦊", "a\u0301bcdefghij", "\ufb03\ufb03\ufb03\ufb03", "kq9!zR2#vW\xff", "4@8({[<369!|70$5+%2"} {
		f.Add(s, "alice@example.com")
	}
	f.Fuzz(func(t *testing.T, plain, email string) {
		w := CheckPolicy(plain, email)
		if w == nil {
			return
		}
		switch w.Code {
		case CodeTooShort, CodeTooLong, CodeContainsEmail, CodeTooGuessable:
		default:
			t.Fatalf("code %q", w.Code)
		}
		if w.Suggestions == nil || w.Score < 0 || w.Score >= MinScore && w.Code == CodeTooGuessable {
			t.Fatalf("malformed %+v", *w)
		}
	})
}
