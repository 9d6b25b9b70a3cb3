package address

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var (
	btcMain = Network{Name: "Bitcoin", Kind: KindBitcoin}
	btcTest = Network{Name: "Bitcoin testnet", Kind: KindBitcoinTestnet}
)

// checkResult asserts a Validate outcome: with reason empty it must
// succeed with the given address and type, otherwise fail with ErrInvalid
// and an error containing reason.
func checkResult(t *testing.T, got Normalized, err error, wantAddr, wantType, reason string) {
	t.Helper()
	if reason != "" {
		if err == nil {
			t.Fatalf("got %+v, want error containing %q", got, reason)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		if !strings.Contains(err.Error(), reason) {
			t.Fatalf("error %q does not contain %q", err, reason)
		}
		if got != (Normalized{}) {
			t.Fatalf("got %+v alongside an error", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got.Address != wantAddr || got.Type != wantType {
		t.Fatalf("got %q (%s), want %q (%s)", got.Address, got.Type, wantAddr, wantType)
	}
}

func TestBitcoin(t *testing.T) {
	tests := []struct {
		name   string
		net    Network
		addr   string
		want   string // normalized address, when valid
		typ    string
		reason string // error substring, when invalid
	}{
		// Base58Check, well-known addresses (genesis coinbase, BIP-13 example).
		{"genesis p2pkh", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", TypeP2PKH, ""},
		{"bip13 p2sh", btcMain, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", TypeP2SH, ""},
		// Bitcoin Core src/test/data/key_io_valid.json.
		{"core p2pkh", btcMain, "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", TypeP2PKH, ""},
		{"core p2sh", btcMain, "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", TypeP2SH, ""},
		{"core testnet p2pkh m", btcTest, "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", TypeP2PKH, ""},
		{"core testnet p2pkh n", btcTest, "n4YNbYuFdPwFrxSP8sjHFbAhUbLMUiY9jE", "n4YNbYuFdPwFrxSP8sjHFbAhUbLMUiY9jE", TypeP2PKH, ""},
		{"core testnet p2sh", btcTest, "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", TypeP2SH, ""},

		{"p2pkh last char changed", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "", "", "checksum does not match"},
		{"p2pkh middle char changed", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DjvfNa", "", "", "checksum does not match"},
		{"p2sh char changed", btcMain, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz", "", "", "checksum does not match"},
		{"base58 case changed", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNA", "", "", "checksum does not match"},
		{"testnet m on mainnet", btcMain, "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", "", "", "this is a testnet address"},
		{"testnet n on mainnet", btcMain, "n4YNbYuFdPwFrxSP8sjHFbAhUbLMUiY9jE", "", "", "this is a testnet address"},
		{"testnet 2 on mainnet", btcMain, "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "", "", "this is a testnet address"},
		{"mainnet on testnet", btcTest, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "", "", "this is a mainnet address"},
		{"wif private key", btcMain, "5JuW2AMDYu4xVwRG9DZW18VbzQrGcd5RCgb99sS6ehJsNQXu5b9", "", "", "too long"},
		{"base58 bad char", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "", "", "cannot appear"},
		{"base58 short", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7Div", "", "", "wrong length"},
		{"base58 all ones", btcMain, "1111111111111111111111111", "", "", "checksum does not match"},
		{"base58 one", btcMain, "1", "", "", "wrong length"},

		// BIP-173 valid addresses (witness v0).
		{"bip173 p2wpkh upper", btcMain, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", TypeP2WPKH, ""},
		{"bip173 p2wsh testnet", btcTest, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", TypeP2WSH, ""},
		{"bip173 p2wsh testnet 2", btcTest, "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", TypeP2WSH, ""},
		// BIP-350 valid addresses (witness v1+ in Bech32m).
		{"bip350 p2tr", btcMain, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", TypeP2TR, ""},
		{"bip350 p2tr testnet", btcTest, "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", TypeP2TR, ""},
		{"bip350 v1 40 bytes", btcMain, "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", TypeWitnessUnknown, ""},
		{"bip350 v16 2 bytes", btcMain, "BC1SW50QGDZ25J", "bc1sw50qgdz25j", TypeWitnessUnknown, ""},
		{"bip350 v2 16 bytes", btcMain, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", TypeWitnessUnknown, ""},
		// Bitcoin Core key_io_valid.json segwit addresses.
		{"core p2wpkh", btcMain, "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", TypeP2WPKH, ""},
		{"core p2tr upper", btcMain, "BC1P83N3AU0RJYLEFXQ2NC2XH2Y4JZZ4PM6ZXJ4MW5PAGDJJR2A9F36S6JJNNU", "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu", TypeP2TR, ""},
		{"core v2 testnet", btcTest, "tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa", "tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa", TypeWitnessUnknown, ""},

		// BIP-173 invalid addresses.
		{"bip173 invalid hrp", btcMain, "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "", "", ""},
		{"bip173 bad checksum", btcMain, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "", "", "checksum does not match"},
		{"bip173 witness version 17", btcMain, "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "", "", ""},
		{"bip173 program 1 byte", btcMain, "bc1rw5uspcuh", "", "", ""},
		{"bip173 program 41 bytes", btcMain, "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", "", "", ""},
		{"bip173 v0 16 bytes", btcMain, "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "", "", "want 20 or 32"},
		{"bip173 mixed case", btcTest, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "", "", "mixed-case"},
		{"bip173 padding over 4 bits", btcMain, "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "", "", ""},
		{"bip173 non-zero padding", btcTest, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "", "", ""},
		{"bip173 empty data", btcMain, "bc1gmk9yu", "", "", ""},
		// BIP-173's own v1+ examples used Bech32; BIP-350 made them invalid.
		{"bip173 v1 in bech32", btcMain, "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx", "", "", "must use the Bech32m checksum"},
		{"bip173 v16 in bech32", btcMain, "BC1SW50QA3JX3S", "", "", "must use the Bech32m checksum"},
		{"bip173 v2 in bech32", btcMain, "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", "", "", "must use the Bech32m checksum"},

		// BIP-350 invalid addresses.
		{"bip350 invalid hrp", btcMain, "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "", "", ""},
		{"bip350 v1 in bech32", btcMain, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "", "", "must use the Bech32m checksum"},
		{"bip350 v2 in bech32 testnet", btcTest, "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "", "", "must use the Bech32m checksum"},
		{"bip350 v16 in bech32", btcMain, "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "", "", "must use the Bech32m checksum"},
		{"bip350 v0 in bech32m", btcMain, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "", "", "must use the Bech32 checksum"},
		{"bip350 v0 in bech32m testnet", btcTest, "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "", "", "must use the Bech32 checksum"},
		{"bip350 bad checksum char", btcMain, "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "", "", "cannot appear"},
		{"bip350 witness version 17", btcMain, "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "", "", "witness version 17"},
		{"bip350 program 1 byte", btcMain, "bc1pw5dgrnzv", "", "", "want 2 to 40"},
		{"bip350 program 41 bytes", btcMain, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "", "", "want 2 to 40"},
		{"bip350 v0 16 bytes", btcMain, "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "", "", "want 20 or 32"},
		{"bip350 mixed case", btcTest, "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "", "", "mixed-case"},
		{"bip350 padding over 4 bits", btcMain, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "", "", "more than 4 bits of padding"},
		{"bip350 non-zero padding", btcTest, "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "", "", "non-zero padding"},
		{"bip350 empty data", btcMain, "bc1gmk9yu", "", "", "no witness version"},

		// Network mix-ups and other segwit failures.
		{"testnet segwit on mainnet", btcMain, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "", "", "this is a testnet address"},
		{"mainnet segwit on testnet", btcTest, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "", "", "this is a mainnet address"},
		{"regtest", btcMain, "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", "", "", "regtest"},
		{"segwit one char changed", btcMain, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"[:20] + "x" + "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"[21:], "", "", "checksum does not match"},
		{"segwit over 90 chars", btcMain, "bc1" + strings.Repeat("q", 88), "", "", "longer than 90"},
		{"empty", btcMain, "", "", "", "address is empty"},
		{"surrounding space", btcMain, " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "", "", "contains a space"},
		{"trailing newline", btcMain, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n", "", "", "not printable ASCII"},
		{"evm on bitcoin", btcMain, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "", "", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(tt.net, tt.addr, "")
			reason := tt.reason
			if reason == "" && tt.want == "" {
				reason = ErrInvalid.Error() // invalid, any reason
			}
			checkResult(t, got, err, tt.want, tt.typ, reason)
		})
	}
}

// TestSegwitProgram checks the decoded witness programs against the
// scriptPubKeys that BIP-173/BIP-350 list for their valid addresses.
func TestSegwitProgram(t *testing.T) {
	tests := []struct{ addr, script string }{
		{"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
		{"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"BC1SW50QGDZ25J", "6002751e"},
		{"bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"},
		{"tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
		{"tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
		{"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			_, data, _, err := bech32Decode(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			program, err := convertBits5to8(data[1:])
			if err != nil {
				t.Fatal(err)
			}
			// scriptPubKey: OP_0 or OP_1..OP_16 (0x51..0x60), push length, program.
			op := byte(0)
			if data[0] > 0 {
				op = 0x50 + data[0]
			}
			got := hex.EncodeToString(append([]byte{op, byte(len(program))}, program...))
			if got != tt.script {
				t.Fatalf("script %s, want %s", got, tt.script)
			}
		})
	}
}

// TestBech32Checksum runs the encoding-level vectors of BIP-173 and
// BIP-350 through bech32Decode directly (their HRPs are not Bitcoin's).
func TestBech32Checksum(t *testing.T) {
	valid := []struct {
		s   string
		enc encoding
	}{
		{"A12UEL5L", encBech32},
		{"a12uel5l", encBech32},
		{"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs", encBech32},
		{"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", encBech32},
		{"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j", encBech32},
		{"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", encBech32},
		{"?1ezyfcl", encBech32},
		{"A1LQFN3A", encBech32m},
		{"a1lqfn3a", encBech32m},
		{"an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6", encBech32m},
		{"abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", encBech32m},
		{"11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8", encBech32m},
		{"split1checkupstagehandshakeupstreamerranterredcaperredlc445v", encBech32m},
		{"?1v759aa", encBech32m},
	}
	for _, tt := range valid {
		_, _, enc, err := bech32Decode(tt.s)
		if err != nil || enc != tt.enc {
			t.Errorf("%q: encoding %d, err %v; want encoding %d", tt.s, enc, err, tt.enc)
		}
		// As in the reference tests: flip one bit of the first data
		// character and the checksum must fail.
		sep := strings.LastIndexByte(tt.s, '1')
		broken := tt.s[:sep+1] + string(tt.s[sep+1]^1) + tt.s[sep+2:]
		if _, _, _, err := bech32Decode(broken); err == nil {
			t.Errorf("%q: accepted", broken)
		}
	}
	invalid := []string{
		// BIP-173.
		" 1nwldj5", "\x7f1axkwrx", "\x801eym55h",
		"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		"pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff",
		"A1G7SGD8", "10a06t8", "1qzzfhee",
		// BIP-350.
		" 1xj0phk", "\x7f1g6xzxy", "\x801vctc34",
		"an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
		"qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0", "in1muywd", "mm1crxm3i",
		"au1s5cgom", "M1VUXWEZ", "16plkw9", "1p2gdwpf",
	}
	for _, s := range invalid {
		if _, _, enc, err := bech32Decode(s); err == nil {
			t.Errorf("%q: accepted as encoding %d", s, enc)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v does not wrap ErrInvalid", s, err)
		}
	}
}

func TestBase58Decode(t *testing.T) {
	tests := []struct{ in, hex string }{
		{"", ""},
		{"1", "00"},
		{"11", "0000"},
		{"2", "01"},
		{"z", "39"},
		{"21", "3a"},
		{"5Q", "ff"},
		{"LUv", "ffff"},
		{"1112", "00000001"},
		// Genesis address: version 0, hash160, checksum.
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "0062e907b15cbf27d5425399ebf6f0fb50ebb88f18c29b7d93"},
	}
	for _, tt := range tests {
		got, err := base58Decode(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if hex.EncodeToString(got) != tt.hex {
			t.Errorf("%q: got %x, want %s", tt.in, got, tt.hex)
		}
	}
}
