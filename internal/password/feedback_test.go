package password

import (
	"slices"
	"testing"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// Each rule of feedback.coffee, on hand-made matches.
func TestMatchFeedback(t *testing.T) {
	dict := func(name string, rank int, token string) *match.Match {
		return &match.Match{Pattern: "dictionary", DictionaryName: name, Rank: rank, Token: token, Guesses: float64(rank)}
	}
	l33t := func(m *match.Match) *match.Match { m.L33t = true; return m }
	reversed := func(m *match.Match) *match.Match { m.Reversed = true; return m }
	guesses := func(m *match.Match, g float64) *match.Match { m.Guesses = g; return m }
	tests := []struct {
		name        string
		m           *match.Match
		sole        bool
		warning     string
		suggestions []string
	}{
		{"top-10", dict("passwords", 10, "password"), true, msgTop10Password, nil},
		{"top-100", dict("passwords", 11, "password"), true, msgTop100Password, nil},
		{"very common", dict("passwords", 101, "password"), true, msgVeryCommonPassword, nil},
		{"common, not alone, few guesses", dict("passwords", 5, "password"), false, msgSimilarToCommonPassword, nil},
		{"common, not alone, 10^4 guesses", guesses(dict("passwords", 5, "password"), 1e4), false, msgSimilarToCommonPassword, nil},
		{"common, not alone, many guesses", guesses(dict("passwords", 5, "password"), 1e4+1), false, "", nil},
		{"common l33t", l33t(dict("passwords", 2, "p4ssword")), true, msgSimilarToCommonPassword, []string{msgSubstitutionDoesntHelp}},
		{"common reversed", reversed(dict("passwords", 2, "drowssap")), true, msgSimilarToCommonPassword, []string{msgReverseDoesntHelp}},
		{"short reversed word", reversed(dict("english_wikipedia", 2, "eht")), false, "", nil},
		{"word alone", dict("english_wikipedia", 50, "house"), true, msgAWordIsEasy, nil},
		{"word among others", dict("english_wikipedia", 50, "house"), false, "", nil},
		{"name alone", dict("surnames", 1, "Smith"), true, msgNamesAreEasy, []string{msgCapitalizationDoesntHelp}},
		{"names among others", dict("male_names", 1, "JAMES"), false, msgCommonNamesAreEasy, []string{msgAllUppercaseDoesntHelp}},
		{"female name", dict("female_names", 1, "mary"), false, msgCommonNamesAreEasy, nil},
		{"tv word", dict("us_tv_and_film", 1, "Troubadour"), true, "", []string{msgCapitalizationDoesntHelp}},
		{"user input", dict("user_inputs", 1, "warden"), true, "", nil},
		{"digits are not all-uppercase", dict("passwords", 7, "1234"), false, msgSimilarToCommonPassword, nil},
		{"mixed case is not capitalised", dict("english_wikipedia", 7, "HoUse"), false, "", nil},
		{"l33t capitalised", l33t(dict("english_wikipedia", 7, "H0use")), false, "", []string{msgCapitalizationDoesntHelp, msgSubstitutionDoesntHelp}},
		{"straight row", &match.Match{Pattern: "spatial", Turns: 1}, true, msgStraightRowsAreEasy, []string{msgUseLongerKeyboardPattern}},
		{"keyboard pattern", &match.Match{Pattern: "spatial", Turns: 3}, true, msgShortKeyboardPatterns, []string{msgUseLongerKeyboardPattern}},
		{"repeated char", &match.Match{Pattern: "repeat", BaseToken: "a"}, true, msgRepeatedCharsAreEasy, []string{msgAvoidRepeated}},
		{"repeated emoji", &match.Match{Pattern: "repeat", BaseToken: "🔐"}, true, msgRepeatedPatternsAreEasy, []string{msgAvoidRepeated}},
		{"repeated pattern", &match.Match{Pattern: "repeat", BaseToken: "abc"}, true, msgRepeatedPatternsAreEasy, []string{msgAvoidRepeated}},
		{"sequence", &match.Match{Pattern: "sequence"}, true, msgSequencesAreEasy, []string{msgAvoidSequences}},
		{"recent year", &match.Match{Pattern: "regex", RegexName: "recent_year"}, true, msgRecentYearsAreEasy, []string{msgAvoidRecentYears, msgAvoidAssociatedYears}},
		{"other regex", &match.Match{Pattern: "regex", RegexName: "other"}, true, "", nil},
		{"date", &match.Match{Pattern: "date"}, true, msgDatesAreEasy, []string{msgAvoidAssociatedDates}},
		{"bruteforce", &match.Match{Pattern: "bruteforce"}, true, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, s := matchFeedback(tt.m, tt.sole)
			if w != tt.warning || !slices.Equal(s, tt.suggestions) {
				t.Fatalf("got %q %q, want %q %q", w, s, tt.warning, tt.suggestions)
			}
		})
	}
}

// End to end through zxcvbn, with the feedback the original library
// gives for these passwords.
func TestZxcvbnFeedback(t *testing.T) {
	tests := []struct {
		plain       string
		warning     string
		suggestions []string
	}{
		{"", "", []string{msgUseAFewWords, msgNoNeedForMixedChars}},
		{"password", msgTop10Password, []string{msgUncommonWordsAreBetter}},
		{"Password", msgTop10Password, []string{msgUncommonWordsAreBetter, msgCapitalizationDoesntHelp}},
		{"PASSWORD", msgTop10Password, []string{msgUncommonWordsAreBetter, msgAllUppercaseDoesntHelp}},
		{"p@ssword", msgSimilarToCommonPassword, []string{msgUncommonWordsAreBetter, msgSubstitutionDoesntHelp}},
		{"drowssap", msgSimilarToCommonPassword, []string{msgUncommonWordsAreBetter, msgReverseDoesntHelp}},
		{"qwertyuiop", msgTop100Password, []string{msgUncommonWordsAreBetter}},
		{"zxcvbnm,./", msgStraightRowsAreEasy, []string{msgUncommonWordsAreBetter, msgUseLongerKeyboardPattern}},
		{"9876543210", msgSequencesAreEasy, []string{msgUncommonWordsAreBetter, msgAvoidSequences}},
		{"1987", msgRecentYearsAreEasy, []string{msgUncommonWordsAreBetter, msgAvoidRecentYears, msgAvoidAssociatedYears}},
		{"11/12/1985", msgDatesAreEasy, []string{msgUncommonWordsAreBetter, msgAvoidAssociatedDates}},
		{"aaaaaaaaaa", msgRepeatedCharsAreEasy, []string{msgUncommonWordsAreBetter, msgAvoidRepeated}},
		{"smith", msgNamesAreEasy, []string{msgUncommonWordsAreBetter}},
		{"williamsjones", msgCommonNamesAreEasy, []string{msgUncommonWordsAreBetter}},
		{"Tr0ub4dour&3", "", []string{msgUncommonWordsAreBetter, msgCapitalizationDoesntHelp, msgSubstitutionDoesntHelp}},
		{"correct horse battery staple", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.plain, func(t *testing.T) {
			r := zxcvbn.PasswordStrength(tt.plain, nil)
			w, s := zxcvbnFeedback(r.Score, r.Sequence)
			if w != tt.warning || !slices.Equal(s, tt.suggestions) || s == nil {
				t.Fatalf("score %d: got %q %q, want %q %q", r.Score, w, s, tt.warning, tt.suggestions)
			}
		})
	}
}

func TestLongestMatchExplained(t *testing.T) {
	// The first of equally long matches wins, as in the original; length
	// is in UTF-16 units, so an emoji counts twice.
	seq := []*match.Match{
		{Pattern: "sequence", Token: "abcd"},
		{Pattern: "date", Token: "1985"},
		{Pattern: "repeat", Token: "🔐🔐🔐", BaseToken: "🔐"},
	}
	if w, _ := zxcvbnFeedback(0, seq[:2]); w != msgSequencesAreEasy {
		t.Fatalf("tie: warning %q", w)
	}
	if w, _ := zxcvbnFeedback(0, seq); w != msgRepeatedPatternsAreEasy {
		t.Fatalf("emoji: warning %q", w)
	}
	if w, s := zxcvbnFeedback(3, seq); w != "" || len(s) != 0 {
		t.Fatalf("good score gave feedback %q %q", w, s)
	}
}
