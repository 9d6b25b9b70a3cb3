// Package id makes Warden's opaque identifiers: a short prefix that says what
// the id names (usr, ses, aud, …) and 128 random bits, so ids can be made on
// any node without coordination and reveal nothing about order or volume.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns prefix_ followed by 26 lower-case base32 characters.
func New(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + "_" + encoding.EncodeToString(b[:])
}

// Token returns a 256-bit random secret for tokens sent to users or clients.
func Token(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + encoding.EncodeToString(b[:])
}

// HasPrefix tells whether s looks like an id made by New(prefix).
func HasPrefix(s, prefix string) bool {
	return strings.HasPrefix(s, prefix+"_") && len(s) == len(prefix)+1+26
}
