package password

import (
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn"
)

// For ASCII, strength is exactly the library's PasswordStrength.
func TestStrengthMatchesLibraryForASCII(t *testing.T) {
	inputs := []string{"warden", "alice@example.com", "alice"}
	for _, pw := range []string{
		"", "password", "Tr0ub4dour&3", "correct horse battery staple", "qwerasdfzxcv", "abcabcabcabc",
		"11/12/1985", "1987", "zxcvbnm,./", "kq9!zR2#vW", "alice1234", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	} {
		want := zxcvbn.PasswordStrength(pw, inputs)
		score, seq := strength(pw, inputs)
		if score != want.Score || len(seq) != len(want.Sequence) {
			t.Fatalf("%q: score %d (%d matches), library %d (%d matches)", pw, score, len(seq), want.Score, len(want.Sequence))
		}
		for i := range seq {
			if seq[i].Pattern != want.Sequence[i].Pattern || seq[i].Token != want.Sequence[i].Token {
				t.Fatalf("%q: match %d is %s %q, library %s %q", pw, i, seq[i].Pattern, seq[i].Token,
					want.Sequence[i].Pattern, want.Sequence[i].Token)
			}
		}
	}
}

// For other text, the repaired matches cover whole characters.
func TestStrengthNonASCII(t *testing.T) {
	tests := []struct {
		pw       string
		maxScore int
		pattern  string // of the longest match
	}{
		{"ääääääääää", 0, "repeat"},
		{strings.Repeat("🔐🦊", 6), 1, "repeat"},
		{"парольпароль", 2, "repeat"},
		{"абвгдежзий", 0, "sequence"},
		{"ωψχφυτσρπο", 1, "sequence"}, // ς sits between σ and ρ: two runs
		{"abcабвгд", 1, "sequence"},
		{"日本語のパスワードです", 4, "bruteforce"},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			score, seq := strength(tt.pw, nil)
			var joined strings.Builder
			longest := seq[0]
			for _, m := range seq {
				joined.WriteString(m.Token)
				if jsLength(m.Token) > jsLength(longest.Token) {
					longest = m
				}
			}
			if score > tt.maxScore || longest.Pattern != tt.pattern || joined.String() != tt.pw {
				t.Fatalf("score %d, longest %s %q, tokens %q", score, longest.Pattern, longest.Token, joined.String())
			}
		})
	}
}
