package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/securitycenter"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/totp"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Help and troubleshooting (/help) answers the questions users ask, each
// from the viewer's real state when they are signed in (generic words when
// not): can't log in, a code that does not work (with a drift checker),
// a temporary lock (from the account's lockout lanes), a suspicious-login
// alert, a withdrawal that does not go through (every check that holds
// one, with when it ends and what clears it), a lost phone (the recovery
// codes left, the 2FA reset by re-verification and any reset under way),
// and someone else in the account (the freeze, one button away).
//
// The drift checker (POST /help/drift) takes a code from the app and says
// how far the phone's clock is off (mfa.Service.CheckDrift). It only reads:
// the code stays unspent and a wrong one counts on no lockout lane. Since
// it tells whether a code is right, it is rate limited: the address's
// login budget (Config.LoginLimit) and driftLimit per account, kept in the
// database when the store keeps rate-limit buckets (*store.Store does), so
// all nodes share it.

const (
	helpPath  = "/help"
	driftPath = "/help/drift"
)

// driftLimit bounds an account's drift checks. A check compares a code
// with the 41 time steps within totp.DriftLimit of now, so few are
// allowed: enough to fix a clock and check again.
var driftLimit = ratelimit.Limit{Burst: 5, Per: time.Hour}

// newDriftLimiter keeps the drift checks' buckets in the database when the
// store can, else in this node's memory.
func newDriftLimiter(st AuditStore, now func() time.Time) *ratelimit.Limiter {
	if bs, ok := st.(ratelimit.BucketStore); ok {
		return &ratelimit.Limiter{Store: bs, Now: now}
	}
	return &ratelimit.Limiter{Store: ratelimit.NewMemoryStore(10_000), Now: now}
}

// laneState is a lockout lane as the help shows it.
type laneState struct {
	Locked   bool
	Until    time.Time
	In       string
	Failures int
}

// lockoutHelp explains the lockout: its policy, and for a signed-in user
// the lanes of their account.
type lockoutHelp struct {
	MaxFailures int
	FirstLock   string
	MaxLock     string
	// Shared is the lane every unconfirmed device shares; Device this
	// device's own (nil when it is not trusted, and shares the other).
	Shared laneState
	Device *laneState
}

// hold is one thing that keeps withdrawals from going through, with when
// it ends by itself (zero: it does not) and what clears it.
type hold struct {
	ID    string
	Text  string
	Until time.Time
	In    string
	Links []link
}

type withdrawHelp struct {
	Holds  []hold
	Paused *pausedNotice
}

// driftResult is what the drift checker found.
type driftResult struct {
	// OnTime: the code is right now (within one step of 30 seconds).
	OnTime bool
	// Off is how far the clock is off in words, Way "behind" or "ahead".
	Off string
	Way string
}

type helpData struct {
	// SignedIn: the sections speak of the viewer's account; AccountsOn: the
	// account pages are served at all.
	SignedIn   bool
	AccountsOn bool
	Email      string

	// The code section: the drift checker is offered with an authenticator app.
	TOTP       bool
	DriftForm  *form
	Drift      *driftResult
	ClockFixes []string
	Issuer     string

	Lockout *lockoutHelp

	// NewDevices are the devices to review (securitycenter.CountDevices).
	NewDevices []deviceRow

	// Withdraw is nil when signed out or the withdrawal pages are off.
	Withdraw *withdrawHelp

	MFA          bool
	RecoveryLeft int
	RecoveryMax  int
	Passkeys     int
	// The 2FA reset by re-verification, for a lost phone: what the account
	// would send (ResetSend), how long the wait after approval is, and the
	// reset in progress (nil: none). Empty when verification is off.
	ResetSend string
	ResetWait string
	Reset     *resetBanner
}

func driftForm() *form {
	f := codeField("drift-code")
	f.Hint = "The code your authenticator app shows now for this account. Checking it does not use it up."
	return newForm(f)
}

func (p *Pages) helpPage(w http.ResponseWriter, r *http.Request) {
	var u *member
	if p.accounts != nil {
		u = p.viewer(userSignIn, r)
	}
	data, err := p.helpDataOf(r, u, driftForm())
	if err != nil {
		p.internalError(w, r, "read the state for the help", err)
		return
	}
	p.Render(w, r, http.StatusOK, "help", data)
}

// helpDataOf reads what the help says of u's account (u nil: signed out).
func (p *Pages) helpDataOf(r *http.Request, u *member, f *form) (helpData, error) {
	d := helpData{AccountsOn: p.accounts != nil, DriftForm: f, ClockFixes: clockFixes, RecoveryMax: mfa.RecoveryCodeCount, Issuer: p.platform}
	if p.login != nil {
		pol := p.login.Policy.Lockout
		d.Lockout = &lockoutHelp{MaxFailures: pol.MaxFailures, FirstLock: durationWords(pol.BaseDelay), MaxLock: durationWords(pol.MaxDelay)}
	}
	if u == nil {
		return d, nil
	}
	ctx := r.Context()
	a, err := p.freshAccount(r, u)
	if err != nil {
		return d, err
	}
	now := p.now()
	d.SignedIn, d.Email, d.MFA = true, a.Email, a.MFAEnabled
	factors, err := p.mfa.FactorsOf(ctx, a.ID)
	if err != nil {
		return d, err
	}
	d.TOTP, d.RecoveryLeft, d.Passkeys = factors.TOTP, factors.RecoveryCodesLeft, len(factors.Passkeys)
	if p.verification != nil {
		d.ResetSend = sendList(p.verification.ResetRequirements(a))
		d.ResetWait = durationWords(p.verification.Policy.ResetWait)
		d.Reset = p.resetBannerOf(r, u)
	}
	devices, err := p.sessions.Devices(ctx, a.ID)
	if err != nil {
		return d, err
	}
	var current *session.Device
	since := now.Add(-securitycenter.ReviewWindow)
	var fresh []session.Device
	for i, dv := range devices {
		switch {
		case dv.ID == u.Session.DeviceID:
			current = &devices[i]
		case !dv.LastSeenAt.Before(since) && !dv.FirstSeenAt.Before(since):
			fresh = append(fresh, dv)
		}
	}
	d.NewDevices = deviceRows(fresh, "")
	if d.Lockout != nil {
		if err := p.readLanes(ctx, a.ID, current, now, d.Lockout); err != nil {
			return d, err
		}
	}
	if p.withdrawals != nil {
		if d.Withdraw, err = p.withdrawHelpOf(r, u, a, current, now); err != nil {
			return d, err
		}
	}
	return d, nil
}

// readLanes reads the account's shared lockout lane and, when this device
// is trusted, its own.
func (p *Pages) readLanes(ctx context.Context, accountID string, current *session.Device, now time.Time, out *lockoutHelp) error {
	stateOf := func(l lockout.Lane) laneState {
		s := laneState{Failures: l.Failures}
		if wait := l.RetryAfter(now); wait > 0 {
			s.Locked, s.Until, s.In = true, l.LockedUntil, timeLeft(wait)
		}
		return s
	}
	return p.audit.Read(ctx, func(tx *store.Tx) error {
		shared, err := tx.LockoutLane(ctx, accountID, lockout.UntrustedLane)
		if err != nil {
			return err
		}
		out.Shared = stateOf(shared)
		if current != nil && current.Trusted() {
			own, err := tx.LockoutLane(ctx, accountID, lockout.LaneFor(current.ID))
			if err != nil {
				return err
			}
			s := stateOf(own)
			out.Device = &s
		}
		return nil
	})
}

// withdrawHelpOf lists what holds u's withdrawals now, in the order
// withdrawal.Service.Request checks them: frozen, paused, one in review, a cooldown, the
// second factor, the tier, the limit, then the addresses and the
// withdrawals waiting for their confirmations.
func (p *Pages) withdrawHelpOf(r *http.Request, u *member, a account.Account, current *session.Device, now time.Time) (*withdrawHelp, error) {
	ctx := r.Context()
	svc := p.withdrawals
	pol := svc.Policy
	h := &withdrawHelp{Paused: p.pausedNoticeOf(r, u)}
	add := func(x hold) {
		if !x.Until.IsZero() {
			x.In = timeLeft(x.Until.Sub(now))
		}
		h.Holds = append(h.Holds, x)
	}
	if a.Frozen() {
		x := hold{ID: "frozen", Text: "Your account is frozen, so nothing can be withdrawn until support has checked it is you and unfreezes it.",
			Links: []link{{Href: "/frozen", Text: "What to do now"}}}
		if p.supportURL != "" {
			x.Links = append(x.Links, link{Href: p.supportURL, Text: "Contact support"})
		}
		add(x)
	}
	if pol.OneInReview {
		inReview, err := svc.List(ctx, a.ID, withdrawal.StatusPendingReview, 1)
		if err != nil {
			return nil, err
		}
		if len(inReview) > 0 {
			add(hold{ID: "review", Text: "One of your withdrawals is being reviewed by our team; new withdrawals wait until it is decided. We email you the decision.",
				Links: []link{{Href: withdrawalsPath + "/" + url.PathEscape(inReview[0].ID), Text: "See the withdrawal"}}})
		}
	}
	cooldown := func(id string, at time.Time, d time.Duration, what string) {
		if at.IsZero() || !at.Add(d).After(now) {
			return
		}
		add(hold{ID: id, Until: at.Add(d), Text: fmt.Sprintf("%s on %s: as a precaution, withdrawals wait %s after that.",
			what, minuteUTC(at), durationWords(d))})
	}
	cooldown("cooldown-password", a.PasswordChangedAt, pol.CooldownPassword, "Your password was changed")
	cooldown("cooldown-mfa", a.MFAChangedAt, pol.CooldownMFA, "Two-factor authentication was turned off or reset")
	cooldown("cooldown-unfreeze", a.UnfrozenAt, pol.CooldownUnfreeze, "Your account was unfrozen")
	if current != nil {
		cooldown("cooldown-device", current.FirstSeenAt, pol.CooldownNewDevice, "This device logged in for the first time")
	}
	if pol.RequireSecondFactor && !a.MFAEnabled {
		add(hold{ID: "two-factor", Text: "Two-factor authentication is off: every withdrawal is confirmed with a code from your authenticator app.",
			Links: []link{{Href: securityPath, Text: "Turn it on"}}})
	}
	limits, err := svc.LimitsOf(ctx, a)
	if err != nil {
		return nil, err
	}
	switch {
	case limits.PerTransaction <= 0 || limits.Rolling24h <= 0:
		x := hold{ID: "verification", Text: fmt.Sprintf("Your verification tier (tier %d) allows no withdrawals: verify your identity first.", a.VerificationTier)}
		if p.verification != nil {
			x.Links = []link{{Href: verificationPath, Text: "Verify your identity"}, {Href: limitsPath, Text: "See the limits"}}
		}
		add(x)
	case limits.Available() <= 0:
		x := hold{ID: "limit", Text: fmt.Sprintf("You have used your 24-hour limit of %s: it frees up as your withdrawals pass 24 hours old.",
			svc.Currency.Format(limits.Rolling24h))}
		if p.verification != nil {
			x.Links = []link{{Href: limitsPath, Text: "See the limits"}}
		}
		add(x)
	}
	settings, err := svc.Settings(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	addresses, err := svc.Addresses(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	usable := 0
	for _, ad := range addresses {
		name := "The " + ad.Asset + " address " + shortAddress(ad.Address)
		if ad.Label != "" {
			name = "The " + ad.Asset + " address “" + ad.Label + "”"
		}
		switch ad.StatusAt(now) {
		case withdrawal.AddressActive:
			usable++
		case withdrawal.AddressOnHold:
			add(hold{ID: "address-" + ad.ID, Until: ad.AvailableAt, Text: name + " is on hold: a new address can be used only " +
				durationWords(pol.AddressHold) + " after it was confirmed."})
		case withdrawal.AddressPendingConfirmation:
			if now.After(ad.ConfirmBy) {
				add(hold{ID: "address-" + ad.ID, Text: name + " was not confirmed in time: delete it and add it again.",
					Links: []link{{Href: addressesPath, Text: "Address book"}}})
				continue
			}
			add(hold{ID: "address-" + ad.ID, Text: name + " waits for your confirmation: open the link in the email we sent you, before " +
				minuteUTC(ad.ConfirmBy) + ", and enter a code from your app.", Links: []link{{Href: addressesPath, Text: "Address book"}}})
		}
	}
	if settings.AllowListAt(now) && usable == 0 {
		x := hold{ID: "allow-list", Text: "Your allow-list is on, and no address of your book is usable yet: withdrawals go only to usable ones.",
			Links: []link{{Href: "/addresses/new", Text: "Add an address"}}}
		if len(addresses) > 0 {
			x.Links = []link{{Href: addressesPath, Text: "Address book"}}
		}
		add(x)
	}
	pending, err := svc.List(ctx, a.ID, withdrawal.StatusAwaitingConfirmation, 20)
	if err != nil {
		return nil, err
	}
	for _, wd := range pending {
		if wd.StatusAt(now) != withdrawal.StatusAwaitingConfirmation {
			continue
		}
		v := p.withdrawalViewOf(wd, now)
		var asks []string
		if v.NeedsCode {
			asks = append(asks, confirmationWords[withdrawal.RequireSecondFactor])
		}
		if v.NeedsEmail {
			asks = append(asks, confirmationWords[withdrawal.RequireEmail])
		}
		add(hold{ID: "withdrawal-" + wd.ID, Until: wd.ExpiresAt,
			Text:  fmt.Sprintf("Your withdrawal of %s %s waits for %s; unconfirmed, it expires.", v.Amount, v.Asset, joinWords(asks)),
			Links: []link{{Href: withdrawalsPath + "/" + wd.ID, Text: "Confirm it"}}})
	}
	review, err := svc.List(ctx, a.ID, withdrawal.StatusPendingReview, 20)
	if err != nil {
		return nil, err
	}
	for _, wd := range review {
		v := p.withdrawalViewOf(wd, now)
		add(hold{ID: "withdrawal-" + wd.ID, Text: fmt.Sprintf("Your withdrawal of %s %s is being checked by our team before it is sent; we email you the outcome.", v.Amount, v.Asset),
			Links: []link{{Href: withdrawalsPath + "/" + wd.ID, Text: "See it"}}})
	}
	return h, nil
}

// shortAddress keeps the ends of a long address: bc1qw5…f3t4.
func shortAddress(s string) string {
	if len(s) <= 14 {
		return s
	}
	return s[:6] + "…" + s[len(s)-4:]
}

// driftResultOf says a clock offset in words.
func driftResultOf(off time.Duration) *driftResult {
	if off.Abs() <= totp.Period {
		return &driftResult{OnTime: true}
	}
	// A code is matched to a 30-second step, and the user takes a while to
	// type it: the step found can be one later than the phone's. Past a
	// minute, whole minutes are what the check can honestly tell.
	if off.Abs() >= time.Minute {
		off = off.Truncate(time.Minute)
	}
	res := &driftResult{Way: "ahead", Off: howLong(int64(off.Abs() / time.Second))}
	if off < 0 {
		res.Way = "behind"
	}
	return res
}

// checkDrift is the drift checker: it compares a code from the app with
// the account's secret at the time steps around now, and says how far
// the phone's clock is off. Nothing is spent or counted as a failure.
func (p *Pages) checkDrift(w http.ResponseWriter, r *http.Request, u *member) {
	f := driftForm()
	data, err := p.helpDataOf(r, u, f)
	if err != nil {
		p.internalError(w, r, "read the state for the help", err)
		return
	}
	if !data.TOTP {
		f.Problem = &problem{Message: "Your account has no authenticator app to check a code against.",
			Links: []link{{Href: securityPath, Text: "Set one up"}}}
		p.renderForm(w, r, http.StatusUnprocessableEntity, "help", f, data)
		return
	}
	code := readCode(r, f)
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "help", f, data)
		return
	}
	if !p.codeAttempt(w, r, u.Account, f, "help", data) {
		return
	}
	dec, err := p.driftLimiter.Check(r.Context(), ratelimit.Key{Bucket: "drift:account:" + u.Account.ID, Limit: driftLimit})
	if err != nil {
		p.internalError(w, r, "drift check rate limit", err)
		return
	}
	if !dec.Allowed {
		secs := int64((dec.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		f.Problem = &problem{Message: "You checked several codes in the last hour. Wait " + roughly(secs) + " and check again."}
		p.renderForm(w, r, http.StatusTooManyRequests, "help", f, data)
		return
	}
	off, err := p.mfa.CheckDrift(r.Context(), u.Account, code)
	switch {
	case err == nil:
		data.Drift = driftResultOf(off)
		p.renderForm(w, r, http.StatusOK, "help", f, data)
		return
	case errors.Is(err, mfa.ErrInvalidCode):
		f.F("code").Value = code
		f.fail("code", fmt.Sprintf("This code does not match your authenticator app at any time within %s of now. "+
			"Check that you read the code of this account (%s, %s) in your app.", durationWords(totp.DriftLimit), p.platform, data.Email))
	case errors.Is(err, mfa.ErrNotEnabled):
		f.Problem = &problem{Message: "Your account has no authenticator app to check a code against.",
			Links: []link{{Href: securityPath, Text: "Set one up"}}}
	default:
		p.internalError(w, r, "check a code's drift", err)
		return
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "help", f, data)
}
