package mfa_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
)

var recoveryCodeFormat = regexp.MustCompile(`^[a-z2-7]{5}-[a-z2-7]{5}$`)

func TestNewRecoveryCodes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		codes := mfa.NewRecoveryCodes()
		if len(codes) != mfa.RecoveryCodeCount {
			t.Fatalf("%d codes, want %d", len(codes), mfa.RecoveryCodeCount)
		}
		for _, c := range codes {
			if !recoveryCodeFormat.MatchString(c) {
				t.Fatalf("code %q is not two groups of five from a-z2-7", c)
			}
			if strings.ContainsAny(c, "0189") {
				t.Fatalf("code %q has a character that reads as a letter", c)
			}
			if seen[c] {
				t.Fatalf("code %q made twice in %d codes", c, len(seen))
			}
			seen[c] = true
			if n := mfa.NormalizeRecoveryCode(c); n != strings.ReplaceAll(c, "-", "") {
				t.Fatalf("NormalizeRecoveryCode(%q) = %q", c, n)
			}
		}
	}
	// Fifty random bits each: over 1000 codes every character position
	// takes many values (a constant position would mean fewer bits).
	for pos := range 11 {
		if pos == 5 {
			continue
		}
		chars := map[byte]bool{}
		for c := range seen {
			chars[c[pos]] = true
		}
		if len(chars) < 20 {
			t.Errorf("position %d takes only %d values over %d codes", pos, len(chars), len(seen))
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"abcde-fg234", "abcdefg234"},
		{"abcdefg234", "abcdefg234"},
		{"ABCDE-FG234", "abcdefg234"},
		{"AbCdE-fG234", "abcdefg234"},
		{"abcde fg234", "abcdefg234"},
		{"  abcde-fg234  ", "abcdefg234"},
		{"a-b-c-d-e-f-g-2-3-4", "abcdefg234"},
		{"abcde--fg234", "abcdefg234"},
		{"abcde\tfg234", "abcdefg234"},
		{"abc de-fg 234", "abcdefg234"},
		{"-abcdefg234-", "abcdefg234"},
		{"zzzzz-77777", "zzzzz77777"},

		// Wrong length.
		{"", ""},
		{"   ", ""},
		{"-----", ""},
		{"abcde-fg23", ""},
		{"abcde-fg2345", ""},
		{"abcde-fg234-a", ""},
		{"abcde", ""},
		{strings.Repeat("a", 1000), ""},

		// Characters outside the alphabet: 0, 1, 8 and 9 are not in it.
		{"abcde-fg230", ""},
		{"abcde-fg231", ""},
		{"abcde-fg238", ""},
		{"abcde-fg239", ""},
		{"abcde_fg234", ""},
		{"abcde.fg234", ""},
		{"abcde-fg23é", ""},
		{"abcde-fg23\x00", ""},
		{"abcde\nfg234", ""},
		{"abcde-fg23\xff", ""},
		{"abcde-fg23４", ""}, // a full-width digit
		{"аbcde-fg234", ""}, // a Cyrillic а
	} {
		if got := mfa.NormalizeRecoveryCode(c.in); got != c.want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzNormalizeRecoveryCode: whatever is typed, the result is nothing or a
// code, and a code is exactly what was typed less case and separators.
// Inputs it found are kept in testdata/fuzz/FuzzNormalizeRecoveryCode.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, c := range mfa.NewRecoveryCodes()[:2] {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := mfa.NormalizeRecoveryCode(in)
		if out == "" {
			return
		}
		if len(out) != 10 || strings.Trim(out, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q: not 10 characters of a-z2-7", in, out)
		}
		typed := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\t' {
				return -1
			}
			return unicode.ToLower(r)
		}, in)
		if typed != out {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q, but the input less case and separators is %q", in, out, typed)
		}
		if again := mfa.NormalizeRecoveryCode(out); again != out {
			t.Fatalf("not idempotent: %q, then %q", out, again)
		}
		if shown := mfa.NormalizeRecoveryCode(strings.ToUpper(out[:5] + " - " + out[5:])); shown != out {
			t.Fatalf("the code as shown, in capitals, normalises to %q, want %q", shown, out)
		}
	})
}

func TestNeedsStepUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, time.March, 4, 5, 6, 10, 0, time.UTC)
	window := 5 * time.Minute
	s := &mfa.Service{Now: func() time.Time { return now }, Policy: mfa.Policy{StepUpWindow: window}}
	for _, c := range []struct {
		name  string
		mfa   bool
		mfaAt time.Time
		want  bool
	}{
		{"no second factor, never proven", false, time.Time{}, false},
		{"no second factor, proven long ago", false, now.Add(-time.Hour), false},
		{"2FA, never proven in this session", true, time.Time{}, true},
		{"2FA, proven just now", true, now, false},
		{"2FA, proven within the window", true, now.Add(-window + time.Second), false},
		{"2FA, proven at the window's edge", true, now.Add(-window), false},
		{"2FA, proven a second past the window", true, now.Add(-window - time.Second), true},
		{"2FA, proven an hour ago", true, now.Add(-time.Hour), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := s.NeedsStepUp(account.Account{ID: "usr_x", MFAEnabled: c.mfa}, session.Session{ID: "ses_x", MFAAt: c.mfaAt})
			if got != c.want {
				t.Fatalf("NeedsStepUp = %v, want %v", got, c.want)
			}
		})
	}
}
