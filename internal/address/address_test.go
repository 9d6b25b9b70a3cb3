package address

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// XRP-like: a shared exchange address needs a numeric destination tag.
var xrp = Network{
	Name:         "XRP",
	Kind:         KindPattern,
	Pattern:      regexp.MustCompile(`r[1-9A-HJ-NP-Za-km-z]{24,34}`),
	MemoRequired: true,
	MemoPattern:  regexp.MustCompile(`[0-9]{1,10}`),
}

// Stellar-like: memo optional, free text.
var xlm = Network{
	Name:        "Stellar",
	Kind:        KindPattern,
	Pattern:     regexp.MustCompile(`^G[A-Z2-7]{55}$`),
	MemoPattern: regexp.MustCompile(`[ -~]{1,28}`),
}

const (
	xrpAddr = "rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe"
	xlmAddr = "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7"
)

func TestPattern(t *testing.T) {
	tests := []struct {
		name         string
		net          Network
		addr, memo   string
		wantMemo     string
		reason       string
		wantNetError bool
	}{
		{"xrp with tag", xrp, xrpAddr, "12345", "12345", "", false},
		{"xrp without tag", xrp, xrpAddr, "", "", "memo required", false},
		{"xrp tag not numeric", xrp, xrpAddr, "12a", "", "memo is not in the format XRP expects", false},
		{"xrp tag too long", xrp, xrpAddr, "12345678901", "", "memo is not in the format", false},
		// Unanchored pattern must still match the whole address.
		{"xrp with junk before", xrp, "x" + xrpAddr, "1", "", "address is not in the format XRP expects", false},
		{"xrp with junk after", xrp, xrpAddr + "0", "1", "", "address is not in the format", false},
		{"xrp bad alphabet", xrp, "r0T1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe", "1", "", "address is not in the format", false},
		{"xlm no memo", xlm, xlmAddr, "", "", "", false},
		{"xlm text memo", xlm, xlmAddr, "invoice 42", "invoice 42", "", false},
		{"xlm memo too long for pattern", xlm, xlmAddr, strings.Repeat("m", 29), "", "memo is not in the format", false},
		{"xlm memo leading space", xlm, xlmAddr, " invoice", "", "starts or ends with a space", false},
		{"xlm memo control char", xlm, xlmAddr, "inv\toice", "", "not printable ASCII", false},
		{"xlm memo over 128", Network{Kind: KindPattern, Pattern: xlm.Pattern, MemoPattern: regexp.MustCompile(`.*`)}, xlmAddr, strings.Repeat("m", 129), "", "longer than 128", false},
		{"xlm lowercase", xlm, strings.ToLower(xlmAddr), "", "", "address is not in the format", false},
		{"xlm unicode lookalike", xlm, "G" + "А" + xlmAddr[2:], "", "", "not printable ASCII", false}, // Cyrillic А
		{"address over 128", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`.*`)}, strings.Repeat("a", 129), "", "", "longer than 128", false},
		{"address with space", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`.*`)}, "a b", "", "", "contains a space", false},
		{"no name in message", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`a`)}, "b", "", "", "format this network expects", false},
		// Alternation: leftmost-first matching would find "a" in "ab";
		// full matching must still accept "ab".
		{"alternation full match", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`a|ab`)}, "ab", "", "", "", false},
		{"alternation anchored only on one side", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`^a|b$`)}, "ab", "", "", "address is not in the format", false},
		{"multiline flag does not leak", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`(?m)^a$`)}, "a", "", "", "", false},
		{"case-insensitive flag", Network{Kind: KindPattern, Pattern: regexp.MustCompile(`(?i)abc`)}, "ABC", "", "", "", false},

		{"no pattern", Network{Name: "broken", Kind: KindPattern}, "abc", "", "", "", true},
		{"unknown kind", Network{Name: "broken", Kind: "solana"}, "abc", "", "", "", true},
		{"empty kind", Network{}, "abc", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(tt.net, tt.addr, tt.memo)
			if tt.wantNetError {
				if !errors.Is(err, ErrNetwork) || errors.Is(err, ErrInvalid) {
					t.Fatalf("got %+v, %v; want ErrNetwork", got, err)
				}
				return
			}
			typ := ""
			if tt.reason == "" {
				typ = TypePattern
			}
			checkResult(t, got, err, tt.addr, typ, tt.reason)
			if err == nil && got.Memo != tt.wantMemo {
				t.Fatalf("memo %q, want %q", got.Memo, tt.wantMemo)
			}
		})
	}
}

func TestMemoRules(t *testing.T) {
	const addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	anyMemo := regexp.MustCompile(`.+`)
	tests := []struct {
		name   string
		net    Network
		memo   string
		reason string
	}{
		{"not required, none", Network{Kind: KindEVM}, "", ""},
		{"not required, given", Network{Kind: KindEVM}, "123", "this network takes no memo"},
		{"optional, none", Network{Kind: KindEVM, MemoPattern: anyMemo}, "", ""},
		{"optional, given", Network{Kind: KindEVM, MemoPattern: anyMemo}, "123", ""},
		{"required, none", Network{Kind: KindEVM, MemoRequired: true}, "", "memo required"},
		{"required, any", Network{Kind: KindEVM, MemoRequired: true}, "any memo", ""},
		{"required, not printable", Network{Kind: KindEVM, MemoRequired: true}, "a\x00b", "not printable ASCII"},
		{"required, non-ASCII", Network{Kind: KindEVM, MemoRequired: true}, "café", "not printable ASCII"},
		{"required, 128", Network{Kind: KindEVM, MemoRequired: true}, strings.Repeat("m", 128), ""},
		{"required, 129", Network{Kind: KindEVM, MemoRequired: true}, strings.Repeat("m", 129), "longer than 128"},
		{"required, trailing space", Network{Kind: KindEVM, MemoRequired: true}, "123 ", "starts or ends with a space"},
		{"required, only space", Network{Kind: KindEVM, MemoRequired: true}, " ", "starts or ends with a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(tt.net, addr, tt.memo)
			typ := ""
			if tt.reason == "" {
				typ = TypeEVM
			}
			checkResult(t, got, err, addr, typ, tt.reason)
			if err == nil && got.Memo != tt.memo {
				t.Fatalf("memo %q, want %q", got.Memo, tt.memo)
			}
		})
	}
	// A bad address is reported before the memo is looked at.
	_, err := Validate(Network{Kind: KindEVM, MemoRequired: true}, "0x00", "")
	if err == nil || strings.Contains(err.Error(), "memo") {
		t.Fatalf("got %v, want an address error", err)
	}
}

func TestParseNetworkKind(t *testing.T) {
	for _, k := range []Kind{KindBitcoin, KindBitcoinTestnet, KindEVM, KindPattern} {
		got, err := ParseNetworkKind(string(k))
		if err != nil || got != k {
			t.Errorf("%q: got %q, %v", k, got, err)
		}
	}
	for _, s := range []string{"", "Bitcoin", " evm", "ethereum", "bitcoin_testnet"} {
		got, err := ParseNetworkKind(s)
		if !errors.Is(err, ErrNetwork) || got != "" {
			t.Errorf("%q: got %q, %v; want ErrNetwork", s, got, err)
		}
	}
}
