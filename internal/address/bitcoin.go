package address

import (
	"bytes"
	"crypto/sha256"
	"strings"
)

// bitcoinParams are what tell mainnet and testnet addresses apart.
type bitcoinParams struct {
	name       string // for errors: "mainnet" or "testnet"
	hrp        string // Bech32 human-readable part
	p2pkh      byte   // Base58Check version bytes
	p2sh       byte
	otherName  string // the other network, to say what the user pasted
	otherHRP   string
	otherP2PKH byte
	otherP2SH  byte
}

var (
	bitcoinMainnet = bitcoinParams{
		name: "mainnet", hrp: "bc", p2pkh: 0x00, p2sh: 0x05,
		otherName: "testnet", otherHRP: "tb", otherP2PKH: 0x6f, otherP2SH: 0xc4,
	}
	bitcoinTestnet = bitcoinParams{
		name: "testnet", hrp: "tb", p2pkh: 0x6f, p2sh: 0xc4,
		otherName: "mainnet", otherHRP: "bc", otherP2PKH: 0x00, otherP2SH: 0x05,
	}
)

// validateBitcoin accepts Base58Check (legacy P2PKH/P2SH) and segwit
// (Bech32/Bech32m) addresses for mainnet or testnet.
func validateBitcoin(addr string, testnet bool) (Normalized, error) {
	p := bitcoinMainnet
	if testnet {
		p = bitcoinTestnet
	}
	// A segwit address is "<hrp>1<data>"; Base58 addresses start with
	// 1, 3, m, n or 2 and so can never begin with one of these prefixes.
	for _, prefix := range []string{"bc1", "tb1", "bcrt1"} {
		if len(addr) >= len(prefix) && strings.EqualFold(addr[:len(prefix)], prefix) {
			return validateSegwit(addr, p)
		}
	}
	return validateBase58(addr, p)
}

// validateSegwit checks a BIP-173/BIP-350 segwit address.
func validateSegwit(addr string, p bitcoinParams) (Normalized, error) {
	hrp, data, enc, err := bech32Decode(addr)
	if err != nil {
		return Normalized{}, err
	}
	// The network is checked after the checksum so that a garbled
	// address is reported as garbled, not as belonging elsewhere.
	switch hrp {
	case p.hrp:
	case p.otherHRP:
		return Normalized{}, invalid("this is a %s address", p.otherName)
	case "bcrt":
		return Normalized{}, invalid("this is a regtest address")
	default:
		return Normalized{}, invalid("unknown prefix %q", hrp)
	}
	if len(data) == 0 {
		return Normalized{}, invalid("no witness version")
	}
	version := data[0]
	if version > 16 {
		return Normalized{}, invalid("witness version %d does not exist", version)
	}
	// BIP-350: version 0 keeps Bech32, every later version uses Bech32m.
	// Mixing them up is what the new constant exists to catch (a v1
	// address whose checksum also passes under the old rules).
	switch {
	case version == 0 && enc != encBech32:
		return Normalized{}, invalid("witness version 0 must use the Bech32 checksum, not Bech32m")
	case version > 0 && enc != encBech32m:
		return Normalized{}, invalid("witness version %d must use the Bech32m checksum, not Bech32", version)
	}
	program, err := convertBits5to8(data[1:])
	if err != nil {
		return Normalized{}, err
	}
	if len(program) < 2 || len(program) > 40 {
		return Normalized{}, invalid("witness program is %d bytes, want 2 to 40", len(program))
	}
	typ := TypeWitnessUnknown
	switch {
	case version == 0 && len(program) == 20:
		typ = TypeP2WPKH
	case version == 0 && len(program) == 32:
		typ = TypeP2WSH
	case version == 0:
		return Normalized{}, invalid("witness version 0 program is %d bytes, want 20 or 32", len(program))
	case version == 1 && len(program) == 32:
		typ = TypeP2TR
	}
	// Lowercase is the canonical form (BIP-173 says to write it so, and
	// uppercase is only for QR codes).
	return Normalized{Address: strings.ToLower(addr), Type: typ}, nil
}

// validateBase58 checks a legacy Base58Check address: one version byte,
// a 20-byte hash and a 4-byte double-SHA-256 checksum.
func validateBase58(addr string, p bitcoinParams) (Normalized, error) {
	// 25 bytes encode to at most 35 characters (34 in practice); the
	// bound also keeps the quadratic decode cheap for hostile input.
	if len(addr) > 35 {
		return Normalized{}, invalid("too long for a Bitcoin address")
	}
	raw, err := base58Decode(addr)
	if err != nil {
		return Normalized{}, err
	}
	if len(raw) != 25 {
		return Normalized{}, invalid("wrong length for a Bitcoin address")
	}
	payload, sum := raw[:21], raw[21:]
	first := sha256.Sum256(payload)
	second := sha256.Sum256(first[:])
	if !bytes.Equal(second[:4], sum) {
		return Normalized{}, invalid("checksum does not match")
	}
	switch payload[0] {
	case p.p2pkh:
		return Normalized{Address: addr, Type: TypeP2PKH}, nil
	case p.p2sh:
		return Normalized{Address: addr, Type: TypeP2SH}, nil
	case p.otherP2PKH, p.otherP2SH:
		return Normalized{}, invalid("this is a %s address", p.otherName)
	default:
		// Private keys (WIF) and other coins' addresses land here.
		return Normalized{}, invalid("not a Bitcoin %s address (version byte 0x%02x)", p.name, payload[0])
	}
}

// base58Alphabet is Bitcoin's: no 0, O, I or l, which look alike.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Decode turns Base58 text into bytes. Each leading '1' stands for
// a leading zero byte; the rest is a big-endian base-58 number, built up
// digit by digit in a byte slice (out = out*58 + digit).
func base58Decode(s string) ([]byte, error) {
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	var num []byte // big-endian, no leading zeros
	for i := zeros; i < len(s); i++ {
		digit := strings.IndexByte(base58Alphabet, s[i])
		if digit < 0 {
			return nil, invalid("character %q cannot appear in a Bitcoin address", s[i])
		}
		carry := digit
		for j := len(num) - 1; j >= 0; j-- {
			carry += int(num[j]) * 58
			num[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			num = append([]byte{byte(carry)}, num...)
			carry >>= 8
		}
	}
	return append(make([]byte, zeros), num...), nil
}

// Bech32 (BIP-173) and Bech32m (BIP-350) differ only in the constant the
// checksum must leave behind.
type encoding int

const (
	encBech32 encoding = iota + 1
	encBech32m
)

const (
	bech32Const  = 1
	bech32mConst = 0x2bc830a3
	bech32MaxLen = 90
)

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Polymod is the BCH checksum from BIP-173: the remainder of the
// values as a polynomial over GF(32) modulo a fixed generator.
func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range gen {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// bech32HRPExpand feeds the human-readable part into the checksum: high
// bits, a zero separator, then low bits of each character.
func bech32HRPExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

// bech32Decode splits a Bech32 or Bech32m string into its lowercase HRP
// and 5-bit data values (checksum removed), and says which checksum it
// carries.
func bech32Decode(s string) (hrp string, data []byte, enc encoding, err error) {
	if len(s) > bech32MaxLen {
		return "", nil, 0, invalid("longer than %d characters", bech32MaxLen)
	}
	lower, upper := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 33 || c > 126:
			return "", nil, 0, invalid("contains a character that is not printable ASCII")
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	// Either case is valid, but never both: a mixed-case string is a sign
	// of hand editing, and BIP-173 requires refusing it.
	if lower && upper {
		return "", nil, 0, invalid("mixed-case address (use all lowercase or all uppercase)")
	}
	s = strings.ToLower(s)
	sep := strings.LastIndexByte(s, '1')
	switch {
	case sep < 1:
		return "", nil, 0, invalid("missing the prefix before the separator '1'")
	case len(s)-sep-1 < 6:
		return "", nil, 0, invalid("too short to hold a checksum")
	}
	hrp = s[:sep]
	data = make([]byte, 0, len(s)-sep-1)
	for i := sep + 1; i < len(s); i++ {
		v := strings.IndexByte(bech32Charset, s[i])
		if v < 0 {
			return "", nil, 0, invalid("character %q cannot appear in this address", s[i])
		}
		data = append(data, byte(v))
	}
	switch bech32Polymod(append(bech32HRPExpand(hrp), data...)) {
	case bech32Const:
		enc = encBech32
	case bech32mConst:
		enc = encBech32m
	default:
		return "", nil, 0, invalid("checksum does not match")
	}
	return hrp, data[:len(data)-6], enc, nil
}

// convertBits5to8 regroups 5-bit values into bytes. The leftover bits
// must be fewer than 5 and all zero (BIP-173): anything else means the
// string was not produced by a correct encoder.
func convertBits5to8(data []byte) ([]byte, error) {
	var (
		acc  uint32
		bits uint
		out  = make([]byte, 0, len(data)*5/8)
	)
	for _, v := range data {
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= 5 {
		return nil, invalid("more than 4 bits of padding")
	}
	if acc != 0 {
		return nil, invalid("non-zero padding")
	}
	return out, nil
}
