package cases

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Policy holds the case rules that are configuration.
type Policy struct {
	// AccessTTL is how long a report's access token reads the case (30 days).
	AccessTTL time.Duration
	// GrantTTL is how long a report grant handed out after a freeze works (1 hour).
	GrantTTL time.Duration
}

// DefaultPolicy is the policy when none is configured.
func DefaultPolicy() Policy { return Policy{AccessTTL: 30 * 24 * time.Hour, GrantTTL: time.Hour} }

// How much of the account a snapshot holds.
const (
	snapshotLogins      = 25
	snapshotWithdrawals = 25
	snapshotDevices     = 50
	snapshotSessions    = 50
)

// AccessPrefix starts every access token, so a leaked one is recognisable.
const AccessPrefix = "wcr_"

// Service opens and resolves cases, each action in one transaction with its
// audit record and email.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	Accounts *account.Service
	// Assets and Currency write the amounts of a snapshot's withdrawals;
	// without them amounts are in the asset's smallest unit.
	Assets   withdrawal.Catalog
	Currency money.Currency
	Policy   Policy
	Now      func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) policy() Policy {
	p := s.Policy
	d := DefaultPolicy()
	if p.AccessTTL <= 0 {
		p.AccessTTL = d.AccessTTL
	}
	if p.GrantTTL <= 0 {
		p.GrantTTL = d.GrantTTL
	}
	return p
}

// Receipt is the answer to a report.
type Receipt struct {
	// Case is the case with every report, this one last.
	Case Case
	// Report is this report.
	Report Report
	// Access is the token that reads the case without a session (given
	// once; only its hash is kept).
	Access string
	// Added: the report was added to a case already open.
	Added bool
	// Froze: this report froze the account.
	Froze bool
}

// CleanStatement trims the user's words and checks them.
func CleanStatement(statement string) (string, error) {
	statement = strings.TrimSpace(statement)
	switch {
	case statement == "":
		return "", ErrStatementMissing
	case !utf8.ValidString(statement) || strings.ContainsRune(statement, 0):
		return "", ErrStatementNotText
	case utf8.RuneCountInString(statement) > MaxStatement:
		return "", ErrStatementTooLong
	}
	return statement, nil
}

// Report is the report of a signed-in user.
func (s *Service) Report(ctx context.Context, accountID, statement string, m account.Meta) (Receipt, error) {
	return s.reportWith(ctx, statement, ViaSession, m, func(ctx context.Context, tx Tx, now time.Time) (string, error) {
		return accountID, nil
	})
}

// ReportByFreezeToken is a report sent with a "this wasn't me" token from
// a security email, which it spends: the token freezes as it would alone.
func (s *Service) ReportByFreezeToken(ctx context.Context, token, statement string, m account.Meta) (Receipt, error) {
	return s.reportWith(ctx, statement, ViaFreezeLink, m, spend(token, account.PurposeFreeze))
}

// ReportByGrant is a report sent with the grant handed out right after a
// freeze (Grant), which it spends.
func (s *Service) ReportByGrant(ctx context.Context, grant, statement string, m account.Meta) (Receipt, error) {
	return s.reportWith(ctx, statement, ViaGrant, m, spend(grant, PurposeReportGrant))
}

// ReportByAccess is a further report sent with the access token of an
// earlier one: added to that case while it is open, a new case once it is
// resolved. The token stays valid.
func (s *Service) ReportByAccess(ctx context.Context, access, statement string, m account.Meta) (Receipt, error) {
	return s.reportWith(ctx, statement, ViaAccess, m, func(ctx context.Context, tx Tx, now time.Time) (string, error) {
		r, err := reportByAccess(ctx, tx, access, now)
		return r.AccountID, err
	})
}

func spend(token, purpose string) func(ctx context.Context, tx Tx, now time.Time) (string, error) {
	return func(ctx context.Context, tx Tx, now time.Time) (string, error) {
		if token == "" || len(token) > 200 {
			return "", ErrInvalidToken
		}
		t, err := tx.UseEmailToken(ctx, account.HashToken(token), purpose, now)
		if isNotFound(err) {
			return "", ErrInvalidToken
		}
		return t.AccountID, err
	}
}

func reportByAccess(ctx context.Context, tx Tx, access string, now time.Time) (Report, error) {
	if !strings.HasPrefix(access, AccessPrefix) || len(access) > 200 {
		return Report{}, ErrInvalidToken
	}
	r, err := tx.ReportByAccess(ctx, account.HashToken(access))
	if isNotFound(err) || (err == nil && !now.Before(r.AccessExpiresAt)) {
		return Report{}, ErrInvalidToken
	}
	return r, err
}

// reportWith checks the words, finds the reporter's account with who (in
// the transaction: a token is spent only if the report is made) and reports.
func (s *Service) reportWith(ctx context.Context, statement, via string, m account.Meta,
	who func(ctx context.Context, tx Tx, now time.Time) (string, error)) (Receipt, error) {
	statement, err := CleanStatement(statement)
	if err != nil {
		return Receipt{}, err
	}
	now := s.now()
	var rc Receipt
	var revoked []string
	err = s.Transact(ctx, func(tx Tx) error {
		accountID, err := who(ctx, tx, now)
		if err != nil {
			return err
		}
		rc, revoked, err = s.report(ctx, tx, accountID, statement, via, m, now)
		return err
	})
	if err != nil {
		return Receipt{}, err
	}
	s.Accounts.AfterCommit(revoked)
	return rc, nil
}

func (s *Service) report(ctx context.Context, tx Tx, accountID, statement, via string, m account.Meta, now time.Time) (Receipt, []string, error) {
	// One report of an account at a time: two at once must not open two cases.
	if err := tx.Lock(ctx, "cases:"+accountID); err != nil {
		return Receipt{}, nil, err
	}
	a, err := tx.AccountByID(ctx, accountID)
	if isNotFound(err) {
		return Receipt{}, nil, ErrNotUser
	}
	if err != nil {
		return Receipt{}, nil, err
	}
	if a.Realm != account.RealmUser {
		return Receipt{}, nil, ErrNotUser
	}
	// The snapshot is taken before the freeze ends the sessions it lists.
	snap, err := s.snapshot(ctx, tx, a, now)
	if err != nil {
		return Receipt{}, nil, err
	}
	froze := !a.Frozen()
	revoked, err := s.Accounts.FreezeIn(ctx, tx, a.ID, FreezeReason, m, now)
	if err != nil {
		return Receipt{}, nil, err
	}
	c, err := tx.OpenCaseOf(ctx, a.ID, KindUserReport)
	added := err == nil
	switch {
	case added:
		if _, err := tx.UpdateCase(ctx, c.ID, func(old Case) (Case, error) {
			old.UpdatedAt = now
			old.Froze = old.Froze || froze
			return old, nil
		}); err != nil {
			return Receipt{}, nil, err
		}
	case isNotFound(err):
		c = Case{ID: id.New("cas"), AccountID: a.ID, Kind: KindUserReport, Status: StatusOpen, Froze: froze, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertCase(ctx, c); err != nil {
			return Receipt{}, nil, err
		}
	default:
		return Receipt{}, nil, err
	}
	access := id.Token(AccessPrefix)
	r := Report{ID: id.New("crp"), CaseID: c.ID, AccountID: a.ID, Statement: statement, Via: via, IP: m.IP, UserAgent: clip(m.UserAgent, 500),
		Froze: froze, Snapshot: snap, AccessHash: account.HashToken(access), AccessExpiresAt: now.Add(s.policy().AccessTTL), CreatedAt: now}
	if err := tx.InsertCaseReport(ctx, r); err != nil {
		return Receipt{}, nil, err
	}
	action := "case.opened"
	if added {
		action = "case.report_added"
	}
	if err := s.Accounts.Record(ctx, tx, a, action, m, now, map[string]any{
		"case_id": c.ID, "report_id": r.ID, "via": via, "froze": froze,
	}); err != nil {
		return Receipt{}, nil, err
	}
	lines := []string{
		"We received your report that someone else may be using your account, and our security team will look into it.",
	}
	if froze {
		lines = append(lines, "Your account is frozen: every session was signed out, and nobody can log in or withdraw until our staff unfreeze it after checking who you are.")
	} else {
		lines = append(lines, "Your account stays frozen: nobody can log in or withdraw until our staff unfreeze it after checking who you are.")
	}
	lines = append(lines, "Meanwhile, secure your email account: change its password and turn on its two-step verification. You can follow your report on the page below.")
	if err := s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
		"subject":      "We received your report",
		"lines":        lines,
		"action_url":   s.Accounts.BaseURL + "/account/report",
		"action_label": "See your report",
	}, false, now); err != nil {
		return Receipt{}, nil, err
	}
	full, err := tx.CaseByID(ctx, c.ID)
	if err != nil {
		return Receipt{}, nil, err
	}
	return Receipt{Case: full, Report: r, Access: access, Added: added, Froze: froze}, revoked, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// snapshot reads what staff will want to see of the account.
func (s *Service) snapshot(ctx context.Context, tx Tx, a account.Account, now time.Time) (Snapshot, error) {
	snap := Snapshot{TakenAt: now, WasFrozen: a.Frozen(), MFAEnabled: a.MFAEnabled, VerificationTier: a.VerificationTier,
		Logins: []SnapshotLogin{}, Devices: []SnapshotDevice{}, Sessions: []SnapshotSession{}, Withdrawals: []SnapshotWithdrawal{}}
	events, err := tx.LoginEvents(ctx, a.ID, snapshotLogins)
	if err != nil {
		return snap, err
	}
	for _, e := range events {
		l := SnapshotLogin{At: e.At, Outcome: e.Outcome, Reasons: e.Reasons, Score: e.Score, IP: e.IP, DeviceID: e.DeviceID}
		if l.Reasons == nil {
			l.Reasons = []string{}
		}
		switch {
		case e.City != "" && e.Country != "":
			l.Place = e.City + ", " + e.Country
		case e.Country != "":
			l.Place = e.Country
		}
		snap.Logins = append(snap.Logins, l)
	}
	devices, err := tx.DevicesOf(ctx, a.ID)
	if err != nil {
		return snap, err
	}
	for i, d := range devices {
		if i == snapshotDevices {
			break
		}
		snap.Devices = append(snap.Devices, SnapshotDevice{ID: d.ID, Description: session.DescribeAgent(d.UserAgent), UserAgent: clip(d.UserAgent, 500),
			LastIP: d.LastIP, LastPlace: d.LastPlace, Trusted: !d.TrustedAt.IsZero(), FirstSeenAt: d.FirstSeenAt, LastSeenAt: d.LastSeenAt})
	}
	sessions, err := tx.SessionsOf(ctx, a.ID, now)
	if err != nil {
		return snap, err
	}
	for i, se := range sessions {
		if i == snapshotSessions {
			break
		}
		snap.Sessions = append(snap.Sessions, SnapshotSession{ID: se.ID, AAL: se.AAL, DeviceID: se.DeviceID, IP: se.IP,
			UserAgent: clip(se.UserAgent, 500), CreatedAt: se.CreatedAt, LastSeenAt: se.LastSeenAt})
	}
	list, err := tx.Withdrawals(ctx, a.ID, "", snapshotWithdrawals)
	if err != nil {
		return snap, err
	}
	for _, w := range list {
		amount := ""
		if w.Amount != nil {
			amount = w.Amount.String()
			// The asset's decimals, even if its network is no longer configured.
			if asset, _, _ := s.Assets.Find(w.Asset, w.Network); asset.Code != "" {
				amount = money.FormatUnits(w.Amount, asset.Decimals)
			}
		}
		snap.Withdrawals = append(snap.Withdrawals, SnapshotWithdrawal{ID: w.ID, Status: w.StatusAt(now), Asset: w.Asset, Network: w.Network,
			Amount: amount, Address: w.Address, ReferenceValue: money.Format(w.ReferenceValue, s.Currency.Decimals), Currency: s.Currency.Code,
			DeviceID: w.DeviceID, IP: w.IP, CreatedAt: w.CreatedAt})
	}
	return snap, nil
}

// Grant hands out a single-use report grant for an account just frozen,
// whose owner has no session any more; "" for an account that is not a user's.
func (s *Service) Grant(ctx context.Context, accountID string) (string, error) {
	now := s.now()
	var plain string
	err := s.Transact(ctx, func(tx Tx) error {
		a, err := tx.AccountByID(ctx, accountID)
		if err != nil || a.Realm != account.RealmUser {
			return err
		}
		var tok account.EmailToken
		plain, tok = account.NewEmailToken(a.ID, PurposeReportGrant, now, s.policy().GrantTTL)
		return tx.InsertEmailToken(ctx, tok)
	})
	return plain, err
}

// GrantValid tells whether a report grant would be accepted now (without
// spending it).
func (s *Service) GrantValid(ctx context.Context, grant string) bool {
	if grant == "" || len(grant) > 200 {
		return false
	}
	now := s.now()
	err := s.View(ctx, func(tx Tx) error {
		_, err := tx.PeekEmailToken(ctx, account.HashToken(grant), PurposeReportGrant, now)
		return err
	})
	return err == nil
}

// Resolve closes an open case with one of its kind's resolutions
// (ResolutionsOf) and a note, and an optional note for staff. A report's
// note is for the user: it is emailed to them and shown on their report
// page. An alerts case's note goes onto each of its open alerts, which take
// its resolution; the user is not told. Nothing else changes: unfreezing
// or lifting a restriction is its own action, after the owner's identity
// is checked.
func (s *Service) Resolve(ctx context.Context, caseID, resolution, note, internalNote string, m account.Meta) (Case, error) {
	note, internalNote = strings.TrimSpace(note), strings.TrimSpace(internalNote)
	switch {
	case note == "":
		return Case{}, ErrNoteMissing
	case utf8.RuneCountInString(note) > MaxNote || utf8.RuneCountInString(internalNote) > MaxNote ||
		!utf8.ValidString(note) || !utf8.ValidString(internalNote):
		return Case{}, ErrNoteTooLong
	}
	now := s.now()
	var c Case
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		c, err = tx.UpdateCase(ctx, caseID, func(old Case) (Case, error) {
			if !ValidResolution(old.Kind, resolution) {
				return old, ErrBadResolution
			}
			if !old.Open() {
				return old, ErrResolved
			}
			old.Status, old.Resolution, old.UserNote, old.InternalNote = StatusResolved, resolution, note, internalNote
			old.ResolvedBy, old.ResolvedAt, old.UpdatedAt = m.Actor, now, now
			return old, nil
		})
		if isNotFound(err) {
			return ErrNoCase
		}
		if err != nil {
			return err
		}
		a, err := tx.AccountByID(ctx, c.AccountID)
		if err != nil {
			return err
		}
		details := map[string]any{"case_id": c.ID, "kind": c.Kind, "resolution": resolution}
		if c.Kind == KindAlerts {
			n, err := tx.ResolveCaseAlerts(ctx, c.ID, resolution, note, m.Actor, now)
			if err != nil {
				return err
			}
			details["alerts_resolved"] = n
		}
		if err := s.Accounts.Record(ctx, tx, a, "case.resolved", m, now, details); err != nil {
			return err
		}
		if c.Kind == KindUserReport {
			if err := s.tellReporter(ctx, tx, a, note, now); err != nil {
				return err
			}
		}
		c, err = tx.CaseByID(ctx, c.ID)
		return err
	})
	if err != nil {
		return Case{}, err
	}
	s.Accounts.AfterCommit(nil)
	return c, nil
}

// tellReporter emails the user who reported their account staff's answer.
func (s *Service) tellReporter(ctx context.Context, tx Tx, a account.Account, note string, now time.Time) error {
	lines := []string{"Our security team has reviewed your report. Their answer:", note}
	if a.Frozen() {
		lines = append(lines, "Your account is still frozen. If you have not done so yet, contact support: they will check who you are and unfreeze it.")
	}
	return s.Accounts.Notify(ctx, tx, a, "account_notice", map[string]any{
		"subject": "Your report was reviewed", "lines": lines,
		"action_url": s.Accounts.BaseURL + "/account/report", "action_label": "See your report",
	}, false, now)
}

// Get reads a case with its reports.
func (s *Service) Get(ctx context.Context, caseID string) (Case, error) {
	var c Case
	err := s.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.CaseByID(ctx, caseID)
		return err
	})
	if isNotFound(err) {
		return Case{}, ErrNoCase
	}
	return c, err
}

// List lists cases, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Case, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []Case
	err := s.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Cases(ctx, f)
		return err
	})
	return out, err
}

// Count counts cases with status ("" for every status).
func (s *Service) Count(ctx context.Context, status string) (int, error) {
	var n int
	err := s.View(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountCases(ctx, status)
		return err
	})
	return n, err
}

// Latest reads the account's newest report case, with its reports.
func (s *Service) Latest(ctx context.Context, accountID string) (Case, error) {
	var c Case
	err := s.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.LatestCaseOf(ctx, accountID, KindUserReport)
		return err
	})
	if isNotFound(err) {
		return Case{}, ErrNoCase
	}
	return c, err
}

// ByAccess reads the case a report's access token follows: the account's
// newest case (a later report may have opened another one).
func (s *Service) ByAccess(ctx context.Context, access string) (Case, error) {
	now := s.now()
	var c Case
	err := s.View(ctx, func(tx Tx) error {
		r, err := reportByAccess(ctx, tx, access, now)
		if err != nil {
			return err
		}
		c, err = tx.LatestCaseOf(ctx, r.AccountID, KindUserReport)
		return err
	})
	if isNotFound(err) {
		return Case{}, ErrNoCase
	}
	return c, err
}

// ResolutionWords names a resolution in words, for staff.
func ResolutionWords(r string) string {
	switch r {
	case ResolutionCompromised:
		return "Compromised: someone else got into the account"
	case ResolutionNotCompromised:
		return "Not compromised: nothing shows anyone else got in"
	case ResolutionInconclusive:
		return "Inconclusive"
	case ResolutionTruePositive:
		return "True positive: the alerts caught real abuse"
	case ResolutionFalsePositive:
		return "False positive: the activity was legitimate"
	}
	return r
}
