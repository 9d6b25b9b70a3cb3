// Package money reads and writes amounts as the API carries them: decimal
// strings ("0.015"), held as integers of the smallest unit so that no
// amount is ever a float.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// ErrAmount is an amount that is not a plain positive decimal with at most
// the allowed decimals.
var ErrAmount = errors.New("invalid amount")

// Parse reads a decimal string of at most decimals fraction digits into the
// smallest unit: Parse("12.5", 2) is 1250. It accepts digits with one
// optional point and nothing else: no sign, exponent, spaces or separators.
// Zero is allowed (callers that need a positive amount check > 0).
func Parse(s string, decimals int) (int64, error) {
	if decimals < 0 || decimals > 18 {
		return 0, fmt.Errorf("%w: %d decimals", ErrAmount, decimals)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case s == "" || whole == "" || (hasPoint && frac == ""):
		return 0, fmt.Errorf("%w: want digits like 12.50, got %q", ErrAmount, s)
	case len(frac) > decimals:
		return 0, fmt.Errorf("%w: at most %d decimals, got %q", ErrAmount, decimals, s)
	case len(whole) > 1 && whole[0] == '0':
		return 0, fmt.Errorf("%w: no leading zeros, got %q", ErrAmount, s)
	}
	var v int64
	for _, r := range whole + frac + strings.Repeat("0", decimals-len(frac)) {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%w: want digits like 12.50, got %q", ErrAmount, s)
		}
		if v > (math.MaxInt64-int64(r-'0'))/10 {
			return 0, fmt.Errorf("%w: too large, got %q", ErrAmount, s)
		}
		v = v*10 + int64(r-'0')
	}
	return v, nil
}

// Format writes an amount of the smallest unit as a decimal string with
// exactly decimals fraction digits: Format(1250, 2) is "12.50".
func Format(v int64, decimals int) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-v)
	}
	s := fmt.Sprintf("%0*d", decimals+1, u)
	if decimals == 0 {
		return sign + s
	}
	return sign + s[:len(s)-decimals] + "." + s[len(s)-decimals:]
}

// Currency is a currency amounts are kept in: its code and its decimals.
type Currency struct {
	Code     string
	Decimals int
}

// Format writes an amount of the currency's smallest unit with its code,
// as in "1000.00 USD".
func (c Currency) Format(v int64) string { return Format(v, c.Decimals) + " " + c.Code }

// Parse reads a decimal string in the currency.
func (c Currency) Parse(s string) (int64, error) { return Parse(s, c.Decimals) }

// ParseUnits is Parse for amounts that may not fit 64 bits: an asset with
// 18 decimals (ether in wei) passes 2^63 at about 9.2 whole units. It
// accepts the same strings as Parse, up to 30 whole digits.
func ParseUnits(s string, decimals int) (*big.Int, error) {
	if decimals < 0 || decimals > 30 {
		return nil, fmt.Errorf("%w: %d decimals", ErrAmount, decimals)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case s == "" || whole == "" || (hasPoint && frac == ""):
		return nil, fmt.Errorf("%w: want digits like 12.50, got %q", ErrAmount, s)
	case len(frac) > decimals:
		return nil, fmt.Errorf("%w: at most %d decimals, got %q", ErrAmount, decimals, s)
	case len(whole) > 1 && whole[0] == '0':
		return nil, fmt.Errorf("%w: no leading zeros, got %q", ErrAmount, s)
	case len(whole) > 30:
		return nil, fmt.Errorf("%w: too large, got %q", ErrAmount, s)
	}
	digits := whole + frac + strings.Repeat("0", decimals-len(frac))
	if strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return nil, fmt.Errorf("%w: want digits like 12.50, got %q", ErrAmount, s)
	}
	v, _ := new(big.Int).SetString(digits, 10)
	return v, nil
}

// FormatUnits is Format for amounts held in a big.Int.
func FormatUnits(v *big.Int, decimals int) string {
	sign, s := "", v.String()
	if v.Sign() < 0 {
		sign, s = "-", s[1:]
	}
	if len(s) <= decimals {
		s = strings.Repeat("0", decimals-len(s)+1) + s
	}
	if decimals == 0 {
		return sign + s
	}
	return sign + s[:len(s)-decimals] + "." + s[len(s)-decimals:]
}

// Plain drops the trailing zeros of a formatted amount, for people:
// "0.250000000000000000" is "0.25", "12.00" is "12".
func Plain(formatted string) string {
	if !strings.Contains(formatted, ".") {
		return formatted
	}
	return strings.TrimSuffix(strings.TrimRight(formatted, "0"), ".")
}
