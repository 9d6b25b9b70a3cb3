package password

import (
	"math"
	"strings"
	"unicode/utf16"

	"github.com/trustelem/zxcvbn/match"
)

// github.com/trustelem/zxcvbn ports zxcvbn 4.4.2's matching and scoring
// but not its feedback module, so the feedback below is a port of
// zxcvbn's src/feedback.coffee: same messages, same choice of the match
// to explain (the longest), same rules per pattern.

// Messages of zxcvbn's feedback, verbatim.
const (
	msgUseAFewWords             = "Use a few words, avoid common phrases"
	msgNoNeedForMixedChars      = "No need for symbols, digits, or uppercase letters"
	msgUncommonWordsAreBetter   = "Add another word or two. Uncommon words are better."
	msgStraightRowsAreEasy      = "Straight rows of keys are easy to guess"
	msgShortKeyboardPatterns    = "Short keyboard patterns are easy to guess"
	msgUseLongerKeyboardPattern = "Use a longer keyboard pattern with more turns"
	msgRepeatedCharsAreEasy     = `Repeats like "aaa" are easy to guess`
	msgRepeatedPatternsAreEasy  = `Repeats like "abcabcabc" are only slightly harder to guess than "abc"`
	msgAvoidRepeated            = "Avoid repeated words and characters"
	msgSequencesAreEasy         = "Sequences like abc or 6543 are easy to guess"
	msgAvoidSequences           = "Avoid sequences"
	msgRecentYearsAreEasy       = "Recent years are easy to guess"
	msgAvoidRecentYears         = "Avoid recent years"
	msgAvoidAssociatedYears     = "Avoid years that are associated with you"
	msgDatesAreEasy             = "Dates are often easy to guess"
	msgAvoidAssociatedDates     = "Avoid dates and years that are associated with you"
	msgTop10Password            = "This is a top-10 common password"
	msgTop100Password           = "This is a top-100 common password"
	msgVeryCommonPassword       = "This is a very common password"
	msgSimilarToCommonPassword  = "This is similar to a commonly used password"
	msgAWordIsEasy              = "A word by itself is easy to guess"
	msgNamesAreEasy             = "Names and surnames by themselves are easy to guess"
	msgCommonNamesAreEasy       = "Common names and surnames are easy to guess"
	msgCapitalizationDoesntHelp = "Capitalization doesn't help very much"
	msgAllUppercaseDoesntHelp   = "All-uppercase is almost as easy to guess as all-lowercase"
	msgReverseDoesntHelp        = "Reversed words aren't much harder to guess"
	msgSubstitutionDoesntHelp   = "Predictable substitutions like '@' instead of 'a' don't help very much"
)

// zxcvbnFeedback is feedback.get_feedback: a warning (possibly empty) and
// suggestions (never nil, so that JSON shows []) for a zxcvbn result.
func zxcvbnFeedback(score int, sequence []*match.Match) (warning string, suggestions []string) {
	// Starting feedback: nothing typed yet.
	if len(sequence) == 0 {
		return "", []string{msgUseAFewWords, msgNoNeedForMixedChars}
	}
	// No feedback if the score is good or great.
	if score > 2 {
		return "", []string{}
	}
	// Tie feedback to the longest match for longer sequences (the first
	// one on ties, as in the original).
	longest := sequence[0]
	for _, m := range sequence[1:] {
		if jsLength(m.Token) > jsLength(longest.Token) {
			longest = m
		}
	}
	warning, extra := matchFeedback(longest, len(sequence) == 1)
	return warning, append([]string{msgUncommonWordsAreBetter}, extra...)
}

// matchFeedback is feedback.get_match_feedback. Patterns without feedback
// (bruteforce, regexes other than recent_year) return nothing.
func matchFeedback(m *match.Match, soleMatch bool) (warning string, suggestions []string) {
	switch m.Pattern {
	case "dictionary":
		return dictionaryFeedback(m, soleMatch)
	case "spatial":
		if m.Turns == 1 {
			return msgStraightRowsAreEasy, []string{msgUseLongerKeyboardPattern}
		}
		return msgShortKeyboardPatterns, []string{msgUseLongerKeyboardPattern}
	case "repeat":
		if jsLength(m.BaseToken) == 1 {
			return msgRepeatedCharsAreEasy, []string{msgAvoidRepeated}
		}
		return msgRepeatedPatternsAreEasy, []string{msgAvoidRepeated}
	case "sequence":
		return msgSequencesAreEasy, []string{msgAvoidSequences}
	case "regex":
		if m.RegexName == "recent_year" {
			return msgRecentYearsAreEasy, []string{msgAvoidRecentYears, msgAvoidAssociatedYears}
		}
	case "date":
		return msgDatesAreEasy, []string{msgAvoidAssociatedDates}
	}
	return "", nil
}

// dictionaryFeedback is feedback.get_dictionary_match_feedback.
func dictionaryFeedback(m *match.Match, soleMatch bool) (warning string, suggestions []string) {
	switch m.DictionaryName {
	case "passwords":
		switch {
		case soleMatch && !m.L33t && !m.Reversed:
			switch {
			case m.Rank <= 10:
				warning = msgTop10Password
			case m.Rank <= 100:
				warning = msgTop100Password
			default:
				warning = msgVeryCommonPassword
			}
		case math.Log10(m.Guesses) <= 4:
			warning = msgSimilarToCommonPassword
		}
	case "english_wikipedia":
		if soleMatch {
			warning = msgAWordIsEasy
		}
	case "surnames", "male_names", "female_names":
		if soleMatch {
			warning = msgNamesAreEasy
		} else {
			warning = msgCommonNamesAreEasy
		}
	}
	word := m.Token
	if startUpper(word) {
		suggestions = append(suggestions, msgCapitalizationDoesntHelp)
	} else if allUpper(word) && strings.ToLower(word) != word {
		suggestions = append(suggestions, msgAllUppercaseDoesntHelp)
	}
	if m.Reversed && jsLength(m.Token) >= 4 {
		suggestions = append(suggestions, msgReverseDoesntHelp)
	}
	if m.L33t {
		suggestions = append(suggestions, msgSubstitutionDoesntHelp)
	}
	return warning, suggestions
}

// startUpper is zxcvbn's START_UPPER, /^[A-Z][^A-Z]+$/.
func startUpper(s string) bool {
	if len(s) < 2 || !isASCIIUpper(rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if isASCIIUpper(r) {
			return false
		}
	}
	return true
}

// allUpper is zxcvbn's ALL_UPPER, /^[^a-z]+$/.
func allUpper(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if 'a' <= r && r <= 'z' {
			return false
		}
	}
	return true
}

func isASCIIUpper(r rune) bool { return 'A' <= r && r <= 'Z' }

// jsLength is JavaScript's String.length (UTF-16 code units), which the
// original compares; it differs from a rune count only outside the BMP.
func jsLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
