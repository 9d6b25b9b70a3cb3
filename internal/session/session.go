// Package session owns login sessions: their tokens (256-bit random, stored
// only as SHA-256), their idle and absolute timeouts, their assurance level,
// and the introspection platforms call on every request.
package session

import (
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
)

// Authenticator assurance levels (NIST SP 800-63B).
const (
	AAL1 = "aal1" // password only
	AAL2 = "aal2" // password and a second factor
)

// TokenPrefix starts every session token, so a leaked one is recognisable.
const TokenPrefix = "wss_"

// Policy bounds a session's life.
type Policy struct {
	// IdleTimeout ends a session unused for this long.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after login, however active.
	Lifetime time.Duration
}

// touchEvery is how stale LastSeenAt may grow before a use records itself:
// recording every use would turn each read into a write, and a minute is
// fine-grained enough for idle timeouts measured in tens of minutes.
const touchEvery = time.Minute

// Session is one login.
type Session struct {
	ID           string    `json:"id"`
	AccountID    string    `json:"-"`
	Realm        string    `json:"-"`
	AAL          string    `json:"aal"`
	DeviceID     string    `json:"device_id,omitempty"`
	IP           string    `json:"ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	RevokedAt    time.Time `json:"-"`
	RevokeReason string    `json:"-"`
	TokenHash    string    `json:"-"`
	// MFAAt is when a second factor was last proven in this session (at
	// login or by a step-up): sensitive actions want it recent.
	MFAAt time.Time `json:"-"`
}

// New starts a session; token is given to the client once, and only its hash is kept.
func New(a account.Account, aal, deviceID, ip, userAgent string, now time.Time, p Policy) (token string, s Session) {
	token = id.Token(TokenPrefix)
	now = now.UTC().Truncate(time.Microsecond)
	return token, Session{
		ID: id.New("ses"), AccountID: a.ID, Realm: a.Realm, AAL: aal, DeviceID: deviceID,
		IP: ip, UserAgent: truncateRunes(userAgent, 300),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(p.Lifetime),
		TokenHash: account.HashToken(token),
	}
}

// Active tells whether the session may still be used at now.
func (s Session) Active(now time.Time, p Policy) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Sub(s.LastSeenAt) < p.IdleTimeout
}

// IdleExpiry is when the session ends if it is not used again.
func (s Session) IdleExpiry(p Policy) time.Time {
	if idle := s.LastSeenAt.Add(p.IdleTimeout); idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// NeedsTouch tells whether a use at now should be recorded.
func (s Session) NeedsTouch(now time.Time) bool { return now.Sub(s.LastSeenAt) >= touchEvery }

// LooksLikeToken tells whether s has the shape of a session token, before any lookup.
func LooksLikeToken(s string) bool {
	return len(s) == len(TokenPrefix)+52 && s[:len(TokenPrefix)] == TokenPrefix
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
