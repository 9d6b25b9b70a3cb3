package password

import (
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/match"
	"github.com/trustelem/zxcvbn/matching"
	"github.com/trustelem/zxcvbn/scoring"
)

// strength is zxcvbn.PasswordStrength (match, find the most guessable
// sequence, score), with one repair for passwords that are not ASCII.
//
// The Go port indexes matches by byte but some of its matchers think in
// runes (or bytes where the original thinks in characters), so for
// non-ASCII text a repeat ("ääääääääää", "🔐🔐🔐🔐🔐") ends in the middle of
// a character and is never used, sequences ("абвгдежзий") are not seen,
// and some matches cut a character in two. The policy would then take
// repeated or consecutive letters for random ones: ten "ä" would score 4.
// For such passwords the repeat matches are re-aligned, sequences are
// found by character as the original does, and matches that split a
// character are dropped. ASCII passwords go through the library untouched.
func strength(password string, userInputs []string) (score int, sequence []*match.Match) {
	if !utf8.ValidString(password) {
		return 0, nil // as the library: never evaluated, reported as weakest
	}
	matches := matching.Omnimatch(password, userInputs)
	if !isASCII(password) {
		matches = repairMatches(password, matches)
	}
	res := scoring.MostGuessableMatchSequence(password, matches, false)
	return guessesToScore(res.Guesses), res.Sequence
}

// guessesToScore is the library's (unexported) mapping, zxcvbn's
// guesses_to_score: below 10^3, 10^6, 10^8, 10^10 guesses → 0 to 3, else 4.
func guessesToScore(guesses float64) int {
	const delta = 5
	switch {
	case guesses < 1e3+delta:
		return 0
	case guesses < 1e6+delta:
		return 1
	case guesses < 1e8+delta:
		return 2
	case guesses < 1e10+delta:
		return 3
	}
	return 4
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// repairMatches fixes the library's matches for a non-ASCII password; see
// strength.
func repairMatches(password string, matches []*match.Match) []*match.Match {
	out := matches[:0]
	for _, m := range matches {
		switch m.Pattern {
		case "sequence":
			continue // byte-wise; replaced by runeSequences below
		case "repeat":
			// I is right; J is the first byte of the last character, and the
			// count divides characters by bytes.
			if m.I < 0 || m.I+len(m.Token) > len(password) || password[m.I:m.I+len(m.Token)] != m.Token {
				continue
			}
			m.J = m.I + len(m.Token) - 1
			if base := utf8.RuneCountInString(m.BaseToken); base > 0 {
				m.RepeatCount = utf8.RuneCountInString(m.Token) / base
			}
		}
		if !aligned(password, m) {
			continue
		}
		out = append(out, m)
	}
	return append(out, runeSequences(password)...)
}

// aligned reports whether m spans whole characters of password and its
// token is that span.
func aligned(password string, m *match.Match) bool {
	return m.I >= 0 && m.I <= m.J && m.J < len(password) &&
		utf8.RuneStart(password[m.I]) &&
		(m.J+1 == len(password) || utf8.RuneStart(password[m.J+1])) &&
		password[m.I:m.J+1] == m.Token
}

// runeSequences is zxcvbn's sequence_match, by character (code point)
// rather than by byte: runs of characters whose codes step by the same
// delta (1 to 5, up or down), e.g. "abcd", "9753", "абвг". Guesses are
// set here as scoring.SequenceGuesses would with a character count (the
// library's version counts bytes, which overrates non-ASCII sequences).
func runeSequences(password string) []*match.Match {
	const maxDelta = 5
	runes := []rune(password)
	if len(runes) <= 1 {
		return nil
	}
	starts := make([]int, len(runes)+1) // byte offset of each rune, and the end
	for k, off := 0, 0; k < len(runes); k++ {
		starts[k] = off
		off += utf8.RuneLen(runes[k])
	}
	starts[len(runes)] = len(password)

	var out []*match.Match
	update := func(i, j, delta int) {
		abs := max(delta, -delta)
		if (j-i > 1 || abs == 1) && abs > 0 && abs <= maxDelta {
			m := &match.Match{
				Pattern: "sequence", I: starts[i], J: starts[j+1] - 1,
				Token: password[starts[i]:starts[j+1]], Ascending: delta > 0,
			}
			m.SequenceName, m.SequenceSpace = sequenceSpace(runes[i : j+1])
			m.Guesses = sequenceGuesses(m, runes[i], j-i+1, len(runes))
			out = append(out, m)
		}
	}
	i, lastDelta := 0, int(runes[1]-runes[0])
	for k := 1; k < len(runes); k++ {
		delta := int(runes[k] - runes[k-1])
		if delta == lastDelta {
			continue
		}
		j := k - 1
		update(i, j, lastDelta)
		i, lastDelta = j, delta
	}
	update(i, len(runes)-1, lastDelta)
	return out
}

func sequenceSpace(rs []rune) (string, int) {
	in := func(lo, hi rune) bool {
		for _, r := range rs {
			if r < lo || r > hi {
				return false
			}
		}
		return true
	}
	switch {
	case in('a', 'z'):
		return "lower", 26
	case in('A', 'Z'):
		return "upper", 26
	case in('0', '9'):
		return "digits", 10
	}
	// As the original: conservatively the size of the Roman alphabet.
	return "unicode", 26
}

// sequenceGuesses is scoring.SequenceGuesses with a length in characters,
// plus the floor that scoring.EstimateGuesses applies to submatches (it
// skips both for a match whose Guesses are already set).
func sequenceGuesses(m *match.Match, first rune, length, total int) float64 {
	var base int
	switch {
	case first == 'a' || first == 'A' || first == 'z' || first == 'Z' || first == '0' || first == '1' || first == '9':
		base = 4 // obvious starting points
	case '0' <= first && first <= '9':
		base = 10
	default:
		base = 26
	}
	if !m.Ascending {
		base *= 2
	}
	guesses := float64(base * length)
	if length < total {
		floor := float64(scoring.MinSubmatchGuessesMultiChar)
		if length == 1 {
			floor = scoring.MinSubmatchGuessesSingleChar
		}
		guesses = max(guesses, floor)
	}
	return guesses
}
