package login

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/geoip"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/risk"
	"github.com/wardenhq/warden/internal/session"
)

// Tx is what a login needs from one database transaction; the store implements it.
type Tx interface {
	mfa.Tx
	DeviceByTokenHash(ctx context.Context, accountID, hash string) (session.Device, error)
	DevicesOf(ctx context.Context, accountID string) ([]session.Device, error)
	InsertLoginEvent(ctx context.Context, e Event) error
	SetLoginOutcome(ctx context.Context, id, outcome string) error
	LoginEvents(ctx context.Context, accountID string, limit int, outcomes ...string) ([]Event, error)
	LoginPressure(ctx context.Context, accountID, ip string, since time.Time) (failures, ips, accountsFromIP int, err error)
	UpdateLockoutLane(ctx context.Context, accountID, lane string, fn func(old lockout.Lane) (lockout.Lane, error)) (lockout.Lane, error)
	LockoutLane(ctx context.Context, accountID, lane string) (lockout.Lane, error)
}

// Locator finds where an IP address is; *geoip.Reader is one. Nil: no GeoIP.
type Locator interface {
	Lookup(ip netip.Addr) (geoip.Place, error)
}

// Policy holds the login rules that are configuration.
type Policy struct {
	Risk    risk.Config
	Lockout lockout.Policy
	// FailureWindow is how far back failures and IPs are counted (1 h).
	FailureWindow time.Duration
	// EmailWithMFA: a new device with 2FA on needs the email confirmation
	// as well as the second factor (true), or the second factor alone.
	EmailWithMFA bool
	// DeviceConfirmationTTL is how long the new-device email's link works (15 min).
	DeviceConfirmationTTL time.Duration
	// HistorySize is how many past successful logins the risk signals read.
	HistorySize int
	// SignalTimeout bounds the read of the risk signals (2 s when zero);
	// past it, as on a read error, the login is challenged.
	SignalTimeout time.Duration
}

// defaultSignalTimeout is Policy.SignalTimeout's zero value's meaning.
const defaultSignalTimeout = 2 * time.Second

func (p Policy) signalTimeout() time.Duration {
	if p.SignalTimeout > 0 {
		return p.SignalTimeout
	}
	return defaultSignalTimeout
}

// Service runs logins.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	Accounts *account.Service
	Sessions *session.Service
	MFA      *mfa.Service
	Places   Locator
	// UnknownKey keys the hashes that name emails without an account.
	UnknownKey []byte
	// IPFailures counts failed logins per client address across every
	// account (credential stuffing): past IPFailureLimit, logins from there
	// are refused before anything else. Nil: no such limit.
	IPFailures     *ratelimit.Limiter
	IPFailureLimit ratelimit.Limit
	Policy         Policy
	Now            func() time.Time
}

// ErrDenied: the risk decision refused the login; see the reasons.
var ErrDenied = errors.New("login denied")

// LockedError is a lane locked by too many failures.
type LockedError struct{ RetryAfter time.Duration }

func (e *LockedError) Error() string {
	return fmt.Sprintf("account locked on this device for %s", e.RetryAfter.Round(time.Second))
}

// TooManyFailuresError: the client's address failed too many logins lately,
// on any accounts.
type TooManyFailuresError struct{ RetryAfter time.Duration }

func (e *TooManyFailuresError) Error() string {
	return fmt.Sprintf("too many failed logins from this address; retry in %s", e.RetryAfter.Round(time.Second))
}

// DeniedError carries the reasons of a denial.
type DeniedError struct{ Reasons []string }

func (e *DeniedError) Error() string { return fmt.Sprintf("login denied: %v", e.Reasons) }

// Is makes a DeniedError an ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Attempt is a login as the client sent it.
type Attempt struct {
	Realm    string
	Email    string
	Password string
	Meta     session.Meta
}

// Result is a login that got past the password: either a session, or a
// challenge to answer first.
type Result struct {
	Started   *session.Started
	Challenge *Challenge
	Decision  risk.Decision
	// RecoveryCodesLeft is set when a recovery code answered the challenge.
	RecoveryCodesLeft *int
}

// Challenge is what a challenged login waits for.
type Challenge struct {
	mfa.Started
	// Requires is what the login waits for; Pending what is still missing.
	Requires []string
	Pending  []string
	Reasons  []string
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Password runs the password step of a login.
func (s *Service) Password(ctx context.Context, at Attempt) (Result, error) {
	now := s.now()
	if err := s.ipFailuresLeft(ctx, at.Meta.IP); err != nil {
		return Result{}, err
	}
	// One transaction finds the account, its device and lane, and reserves
	// one of the lane's tries (see reserve).
	var known account.Account
	var device session.Device
	var locked *LockedError
	// An email without an account gets a lane too, under a keyed hash of
	// the address: it locks and answers like a real account's, so neither
	// the answers nor their timing tell which emails have accounts, and its
	// failures feed the credential-stuffing signal.
	unknown := s.unknownSubject(at.Realm, at.Email)
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		if known, device, err = s.identifyIn(ctx, tx, at); err != nil {
			return err
		}
		subject := known
		if subject.ID == "" {
			if unknown == "" {
				return nil // not an email address at all
			}
			subject = account.Account{ID: unknown}
		}
		locked, err = s.reserve(ctx, tx, subject, lockout.LaneFor(trustedID(device)), at.Meta, device, now)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if locked != nil {
		return Result{}, locked
	}
	lane := lockout.LaneFor(trustedID(device))
	reserved := known.ID != "" || unknown != ""
	// The signals do not depend on the password, so they are read while it
	// is hashed: on the critical path a login waits only for whichever of
	// the two takes longer, and the hash always does. A wrong password
	// wastes the read, a fraction of the hash it waits beside.
	var signals <-chan signalsRead
	if known.ID != "" {
		signals = s.readSignals(ctx, known.ID, at.Meta.IP, now)
	}
	// The bookkeeping must happen even if the client goes away during the
	// hash, or its reserved try would stay taken.
	bookkeeping := context.WithoutCancel(ctx)
	acct, err := s.Accounts.Authenticate(ctx, at.Realm, at.Email, at.Password)
	if err != nil {
		if errors.Is(err, account.ErrInvalidCredentials) {
			if ferr := s.countIPFailure(bookkeeping, at.Meta.IP); ferr != nil {
				return Result{}, ferr
			}
		}
		switch {
		case acct.ID != "" && errors.Is(err, account.ErrInvalidCredentials):
			if ferr := s.fail(bookkeeping, acct, lane, at.Meta, device, now, "invalid_credentials", reserved); ferr != nil {
				return Result{}, ferr
			}
		case known.ID == "" && unknown != "" && errors.Is(err, account.ErrInvalidCredentials):
			if ferr := s.failUnknown(bookkeeping, unknown, lane, at.Meta, now); ferr != nil {
				return Result{}, ferr
			}
		case reserved:
			subject := known.ID
			if subject == "" {
				subject = unknown
			}
			if rerr := s.release(bookkeeping, subject, lane); rerr != nil {
				return Result{}, rerr
			}
		}
		return Result{}, err
	}
	if acct.ID != known.ID {
		// The account was created between finding the lane and the hash:
		// nothing was read for it yet.
		signals = s.readSignals(ctx, acct.ID, at.Meta.IP, now)
	}
	sig := <-signals
	place, placeKnown, unavailable := s.locate(at.Meta.IP)
	if sig.err != nil {
		// Fail safe: a login whose history could not be read (an error, or
		// slower than SignalTimeout) is challenged, never allowed on
		// signals it did not see, nor answered with an error that would
		// leave its lockout try taken.
		sig = signalsRead{}
		unavailable = append(unavailable, "history")
	}
	d := risk.Evaluate(s.Policy.Risk, risk.Signals{
		FirstLogin: sig.firstLogin,
		Now:        now, IP: at.Meta.IP, Place: riskPlace(place), PlaceKnown: placeKnown,
		TrustedDevice: trustedID(device) != "", History: pastLogins(sig.history),
		RecentFailures: sig.failures, IPsOnAccount: sig.ips,
		AccountsFromIP: sig.stuffing, Unavailable: unavailable,
	})
	event := s.event(acct.ID, at.Meta, device, place, now, d)
	if acct.Restricted(account.RestrictionLogin) {
		return Result{}, s.refuseRestricted(ctx, acct, lane, reserved, event, at.Meta, now)
	}
	requires := s.requirements(acct, d)
	switch {
	case d.Outcome == risk.Deny:
		event.Outcome = OutcomeDenied
		err := s.Transact(ctx, func(tx Tx) error {
			if err := s.releaseIn(ctx, tx, acct.ID, lane, reserved); err != nil {
				return err
			}
			if err := tx.InsertLoginEvent(ctx, event); err != nil {
				return err
			}
			if err := s.Accounts.Record(ctx, tx, acct, "login.denied", accountMeta(at.Meta), now, map[string]any{"reasons": d.Reasons, "score": d.Score}); err != nil {
				return err
			}
			return s.suspicious(ctx, tx, acct, at.Meta, place, d, now)
		})
		if err != nil {
			return Result{}, err
		}
		s.Accounts.AfterCommit(nil)
		return Result{Decision: d}, &DeniedError{Reasons: d.Reasons}
	case len(requires) == 0:
		m := at.Meta
		m.Reasons = d.Reasons
		if placeKnown {
			m.Place = place.Describe()
		}
		started, err := s.start(ctx, acct, session.AAL1, m, lane, reserved, event, d, now)
		return Result{Started: &started, Decision: d}, err
	}
	ch, err := s.challenge(ctx, acct, at.Meta, device, place, lane, reserved, event, d, requires, now)
	return Result{Challenge: &ch, Decision: d}, err
}

// ReasonRestricted: staff, an admin key or a monitoring rule restricted the
// account's logins (POST /admin/v1/users/{id}/restrictions, kind login).
const ReasonRestricted = "restricted"

// refuseRestricted refuses a login to an account whose logins are
// restricted, once the password is proven: only the owner learns of the
// restriction, as only they learn that an account is frozen. The refusal is
// recorded as a denial with its reason, and the lane's try is given back (a
// right password is no guess). No suspicious-login alert: the refusal is
// the restriction working, not a sign of attack.
func (s *Service) refuseRestricted(ctx context.Context, acct account.Account, lane string, reserved bool, event Event, m session.Meta, now time.Time) error {
	event.Outcome, event.Reasons = OutcomeDenied, []string{ReasonRestricted}
	err := s.Transact(ctx, func(tx Tx) error {
		if err := s.releaseIn(ctx, tx, acct.ID, lane, reserved); err != nil {
			return err
		}
		if err := tx.InsertLoginEvent(ctx, event); err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, acct, "login.denied", accountMeta(m), now, map[string]any{"reasons": event.Reasons})
	})
	if err != nil {
		return err
	}
	s.Accounts.AfterCommit(nil)
	return &DeniedError{Reasons: event.Reasons}
}

// signalsRead is what readSignals found in the database.
type signalsRead struct {
	history                 []Event
	failures, ips, stuffing int
	firstLogin              bool
	err                     error
}

// readSignals reads the account's login history and the failure pressure
// on it and from ip, without the writer (the try reserved is given back by
// whichever transaction records the outcome), in a goroutine of its own.
func (s *Service) readSignals(ctx context.Context, accountID, ip string, now time.Time) <-chan signalsRead {
	out := make(chan signalsRead, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, s.Policy.signalTimeout())
		defer cancel()
		var r signalsRead
		r.err = s.View(ctx, func(tx Tx) error {
			var err error
			if r.history, err = tx.LoginEvents(ctx, accountID, s.Policy.HistorySize, OutcomeSucceeded); err != nil {
				return err
			}
			if r.failures, r.ips, r.stuffing, err = tx.LoginPressure(ctx, accountID, ip, now.Add(-s.Policy.FailureWindow)); err != nil {
				return err
			}
			if len(r.history) == 0 {
				devices, err := tx.DevicesOf(ctx, accountID)
				if err != nil {
					return err
				}
				r.firstLogin = len(devices) == 0
			}
			return nil
		})
		out <- r
	}()
	return out
}

// identify finds the account and the client's device without checking the
// password: the lane must be known before any hashing.
func (s *Service) identify(ctx context.Context, at Attempt) (account.Account, session.Device, error) {
	var a account.Account
	var d session.Device
	err := s.View(ctx, func(tx Tx) error {
		var err error
		a, d, err = s.identifyIn(ctx, tx, at)
		return err
	})
	return a, d, err
}

// identifyIn is identify in the caller's transaction.
func (s *Service) identifyIn(ctx context.Context, tx Tx, at Attempt) (account.Account, session.Device, error) {
	_, key, err := account.NormalizeEmail(at.Email)
	if err != nil {
		return account.Account{}, session.Device{}, nil
	}
	a, err := tx.AccountByEmail(ctx, at.Realm, key)
	if err != nil {
		if isNotFound(err) {
			return account.Account{}, session.Device{}, nil
		}
		return account.Account{}, session.Device{}, err
	}
	d, err := deviceOf(ctx, tx, a, at.Meta.DeviceToken)
	return a, d, err
}

// deviceOf finds the account's device named by a client's token. A missing,
// forged or another account's token is simply not found: an unknown device.
func deviceOf(ctx context.Context, tx Tx, a account.Account, token string) (session.Device, error) {
	if token == "" {
		return session.Device{}, nil
	}
	d, err := tx.DeviceByTokenHash(ctx, a.ID, account.HashToken(token))
	if isNotFound(err) {
		return session.Device{}, nil
	}
	return d, err
}

// refused tells a wrong answer (which counts on the lane) from a failure.
func refused(err error) bool {
	return errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, mfa.ErrCodeReused) || errors.Is(err, mfa.ErrInvalidPasskey) ||
		errors.Is(err, account.ErrInvalidCredentials)
}

// Guard runs check — a second factor, or the password again, proven by a
// known account outside the password step (a login challenge, a step-up, a
// 2FA change) — under the lockout of the client's lane: a locked lane
// refuses before check runs, and a refused proof counts as a failure, so
// codes cannot be guessed faster than passwords.
func (s *Service) Guard(ctx context.Context, a account.Account, m session.Meta, check func() error) error {
	now := s.now()
	var device session.Device
	var locked *LockedError
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		if device, err = deviceOf(ctx, tx, a, m.DeviceToken); err != nil {
			return err
		}
		locked, err = s.reserve(ctx, tx, a, lockout.LaneFor(trustedID(device)), m, device, now)
		return err
	})
	if err != nil {
		return err
	}
	if locked != nil {
		return locked
	}
	lane := lockout.LaneFor(trustedID(device))
	// The bookkeeping must happen even if the client goes away meanwhile,
	// or its reserved try would stay taken.
	bookkeeping := context.WithoutCancel(ctx)
	checkErr := check()
	if refused(checkErr) {
		if err := s.fail(bookkeeping, a, lane, m, device, now, failureReason(checkErr), true); err != nil {
			return err
		}
		return checkErr
	}
	if err := s.release(bookkeeping, a.ID, lane); err != nil {
		return err
	}
	return checkErr
}

func failureReason(err error) string {
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		return "invalid_credentials"
	case errors.Is(err, mfa.ErrInvalidPasskey):
		return "invalid_passkey"
	case errors.Is(err, mfa.ErrCodeReused):
		return "code_reused"
	}
	return "invalid_code"
}

func trustedID(d session.Device) string {
	if d.TrustedAt.IsZero() {
		return ""
	}
	return d.ID
}

// reserve takes one of the lane's tries left before any password is
// checked, so that guesses sent at once cannot run more checks than the
// schedule allows. A locked lane, or one whose every try left is being
// checked right now, answers at once, and the attempt is recorded.
func (s *Service) reserve(ctx context.Context, tx Tx, a account.Account, lane string, m session.Meta, device session.Device, now time.Time) (*LockedError, error) {
	var wait time.Duration
	if _, err := tx.UpdateLockoutLane(ctx, a.ID, lane, func(old lockout.Lane) (lockout.Lane, error) {
		next, ok := s.Policy.Lockout.Reserve(old, now)
		if !ok {
			// Busy rather than locked: the checks running now decide; ask again in a second.
			wait = max(next.RetryAfter(now), time.Second)
		}
		return next, nil
	}); err != nil || wait == 0 {
		return nil, err
	}
	err := tx.InsertLoginEvent(ctx, Event{ID: id.New("lev"), AccountID: a.ID, At: now, IP: m.IP, DeviceID: device.ID, Outcome: OutcomeLocked, Reasons: []string{"locked"}})
	return &LockedError{RetryAfter: wait}, err
}

// release gives back the try reserve took, for a check that did not fail.
func (s *Service) release(ctx context.Context, accountID, lane string) error {
	return s.Transact(ctx, func(tx Tx) error {
		_, err := tx.UpdateLockoutLane(ctx, accountID, lane, func(old lockout.Lane) (lockout.Lane, error) {
			return s.Policy.Lockout.Release(old), nil
		})
		return err
	})
}

// ipFailureKey is the bucket of an address's failures; IPv6 clients are
// counted per /64, which one of them usually holds whole.
func (s *Service) ipFailureKey(ip string) (ratelimit.Key, bool) {
	addr, err := netip.ParseAddr(ip)
	if s.IPFailures == nil || err != nil {
		return ratelimit.Key{}, false
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return ratelimit.Key{Bucket: "login:failures:ip:" + p.String(), Limit: s.IPFailureLimit}, true
	}
	return ratelimit.Key{Bucket: "login:failures:ip:" + addr.String(), Limit: s.IPFailureLimit}, true
}

// ipFailuresLeft refuses a login from an address whose failures are used up.
func (s *Service) ipFailuresLeft(ctx context.Context, ip string) error {
	key, ok := s.ipFailureKey(ip)
	if !ok {
		return nil
	}
	d, err := s.IPFailures.CheckCost(ctx, 0, key)
	if err != nil || d.Remaining > 0 {
		return err
	}
	// One token comes back every Per/Burst.
	return &TooManyFailuresError{RetryAfter: max(time.Second, s.IPFailureLimit.Per/time.Duration(max(1, s.IPFailureLimit.Burst)))}
}

// countIPFailure charges a failed login to its address.
func (s *Service) countIPFailure(ctx context.Context, ip string) error {
	key, ok := s.ipFailureKey(ip)
	if !ok {
		return nil
	}
	_, err := s.IPFailures.Check(ctx, key)
	return err
}

// unknownSubject names the lane and events of an email without an account:
// a keyed hash, so the table does not list the addresses people tried.
// "" when the input is not an email address.
func (s *Service) unknownSubject(realm, email string) string {
	_, key, err := account.NormalizeEmail(email)
	if err != nil {
		return ""
	}
	mac := hmac.New(sha256.New, s.UnknownKey)
	mac.Write([]byte(realm + "\x00" + key))
	return UnknownPrefix + hex.EncodeToString(mac.Sum(nil)[:16])
}

// UnknownPrefix starts the subject of attempts on emails without an account.
const UnknownPrefix = "unknown:"

// failUnknown counts a failed attempt on an email without an account: its
// lane and its event, nothing else (there is nobody to tell).
func (s *Service) failUnknown(ctx context.Context, subject, lane string, m session.Meta, now time.Time) error {
	return s.Transact(ctx, func(tx Tx) error {
		if _, err := tx.UpdateLockoutLane(ctx, subject, lane, func(old lockout.Lane) (lockout.Lane, error) {
			next, _ := s.Policy.Lockout.Fail(s.Policy.Lockout.Release(old), now)
			return next, nil
		}); err != nil {
			return err
		}
		return tx.InsertLoginEvent(ctx, Event{ID: id.New("lev"), AccountID: subject, At: now, IP: m.IP,
			Outcome: OutcomeFailed, Reasons: []string{"invalid_credentials"}})
	})
}

// releaseIn gives back, in the caller's transaction, the try reserve took.
func (s *Service) releaseIn(ctx context.Context, tx Tx, accountID, lane string, reserved bool) error {
	if !reserved {
		return nil
	}
	_, err := tx.UpdateLockoutLane(ctx, accountID, lane, func(old lockout.Lane) (lockout.Lane, error) {
		return s.Policy.Lockout.Release(old), nil
	})
	return err
}

// fail counts a wrong password or code on the lane (giving back the try
// reserve took for it, if reserved); the lock it may cause is emailed to
// the owner with the freeze link.
func (s *Service) fail(ctx context.Context, a account.Account, lane string, m session.Meta, device session.Device, now time.Time, reason string, reserved bool) error {
	err := s.Transact(ctx, func(tx Tx) error {
		var locked bool
		l, err := tx.UpdateLockoutLane(ctx, a.ID, lane, func(old lockout.Lane) (lockout.Lane, error) {
			if reserved {
				old = s.Policy.Lockout.Release(old)
			}
			next, justLocked := s.Policy.Lockout.Fail(old, now)
			locked = justLocked
			return next, nil
		})
		if err != nil {
			return err
		}
		if err := tx.InsertLoginEvent(ctx, Event{ID: id.New("lev"), AccountID: a.ID, At: now, IP: m.IP, DeviceID: device.ID,
			Outcome: OutcomeFailed, Reasons: []string{reason}}); err != nil {
			return err
		}
		am := accountMeta(m)
		am.Actor = "anonymous"
		if err := s.Accounts.Record(ctx, tx, a, "login.failed", am, now, map[string]any{"reason": reason}); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		where := "unrecognised devices"
		if lane != lockout.UntrustedLane {
			where = "one of your devices"
		}
		if err := s.Accounts.Record(ctx, tx, a, "login.locked", am, now, map[string]any{"lane": lane, "until": l.LockedUntil}); err != nil {
			return err
		}
		// Challenges opened before the lock must not stay answerable: each
		// would otherwise allow its own wrong answers past the lock.
		if err := tx.VoidLoginChallenges(ctx, a.ID, now); err != nil {
			return err
		}
		return s.Accounts.Notify(ctx, tx, a, "security_change", map[string]any{
			"subject": "Logins to your account are paused",
			"what":    fmt.Sprintf("After several wrong passwords or codes, logins from %s are paused until %s; the last try was", where, l.LockedUntil.Format("15:04 UTC")),
			"detail":  "Your trusted devices can still log in. If these tries were not yours, your password may be known: change it, and freeze your account if anything looks wrong.",
			"when":    now.Format("2006-01-02 15:04 UTC"), "ip": orUnknown(m.IP), "user_agent": orUnknown(m.UserAgent),
		}, true, now)
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return err
}

// locate looks the IP up; a failed lookup is an unavailable signal (the
// login is challenged), no GeoIP database simply none.
func (s *Service) locate(ip string) (geoip.Place, bool, []string) {
	if s.Places == nil {
		return geoip.Place{}, false, nil
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return geoip.Place{}, false, nil
	}
	p, err := s.Places.Lookup(addr)
	if errors.Is(err, geoip.ErrNotRoutable) {
		// A private or loopback address has no place; nothing failed.
		return geoip.Place{}, false, nil
	}
	if err != nil {
		return geoip.Place{}, false, []string{"geoip"}
	}
	return p, p.Country != "", nil
}

func riskPlace(p geoip.Place) risk.Place {
	return risk.Place{Country: p.Country, Latitude: p.Latitude, Longitude: p.Longitude, HasCoordinates: p.HasCoordinates, ASN: p.ASN}
}

func pastLogins(events []Event) []risk.PastLogin {
	out := make([]risk.PastLogin, 0, len(events))
	for _, e := range events {
		out = append(out, risk.PastLogin{At: e.At, IP: e.IP, Place: risk.Place{
			Country: e.Country, Latitude: e.Latitude, Longitude: e.Longitude, HasCoordinates: e.HasCoordinates, ASN: e.ASN,
		}})
	}
	return out
}

func (s *Service) event(accountID string, m session.Meta, device session.Device, p geoip.Place, now time.Time, d risk.Decision) Event {
	return Event{
		ID: id.New("lev"), AccountID: accountID, At: now, IP: m.IP, DeviceID: device.ID,
		Reasons: d.Reasons, Score: d.Score, Country: p.Country, City: p.City,
		Latitude: p.Latitude, Longitude: p.Longitude, HasCoordinates: p.HasCoordinates, ASN: p.ASN,
	}
}

// requirements turns a decision into what the login must still prove.
func (s *Service) requirements(a account.Account, d risk.Decision) []string {
	var req []string
	emailNeeded := d.NeedsDeviceConfirmation || (d.Outcome == risk.Challenge && !a.MFAEnabled)
	if a.MFAEnabled {
		req = append(req, mfa.RequireSecondFactor)
		if emailNeeded && !s.Policy.EmailWithMFA && d.Score < s.Policy.Risk.ChallengeAt {
			emailNeeded = false
		}
	}
	if emailNeeded {
		req = append([]string{mfa.RequireEmail}, req...)
	}
	return req
}

// start opens the session of a login that passed every check: the device
// becomes trusted and its lane starts afresh, in the session's own
// transaction (one commit a login, not two).
func (s *Service) start(ctx context.Context, a account.Account, aal string, m session.Meta, lane string, reserved bool, e Event, d risk.Decision, now time.Time) (session.Started, error) {
	m.TrustDevice = true
	started, err := s.Sessions.StartWith(ctx, a, aal, m, func(stx session.Tx, started session.Started) error {
		tx, ok := stx.(Tx)
		if !ok {
			return fmt.Errorf("login: the session's transaction (%T) cannot record the login", stx)
		}
		e.Outcome, e.DeviceID = OutcomeSucceeded, started.Device.ID
		if _, err := tx.UpdateLockoutLane(ctx, a.ID, lane, func(old lockout.Lane) (lockout.Lane, error) {
			if reserved {
				old = s.Policy.Lockout.Release(old)
			}
			return s.Policy.Lockout.Succeed(old, now), nil
		}); err != nil {
			return err
		}
		if e.ID == "" {
			return nil
		}
		if err := tx.InsertLoginEvent(ctx, e); err != nil {
			return err
		}
		if alarming(d) {
			return s.suspicious(ctx, tx, a, m, geoip.Place{Country: e.Country, City: e.City}, d, now)
		}
		return nil
	})
	if err != nil {
		return session.Started{}, err
	}
	s.Accounts.AfterCommit(nil)
	return started, nil
}

// challenge stores what the login waits for and, for a new device, emails
// the owner a confirmation link.
func (s *Service) challenge(ctx context.Context, a account.Account, m session.Meta, device session.Device, p geoip.Place, lane string, reserved bool, e Event, d risk.Decision, requires []string, now time.Time) (Challenge, error) {
	e.Outcome = OutcomeChallenged
	var st mfa.Started
	err := s.Transact(ctx, func(tx Tx) error {
		if err := s.releaseIn(ctx, tx, a.ID, lane, reserved); err != nil {
			return err
		}
		var token string
		var err error
		lc := mfa.LoginChallenge{Requires: requires, DeviceID: device.ID, LoginEventID: e.ID}
		if slices.Contains(requires, mfa.RequireEmail) {
			// Reading the email takes longer than typing a code.
			lc.TTL = s.Policy.DeviceConfirmationTTL
		}
		st, token, err = s.MFA.InsertLoginChallenge(ctx, tx, a, lc)
		if err != nil {
			return err
		}
		if err := tx.InsertLoginEvent(ctx, e); err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "login.challenged", accountMeta(m), now, map[string]any{"reasons": d.Reasons, "requires": requires, "place": p.Describe()}); err != nil {
			return err
		}
		if alarming(d) {
			if err := s.suspicious(ctx, tx, a, m, p, d, now); err != nil {
				return err
			}
		}
		if token == "" {
			return nil
		}
		return s.Accounts.Notify(ctx, tx, a, "new_device", map[string]any{
			"confirm_url": s.Accounts.BaseURL + "/confirm-device?" + url.Values{"token": {token}}.Encode(),
			"device":      session.DescribeAgent(m.UserAgent), "ip": orUnknown(m.IP), "place": p.Describe(),
			"when": now.Format("2006-01-02 15:04 UTC"), "minutes": int(st.ExpiresAt.Sub(now).Round(time.Minute).Minutes()),
		}, true, now)
	})
	if err != nil {
		return Challenge{}, err
	}
	s.Accounts.AfterCommit(nil)
	reasons := slices.Clone(d.Reasons)
	if slices.Contains(requires, mfa.RequireSecondFactor) {
		reasons = append(reasons, "mfa_required")
	}
	return Challenge{Started: st, Requires: requires, Pending: requires, Reasons: reasons}, nil
}

// Answer is a login's next step: a second factor, or {method: "email"} once
// the new-device email's link was followed. When the challenge still waits
// for something, Result.Challenge says what; when nothing, Result.Started
// is the session.
func (s *Service) Answer(ctx context.Context, challengeID string, p mfa.Proof, m session.Meta) (Result, error) {
	now := s.now()
	pending, err := s.MFA.PeekChallenge(ctx, challengeID, mfa.PurposeLogin)
	if err != nil {
		return Result{}, err
	}
	acct, err := s.Accounts.AccountByID(ctx, pending.AccountID)
	if err != nil {
		return Result{}, err
	}
	var done mfa.Completion
	complete := func() error {
		var err error
		done, err = s.MFA.CompleteChallenge(ctx, challengeID, mfa.PurposeLogin, "", p, accountMeta(m))
		return err
	}
	if p.Method == mfa.MethodEmail {
		err = complete() // nothing is guessed: the email's link was followed or not
	} else {
		err = s.Guard(ctx, acct, m, complete)
	}
	if err != nil {
		return Result{}, err
	}
	if len(done.Pending) > 0 {
		return Result{Challenge: &Challenge{Started: mfa.Started{ID: challengeID, Methods: done.Challenge.Methods, ExpiresAt: done.Challenge.ExpiresAt},
			Requires: done.Challenge.Requires, Pending: done.Pending}}, nil
	}
	if done.Account.Frozen() {
		return Result{}, account.ErrFrozen
	}
	if done.Account.Restricted(account.RestrictionLogin) {
		// Restricted while the challenge was open.
		if done.Challenge.LoginEventID != "" {
			if err := s.Transact(ctx, func(tx Tx) error { return tx.SetLoginOutcome(ctx, done.Challenge.LoginEventID, OutcomeDenied) }); err != nil && !isNotFound(err) {
				return Result{}, err
			}
		}
		return Result{}, &DeniedError{Reasons: []string{ReasonRestricted}}
	}
	aal := session.AAL1
	if p.Method != mfa.MethodEmail || slices.Contains(done.Challenge.Satisfied, mfa.RequireSecondFactor) {
		aal = session.AAL2
	}
	_, device, err := s.identify(ctx, Attempt{Realm: done.Account.Realm, Email: done.Account.Email, Meta: m})
	if err != nil {
		return Result{}, err
	}
	if device.ID != done.Challenge.DeviceID {
		// Another client answered than the one that gave the password (or a
		// new one, which gets its token now): the device at password time is
		// the one the checks were about.
		m.DeviceToken = ""
	}
	if done.Challenge.LoginEventID != "" {
		if err := s.Transact(ctx, func(tx Tx) error { return tx.SetLoginOutcome(ctx, done.Challenge.LoginEventID, OutcomeSucceeded) }); err != nil && !isNotFound(err) {
			return Result{}, err
		}
	}
	m.MFAAt = done.Challenge.FactorAt
	started, err := s.start(ctx, done.Account, aal, m, lockout.LaneFor(trustedID(device)), false, Event{}, risk.Decision{}, now)
	if err != nil {
		return Result{}, err
	}
	res := Result{Started: &started}
	if done.Method == mfa.MethodRecoveryCode {
		res.RecoveryCodesLeft = &done.RecoveryCodesLeft
	}
	return res, nil
}

// ConfirmDevice follows the new-device email's link: the login it names no
// longer waits for it.
func (s *Service) ConfirmDevice(ctx context.Context, token string, m session.Meta) error {
	now := s.now()
	err := s.Transact(ctx, func(tx Tx) error {
		c, err := s.MFA.ConfirmEmail(ctx, tx, token)
		if err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, c.AccountID)
		if err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "login.device_confirmed", accountMeta(m), now, map[string]any{"device_id": c.DeviceID})
	})
	if err == nil {
		s.Accounts.AfterCommit(nil)
	}
	return err
}

// alarming: a login the owner should hear about whatever its outcome — a
// new country, impossible travel, or a right password after many wrong ones.
func alarming(d risk.Decision) bool {
	return slices.Contains(d.Reasons, risk.ReasonNewCountry) || slices.Contains(d.Reasons, risk.ReasonImpossibleTravel) ||
		slices.Contains(d.Reasons, risk.ReasonRecentFailures)
}

// suspicious tells the owner and the platform about a login that looked wrong.
func (s *Service) suspicious(ctx context.Context, tx Tx, a account.Account, m session.Meta, p geoip.Place, d risk.Decision, now time.Time) error {
	if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "login.suspicious", map[string]any{
		"user_id": a.ID, "ip": m.IP, "country": p.Country, "reasons": d.Reasons, "outcome": d.Outcome, "at": now,
	}); err != nil {
		return err
	}
	what := "Someone logged in to your account"
	if d.Outcome == risk.Deny {
		what = "We blocked a login to your account with the right password"
	}
	return s.Accounts.Notify(ctx, tx, a, "security_change", map[string]any{
		"subject": "Unusual login to your account",
		"what":    fmt.Sprintf("%s from %s (%s)", what, p.Describe(), ReasonText(d.Reasons)),
		"detail":  "If this was not you, freeze your account now and change your password.",
		// The device in words ("Chrome on Linux"), as the new-device email names it.
		"when": now.Format("2006-01-02 15:04 UTC"), "ip": orUnknown(m.IP), "user_agent": session.DescribeAgent(m.UserAgent),
	}, true, now)
}

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

func accountMeta(m session.Meta) account.Meta {
	return account.Meta{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
