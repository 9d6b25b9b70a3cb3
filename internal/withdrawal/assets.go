package withdrawal

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"

	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/money"
)

// Asset is a currency the platform pays out, with the networks it goes over.
type Asset struct {
	Code     string
	Decimals int
	Networks []address.Network
}

// Catalog is the configured assets.
type Catalog []Asset

// ErrUnknownAsset: an asset or network the platform does not pay out.
var ErrUnknownAsset = errors.New("unknown asset or network")

// Find returns the asset and one of its networks.
func (c Catalog) Find(asset, network string) (Asset, address.Network, error) {
	for _, a := range c {
		if a.Code != asset {
			continue
		}
		for _, n := range a.Networks {
			if n.Name == network {
				return a, n, nil
			}
		}
		return a, address.Network{}, fmt.Errorf("%w: %s is not paid out on %q", ErrUnknownAsset, asset, network)
	}
	return Asset{}, address.Network{}, fmt.Errorf("%w: %q", ErrUnknownAsset, asset)
}

// ErrPrice: a price that is not a positive decimal.
var ErrPrice = errors.New("invalid price")

// pricePattern is a plain decimal: no sign, exponent, separators or
// leading zeros; up to 18 decimals (a token can be worth a millionth of a cent).
var pricePattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,20})(\.[0-9]{1,18})?$`)

// ParsePrice reads a reference price, a positive decimal string.
func ParsePrice(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(s)
	if !pricePattern.MatchString(s) || !ok || r.Sign() <= 0 {
		return nil, fmt.Errorf("%w: want a positive decimal like 64000.50, got %q", ErrPrice, s)
	}
	return r, nil
}

// Value is what amount (in the asset's smallest unit) is worth at price
// (reference currency per whole unit), in the reference currency's smallest
// unit, rounded up: a limit is never beaten by rounding. Exact arithmetic,
// no floats.
func Value(amount *big.Int, assetDecimals int, price *big.Rat, refDecimals int) (int64, error) {
	v := new(big.Rat).SetInt(amount)
	v.Mul(v, price)
	v.Mul(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(refDecimals)), nil)))
	v.Quo(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(assetDecimals)), nil)))
	q, r := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: value too large", money.ErrAmount)
	}
	return q.Int64(), nil
}
