package address

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// fuzzNetworks covers every Kind and memo mode; the fuzzer picks one by index.
var fuzzNetworks = []Network{
	btcMain,
	btcTest,
	evm,
	xrp,
	xlm,
	{Name: "tagged EVM", Kind: KindEVM, MemoRequired: true},
	{Name: "anything", Kind: KindPattern, Pattern: regexp.MustCompile(`.*`), MemoPattern: regexp.MustCompile(`.*`)},
}

// FuzzValidate checks that no input panics, that every error is a user
// error (ErrInvalid) for these well-formed networks, and that
// normalization is idempotent: a normalized result validates to itself.
func FuzzValidate(f *testing.F) {
	seeds := []struct {
		net        uint8
		addr, memo string
	}{
		{0, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", ""},
		{0, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ""},
		{0, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", ""},
		{0, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", ""},
		{0, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", ""},
		{0, "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", ""},
		{0, "BC1SW50QGDZ25J", ""},
		{0, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", ""},
		{0, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", ""},
		{0, "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", ""},
		{0, "bc1gmk9yu", ""},
		{0, "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", ""},
		{1, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", ""},
		{1, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", ""},
		{1, "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", ""},
		{2, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ""},
		{2, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", ""},
		{2, "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", ""},
		{2, "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb", ""},
		{2, "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb", ""},
		{2, "0x0000000000000000000000000000000000000000", ""},
		{3, xrpAddr, "12345"},
		{3, xrpAddr, ""},
		{4, xlmAddr, "invoice 42"},
		{5, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "memo"},
		{6, "anything at all", " x"},
	}
	for _, s := range seeds {
		f.Add(s.net, s.addr, s.memo)
	}
	f.Fuzz(func(t *testing.T, which uint8, addr, memo string) {
		n := fuzzNetworks[int(which)%len(fuzzNetworks)]
		got, err := Validate(n, addr, memo)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrNetwork) {
				t.Fatalf("%s %q %q: error %v is not a plain ErrInvalid", n.Name, addr, memo, err)
			}
			if got != (Normalized{}) {
				t.Fatalf("%s %q: result %+v alongside error", n.Name, addr, got)
			}
			return
		}
		again, err := Validate(n, got.Address, got.Memo)
		if err != nil || again != got {
			t.Fatalf("%s %q: normalized to %+v, which revalidates to %+v, %v", n.Name, addr, got, again, err)
		}
		if got.Memo != memo {
			t.Fatalf("%s: memo %q became %q", n.Name, memo, got.Memo)
		}
		// Normalization only ever changes letter case (and only where
		// case carries no meaning: Bech32 and EVM hex).
		if !strings.EqualFold(got.Address, addr) {
			t.Fatalf("%s: %q normalized to a different address %q", n.Name, addr, got.Address)
		}
		caseFree := got.Type == TypeEVM || strings.HasPrefix(got.Type, "p2w") || got.Type == TypeP2TR || got.Type == TypeWitnessUnknown
		if !caseFree && got.Address != addr {
			t.Fatalf("%s: case-sensitive %q changed to %q", n.Name, addr, got.Address)
		}
		if caseFree {
			// Any single-case spelling is the same destination.
			for _, variant := range []string{strings.ToLower(addr), strings.ToUpper(addr)} {
				if n.Kind == KindEVM {
					variant = "0x" + variant[2:]
				}
				v, err := Validate(n, variant, memo)
				if err != nil || v != got {
					t.Fatalf("%s: %q gives %+v, %v; want %+v", n.Name, variant, v, err, got)
				}
			}
		}
	})
}
