package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
)

// ErrNoSession means the token names no active session: unknown, revoked,
// idle too long or past its lifetime. Which one is not told.
var ErrNoSession = errors.New("no active session")

// Device is a browser or app as far as sessions know it (package device,
// later, adds trust and risk signals).
type Device struct {
	ID          string
	AccountID   string
	TokenHash   string
	UserAgent   string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	LastIP      string
	// LastPlace is where LastIP was, as GeoIP described it ("Berlin, Germany").
	LastPlace string
	// TrustedAt is when a login from the device first passed every check.
	TrustedAt time.Time
}

// Trusted tells whether a login from the device passed every check before.
func (d Device) Trusted() bool { return !d.TrustedAt.IsZero() }

// Summary names the device for people ("Chrome on Linux").
func (d Device) Summary() string { return DescribeAgent(d.UserAgent) }

// Tx is what the service needs from one transaction; the store implements it.
type Tx interface {
	InsertSession(ctx context.Context, s Session) error
	SessionsOf(ctx context.Context, accountID string, now time.Time) ([]Session, error)
	RevokeSessions(ctx context.Context, accountID, id, keepID, reason string, now time.Time) ([]string, error)
	DeviceByTokenHash(ctx context.Context, accountID, hash string) (Device, error)
	InsertDevice(ctx context.Context, d Device) error
	SeeDevice(ctx context.Context, d Device) error
	DevicesOf(ctx context.Context, accountID string) ([]Device, error)
	// ForgetDevice marks a device forgotten (its token stops naming it) and
	// returns it; ErrNotFound-like when the account has no such device.
	ForgetDevice(ctx context.Context, accountID, id string, now time.Time) (Device, error)
	RevokeDeviceSessions(ctx context.Context, accountID, deviceID, reason string, now time.Time) ([]string, error)
	audit.AppendTx
}

// Lookup finds sessions for Resolve; the store implements it.
type Lookup interface {
	// ActiveSession returns the session with this token hash and its account,
	// or an error that has NotFound() true.
	SessionAndAccount(ctx context.Context, tokenHash string) (Session, account.Account, error)
	TouchSession(ctx context.Context, id string, now time.Time) error
}

// Service starts, resolves and ends sessions.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	Lookup   Lookup
	Policy   Policy
	Now      func() time.Time
	// Cache, if set, keeps resolved sessions briefly; revocations evict them.
	Cache *Cache
	// Revoked is told the token hashes of sessions ended, after commit, so
	// that every node's cache drops them (see Cache and the PostgreSQL notifier).
	Revoked func(tokenHashes []string)
	// Observe, if set, sees each session started, in its transaction
	// (monitoring turns it into a login_succeeded event).
	Observe func(ctx context.Context, tx Tx, a account.Account, action string, now time.Time, data map[string]any) error
}

// Meta describes the request that starts or ends a session.
type Meta struct {
	IP          string
	UserAgent   string
	RequestID   string
	DeviceToken string // from the X-Warden-Device header or the warden_device cookie
	// Place is where IP is, as GeoIP described it; kept on the device.
	Place string
	// TrustDevice: the login passed every check its risk decision asked
	// for, so the device becomes trusted.
	TrustDevice bool
	// Reasons are the login's risk reasons, kept in the audit record.
	Reasons []string
	// MFAAt is when the login's second factor was proven, if before now.
	MFAAt time.Time
}

// Started is a new session and what the client must keep.
type Started struct {
	Session Session
	Token   string
	// DeviceToken is set when this login issued the device its token: the
	// client keeps it and sends it with every later login.
	DeviceToken string
	Device      Device
}

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// Start opens a session for an account whose credentials were proven, in
// one transaction with its device and audit record.
func (s *Service) Start(ctx context.Context, a account.Account, aal string, m Meta) (Started, error) {
	return s.StartWith(ctx, a, aal, m, nil)
}

// StartWith is Start that also runs also, if set, in the session's
// transaction once the session and its device are known: the login records
// its outcome there, so a login commits once.
func (s *Service) StartWith(ctx context.Context, a account.Account, aal string, m Meta, also func(tx Tx, st Started) error) (Started, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	var out Started
	err := s.Transact(ctx, func(tx Tx) error {
		dev, err := s.device(ctx, tx, a, m, now, &out.DeviceToken)
		if err != nil {
			return err
		}
		out.Device = dev
		out.Token, out.Session = New(a, aal, dev.ID, m.IP, m.UserAgent, now, s.Policy)
		if aal == AAL2 {
			// The login's second factor counts for the step-up window, from
			// when it was proven.
			out.Session.MFAAt = now
			if !m.MFAAt.IsZero() && m.MFAAt.Before(now) {
				out.Session.MFAAt = m.MFAAt.UTC().Truncate(time.Microsecond)
			}
		}
		if err := tx.InsertSession(ctx, out.Session); err != nil {
			return err
		}
		data := map[string]any{"session_id": out.Session.ID, "aal": aal, "device_id": dev.ID, "user_agent": out.Session.UserAgent, "realm": a.Realm,
			"new_device": out.DeviceToken != "", "reasons": m.Reasons, "place": m.Place}
		if _, err = audit.Append(ctx, tx, now, audit.Entry{
			Actor: a.Actor(), Action: "session.created", UserID: a.ID, IP: m.IP, RequestID: m.RequestID, Data: data,
		}); err != nil {
			return err
		}
		if s.Observe != nil {
			if err := s.Observe(ctx, tx, a, "session.created", now, data); err != nil {
				return err
			}
		}
		if also != nil {
			return also(tx, out)
		}
		return nil
	})
	if err != nil {
		return Started{}, fmt.Errorf("start session: %w", err)
	}
	return out, nil
}

// device finds the account's device named by the client's token, or
// registers a new one and sets newToken.
func (s *Service) device(ctx context.Context, tx Tx, a account.Account, m Meta, now time.Time, newToken *string) (Device, error) {
	if m.DeviceToken != "" {
		d, err := tx.DeviceByTokenHash(ctx, a.ID, account.HashToken(m.DeviceToken))
		if err == nil {
			d.LastSeenAt, d.LastIP, d.UserAgent, d.LastPlace = now, m.IP, truncateRunes(m.UserAgent, 300), m.Place
			if m.TrustDevice && !d.Trusted() {
				d.TrustedAt = now
			}
			return d, tx.SeeDevice(ctx, d)
		}
		if !isNotFound(err) {
			return Device{}, err
		}
	}
	*newToken = id.Token("wdv_")
	d := Device{
		ID: id.New("dev"), AccountID: a.ID, TokenHash: account.HashToken(*newToken),
		UserAgent: truncateRunes(m.UserAgent, 300), FirstSeenAt: now, LastSeenAt: now, LastIP: m.IP, LastPlace: m.Place,
	}
	if m.TrustDevice {
		d.TrustedAt = now
	}
	return d, tx.InsertDevice(ctx, d)
}

// Resolve returns the active session a token names and its account. It is
// the hot path: it answers from the cache when it can (keyed by the token's
// SHA-256, so a hit costs one hash and no allocation), and records use at
// most once a minute.
func (s *Service) Resolve(ctx context.Context, token string) (Session, account.Account, error) {
	if !LooksLikeToken(token) {
		return Session{}, account.Account{}, ErrNoSession
	}
	key := KeyOf(token)
	now := s.Now()
	if s.Cache != nil {
		if sess, acct, ok := s.Cache.Get(key, now); ok {
			if !sess.Active(now, s.Policy) {
				return Session{}, account.Account{}, ErrNoSession
			}
			if sess.NeedsTouch(now) {
				s.touch(ctx, key, sess, acct, now)
			}
			return sess, acct, nil
		}
	}
	gen := s.Cache.Generation()
	sess, acct, err := s.Lookup.SessionAndAccount(ctx, key.Hash())
	if isNotFound(err) {
		return Session{}, account.Account{}, ErrNoSession
	}
	if err != nil {
		return Session{}, account.Account{}, err
	}
	if !sess.Active(now, s.Policy) {
		return Session{}, account.Account{}, ErrNoSession
	}
	if sess.NeedsTouch(now) {
		s.touch(ctx, key, sess, acct, now)
	} else {
		s.Cache.Put(key, sess, acct, now, gen)
	}
	return sess, acct, nil
}

func (s *Service) touch(ctx context.Context, key CacheKey, sess Session, acct account.Account, now time.Time) {
	// A failed touch only shortens the idle window; the request still succeeds.
	if err := s.Lookup.TouchSession(ctx, sess.ID, now); err == nil {
		sess.LastSeenAt = now.UTC().Truncate(time.Microsecond)
		s.Cache.Put(key, sess, acct, now, s.Cache.Generation())
	}
}

// List returns the account's live sessions, newest first.
func (s *Service) List(ctx context.Context, accountID string) ([]Session, error) {
	now := s.Now()
	var out []Session
	err := s.Transact(ctx, func(tx Tx) error {
		all, err := tx.SessionsOf(ctx, accountID, now)
		for _, sess := range all {
			if sess.Active(now, s.Policy) {
				out = append(out, sess)
			}
		}
		return err
	})
	return out, err
}

// Revoke ends one session of the account (or all when sessionID is ""),
// except keepID. It returns how many ended.
func (s *Service) Revoke(ctx context.Context, a account.Account, sessionID, keepID, reason string, m Meta) (int, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	var hashes []string
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		if hashes, err = tx.RevokeSessions(ctx, a.ID, sessionID, keepID, reason, now); err != nil || len(hashes) == 0 {
			return err
		}
		data := map[string]any{"session_id": sessionID, "reason": reason, "count": len(hashes)}
		if m.UserAgent != "" {
			// The activity pages name the device that logged out.
			data["user_agent"] = truncateRunes(m.UserAgent, 300)
		}
		_, err = audit.Append(ctx, tx, now, audit.Entry{
			Actor: a.Actor(), Action: "session.revoked", UserID: a.ID, IP: m.IP, RequestID: m.RequestID,
			Data: data,
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke session: %w", err)
	}
	s.Forget(hashes)
	return len(hashes), nil
}

// Devices lists the account's devices, most recently used first.
func (s *Service) Devices(ctx context.Context, accountID string) ([]Device, error) {
	var out []Device
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		out, err = tx.DevicesOf(ctx, accountID)
		return err
	})
	return out, err
}

// ForgetDevice removes a device: its token no longer names it (the next
// login from it is a new device) and its sessions end.
func (s *Service) ForgetDevice(ctx context.Context, a account.Account, deviceID string, m Meta) (int, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	var hashes []string
	err := s.Transact(ctx, func(tx Tx) error {
		d, err := tx.ForgetDevice(ctx, a.ID, deviceID, now)
		if err != nil {
			return err
		}
		if hashes, err = tx.RevokeDeviceSessions(ctx, a.ID, deviceID, "device_forgotten", now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Entry{
			Actor: a.Actor(), Action: "device.forgotten", UserID: a.ID, IP: m.IP, RequestID: m.RequestID,
			Data: map[string]any{"device_id": d.ID, "device": d.Summary(), "sessions_revoked": len(hashes), "user_agent": truncateRunes(m.UserAgent, 300)},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("forget device: %w", err)
	}
	s.Forget(hashes)
	return len(hashes), nil
}

// Forget drops ended sessions from this node's cache and tells the others.
func (s *Service) Forget(tokenHashes []string) {
	if len(tokenHashes) == 0 {
		return
	}
	s.Cache.Evict(tokenHashes...)
	if s.Revoked != nil {
		s.Revoked(tokenHashes)
	}
}
