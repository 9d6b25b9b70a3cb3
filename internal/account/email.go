// Package account owns Warden's accounts: registration, email verification,
// passwords (through package password), password reset and change, the
// anti-phishing code, and the "this wasn't me" freeze. It decides; the store
// persists, the outbox delivers, the audit log remembers.
package account

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidEmail is returned for an address Warden will not send to.
var ErrInvalidEmail = errors.New("not a valid email address")

// NormalizeEmail trims an address and lower-cases its domain (domains are
// case-insensitive; local parts formally are not, so they keep their case).
// key is the fully lower-cased form that makes an address unique: no two
// accounts may differ only by case.
func NormalizeEmail(raw string) (email, key string, err error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return "", "", ErrInvalidEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' || r == '(' || r == ')' {
			return "", "", ErrInvalidEmail
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || at > 64 {
		return "", "", ErrInvalidEmail
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if !validDomain(domain) {
		return "", "", ErrInvalidEmail
	}
	email = local + "@" + domain
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", "", ErrInvalidEmail
	}
	return email, strings.ToLower(email), nil
}

// validDomain accepts host names with at least one dot and LDH labels (IDNs
// must come in their xn-- form), which is what mail can actually reach.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// LocalPart is the part of an address before the @.
func LocalPart(email string) string {
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		return email[:at]
	}
	return email
}
