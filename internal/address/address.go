// Package address checks withdrawal destinations before any money moves.
//
// A withdrawal sent to a mistyped address is lost for good, so this package
// refuses anything it cannot prove well formed for the network it is meant
// for: checksums are verified (Base58Check, Bech32/Bech32m, EIP-55), an
// address for another network (testnet on mainnet, say) is refused, and a
// memo is demanded where the receiving platform needs one to credit the
// right account. It does no I/O: it cannot tell whether an address exists
// or who controls it, only that it is not garbled.
package address

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalid is wrapped by every error about what the user typed (address
// or memo); the text after it is a reason fit to show them.
var ErrInvalid = errors.New("invalid address")

// ErrNetwork is wrapped by errors about the Network itself (an unknown
// Kind, a pattern network without a pattern). It is kept apart from
// ErrInvalid so a server misconfiguration is not reported to the user as
// their typo.
var ErrNetwork = errors.New("address: misconfigured network")

// Kind selects the validator for a network.
type Kind string

const (
	// KindBitcoin is Bitcoin mainnet: Base58Check P2PKH/P2SH and
	// Bech32/Bech32m segwit addresses with the "bc" prefix.
	KindBitcoin Kind = "bitcoin"
	// KindBitcoinTestnet is Bitcoin testnet (and signet, which shares its
	// address format): version bytes 0x6f/0xc4 and the "tb" prefix.
	KindBitcoinTestnet Kind = "bitcoin-testnet"
	// KindEVM is any Ethereum-style chain: 20 bytes as 0x-prefixed hex,
	// with the EIP-55 mixed-case checksum.
	KindEVM Kind = "evm"
	// KindPattern is a chain without a built-in validator: the address
	// must fully match Network.Pattern. This checks the shape only, not a
	// checksum, so prefer a built-in kind where one exists.
	KindPattern Kind = "pattern"
)

// kinds is the list ParseNetworkKind accepts, in the order its error names them.
var kinds = []Kind{KindBitcoin, KindBitcoinTestnet, KindEVM, KindPattern}

// ParseNetworkKind reads a Kind from configuration. It is exact (no case
// folding or trimming) so that a typo in config fails loudly at start-up.
func ParseNetworkKind(s string) (Kind, error) {
	for _, k := range kinds {
		if s == string(k) {
			return k, nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("%w: unknown kind %q (want one of %s)", ErrNetwork, s, strings.Join(names, ", "))
}

// Network describes where a withdrawal goes and how its destination is
// checked.
type Network struct {
	// Name is for humans (logs, config errors); it does not affect checks.
	Name string
	Kind Kind
	// Pattern is the address format for KindPattern and ignored otherwise.
	// It must match the whole address; it is anchored here if it is not.
	Pattern *regexp.Regexp
	// MemoRequired is for networks where the destination is a shared
	// deposit address (exchanges on XRP, Stellar, Cosmos...) and the memo
	// or tag says whose account to credit: without it funds are stranded.
	MemoRequired bool
	// MemoPattern, when set, is the memo format (anchored like Pattern).
	// On a network without MemoRequired it makes the memo optional;
	// without it a memo is refused, since the chain would drop it and the
	// user likely meant to send somewhere that needs one.
	MemoPattern *regexp.Regexp
}

// Normalized is a destination in the one form to store and compare: two
// spellings of the same address (letter case in Bech32 or EVM hex)
// normalize to the same string, so allow-lists and duplicate checks work.
// Validating a Normalized address again gives it back unchanged.
type Normalized struct {
	Address string
	Memo    string
	// Type is the address type, for policy and display: "p2pkh", "p2sh",
	// "p2wpkh", "p2wsh", "p2tr", "witness_unknown", "evm" or "pattern".
	// witness_unknown is a segwit version or size that no soft fork has
	// defined yet: BIP-350 says wallets should be able to send to it, so
	// it is valid here, but today anyone can spend such an output, so a
	// withdrawal policy will usually want to refuse it.
	Type string
}

// Type values of Normalized.
const (
	TypeP2PKH          = "p2pkh"
	TypeP2SH           = "p2sh"
	TypeP2WPKH         = "p2wpkh"
	TypeP2WSH          = "p2wsh"
	TypeP2TR           = "p2tr"
	TypeWitnessUnknown = "witness_unknown"
	TypeEVM            = "evm"
	TypePattern        = "pattern"
)

// Limits on what is read at all, so hostile input costs little: no real
// address or memo on any supported chain comes near them.
const (
	maxAddressLen = 128
	maxMemoLen    = 128
)

// Validate checks addr and memo for network n and returns them normalized.
// Errors wrap ErrInvalid for bad input and ErrNetwork for a bad Network.
// Input is taken as is: surrounding spaces are refused, not trimmed, since
// the caller should decide whether pasted whitespace is harmless.
func Validate(n Network, addr, memo string) (Normalized, error) {
	if err := checkText("address", addr, maxAddressLen, false); err != nil {
		return Normalized{}, err
	}
	var (
		out Normalized
		err error
	)
	switch n.Kind {
	case KindBitcoin:
		out, err = validateBitcoin(addr, false)
	case KindBitcoinTestnet:
		out, err = validateBitcoin(addr, true)
	case KindEVM:
		out, err = validateEVM(addr)
	case KindPattern:
		out, err = validatePattern(n, addr)
	default:
		err = fmt.Errorf("%w %q: unknown kind %q", ErrNetwork, n.Name, n.Kind)
	}
	if err != nil {
		return Normalized{}, err
	}
	if out.Memo, err = validateMemo(n, memo); err != nil {
		return Normalized{}, err
	}
	return out, nil
}

// invalid builds an ErrInvalid error with a reason for the user.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checkText enforces the limits shared by addresses and memos: bounded
// length and printable ASCII only. Non-ASCII is refused because lookalike
// Unicode letters are a known way to trick a user into trusting an address
// that is not the one they meant. Addresses never contain spaces; memos
// may (Stellar text memos do), but not at either end, where they are
// invisible and almost always a paste accident.
func checkText(what, s string, maxLen int, spaces bool) error {
	if s == "" {
		return invalid("%s is empty", what)
	}
	if len(s) > maxLen {
		return invalid("%s is longer than %d characters", what, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && !spaces:
			return invalid("%s contains a space", what)
		case c < ' ' || c > '~':
			return invalid("%s contains a character that is not printable ASCII", what)
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return invalid("%s starts or ends with a space", what)
	}
	return nil
}

// validatePattern checks addr against a configured pattern network.
func validatePattern(n Network, addr string) (Normalized, error) {
	if n.Pattern == nil {
		return Normalized{}, fmt.Errorf("%w %q: kind %q needs a pattern", ErrNetwork, n.Name, KindPattern)
	}
	ok, err := fullMatch(n.Pattern, addr)
	if err != nil {
		return Normalized{}, fmt.Errorf("%w %q: %v", ErrNetwork, n.Name, err)
	}
	if !ok {
		return Normalized{}, invalid("address is not in the format %s expects", networkName(n))
	}
	// No normalization: a pattern says nothing about which spellings are
	// equivalent, so the address is kept exactly as typed.
	return Normalized{Address: addr, Type: TypePattern}, nil
}

// validateMemo applies the network's memo rules; see Network.
func validateMemo(n Network, memo string) (string, error) {
	if memo == "" {
		if n.MemoRequired {
			return "", invalid("memo required: %s needs a memo or tag to credit the right account", networkName(n))
		}
		return "", nil
	}
	if !n.MemoRequired && n.MemoPattern == nil {
		return "", invalid("this network takes no memo")
	}
	if err := checkText("memo", memo, maxMemoLen, true); err != nil {
		return "", err
	}
	if n.MemoPattern != nil {
		ok, err := fullMatch(n.MemoPattern, memo)
		if err != nil {
			return "", fmt.Errorf("%w %q: memo pattern: %v", ErrNetwork, n.Name, err)
		}
		if !ok {
			return "", invalid("memo is not in the format %s expects", networkName(n))
		}
	}
	return memo, nil
}

// fullMatch reports whether re matches all of s. MatchString alone would
// accept a pattern like `r[0-9a-z]+` matching inside "evil r123 stuff", and
// comparing FindStringIndex to the whole string is wrong too (leftmost-first
// `a|ab` finds "a" in "ab"), so the pattern is recompiled wrapped in
// ^(?:...)$. That costs microseconds per call, which is nothing next to a
// withdrawal, and keeps this package free of caches.
func fullMatch(re *regexp.Regexp, s string) (bool, error) {
	anchored, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	if err != nil {
		return false, err
	}
	return anchored.MatchString(s), nil
}

// networkName is what errors call the network.
func networkName(n Network) string {
	if n.Name != "" {
		return n.Name
	}
	return "this network"
}
