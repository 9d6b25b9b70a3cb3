package address

import (
	"strings"
	"testing"
)

var evm = Network{Name: "Ethereum", Kind: KindEVM}

// eip55Vectors are the test addresses listed in EIP-55, each already in
// checksummed form (the first two happen to be all uppercase, the next
// two all lowercase).
var eip55Vectors = []string{
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestEVMVectors(t *testing.T) {
	for _, want := range eip55Vectors {
		body := want[2:]
		// The checksummed form, and both single-case spellings, all
		// normalize to the checksummed form.
		for _, in := range []string{want, "0x" + strings.ToLower(body), "0x" + strings.ToUpper(body)} {
			got, err := Validate(evm, in, "")
			checkResult(t, got, err, want, TypeEVM, "")
		}
	}
}

// flipCase changes the case of the first hex letter at or after position
// i, wrapping around to the start of the hex digits.
func flipCase(s string, i int) string {
	b := []byte(s)
	for n := 0; n < len(b); n, i = n+1, i+1 {
		if i >= len(b) {
			i = 2
		}
		switch c := b[i]; {
		case c >= 'a' && c <= 'f':
			b[i] = c - 'a' + 'A'
			return string(b)
		case c >= 'A' && c <= 'F':
			b[i] = c - 'A' + 'a'
			return string(b)
		}
	}
	panic("no letter to flip in " + s)
}

func TestEVM(t *testing.T) {
	tests := []struct {
		name, addr, want, reason string
	}{
		{"vector", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ""},
		{"lowercase", "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", ""},
		{"uppercase", "0xDBF03B407C01E7CD3CBEA99509D93F8DDDC8C6FB", "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", ""},
		{"digits only", "0x1111111111111111111111111111111111111111", "0x1111111111111111111111111111111111111111", ""},
		{"zero address", "0x0000000000000000000000000000000000000000", "", "the zero address burns funds"},
		{"no prefix", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "", "must start with 0x"},
		{"upper X prefix", "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "", "must start with 0x"},
		{"too short", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "", "want 40 hex digits"},
		{"too long", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", "", "want 40 hex digits"},
		{"not hex", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "", "not a hex digit"},
		{"only prefix", "0x", "", "want 40 hex digits"},
		{"bitcoin on evm", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "", "must start with 0x"},
	}
	// One letter's case flipped in each EIP-55 vector that has mixed case.
	for _, v := range eip55Vectors[4:] {
		for _, at := range []int{2, 20, 41} {
			tests = append(tests, struct{ name, addr, want, reason string }{
				"flipped " + v, flipCase(v, at), "", "mixed-case address fails its EIP-55 checksum",
			})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(evm, tt.addr, "")
			typ := ""
			if tt.reason == "" {
				typ = TypeEVM
			}
			checkResult(t, got, err, tt.want, typ, tt.reason)
		})
	}
}
