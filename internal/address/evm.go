package address

import (
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/sha3"
)

// validateEVM checks a 0x-prefixed 20-byte hex address. EIP-55 hides a
// checksum in the letter case, so all-lowercase or all-uppercase input
// carries none and is accepted as is (wallets and explorers still print
// it that way), while mixed case must be exactly right: a single wrong
// case is a typo the checksum caught.
func validateEVM(addr string) (Normalized, error) {
	if len(addr) < 2 || addr[:2] != "0x" {
		return Normalized{}, invalid("must start with 0x")
	}
	body := addr[2:]
	if len(body) != 40 {
		return Normalized{}, invalid("want 40 hex digits after 0x, got %d", len(body))
	}
	raw, err := hex.DecodeString(body)
	if err != nil {
		return Normalized{}, invalid("contains a character that is not a hex digit")
	}
	// Nobody holds the key to the zero address; tokens and coins sent
	// there are gone, and it is the default value of an unset field.
	if strings.Trim(body, "0") == "" {
		return Normalized{}, invalid("the zero address burns funds")
	}
	sum := eip55(raw)
	if body != strings.ToLower(body) && body != strings.ToUpper(body) && addr != sum {
		return Normalized{}, invalid("mixed-case address fails its EIP-55 checksum")
	}
	return Normalized{Address: sum, Type: TypeEVM}, nil
}

// eip55 writes a 20-byte address in EIP-55 form: the hex letter at
// position i is uppercase when nibble i of Keccak-256(lowercase hex) is
// 8 or more. It is the legacy Keccak, not the later SHA3-256 standard.
func eip55(raw []byte) string {
	lower := hex.EncodeToString(raw)
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	hash := h.Sum(nil)
	out := []byte("0x" + lower)
	for i := 0; i < len(lower); i++ {
		nibble := hash[i/2] >> 4
		if i%2 == 1 {
			nibble = hash[i/2] & 0x0f
		}
		if c := lower[i]; c >= 'a' && nibble >= 8 {
			out[2+i] = c - 'a' + 'A'
		}
	}
	return string(out)
}
