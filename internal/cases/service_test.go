package cases_test

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

var t0 = time.Date(2031, time.April, 5, 6, 7, 8, 0, time.UTC)

var (
	meta  = account.Meta{IP: "203.0.113.7", UserAgent: "cases-test"}
	staff = account.Meta{Actor: "staff:stf_1", IP: "198.51.100.1"}
)

// env is the case service assembled as internal/server does, on a real
// store, with an injected clock.
type env struct {
	*servicetest.Services
	t   *testing.T
	ctx context.Context
	svc *cases.Service
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) { fn(t, newEnv(t, st)) })
}

func newEnv(t *testing.T, st *store.Store) *env {
	base := servicetest.New(t, st, nil, servicetest.NewClock(t0))
	svc := &cases.Service{
		Transact: func(ctx context.Context, fn func(cases.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(cases.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts,
		Assets:   withdrawal.Catalog{{Code: "BTC", Decimals: 8}},
		Currency: money.Currency{Code: "USD", Decimals: 2},
		Policy:   cases.Policy{AccessTTL: 24 * time.Hour, GrantTTL: time.Hour},
		Now:      base.Clock.Now,
	}
	return &env{Services: base, t: t, ctx: context.Background(), svc: svc}
}

func (e *env) user(email, realm string) account.Account {
	e.t.Helper()
	addr, key, err := account.NormalizeEmail(email)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.Clock.Now()
	a := account.Account{ID: id.New("usr"), Realm: realm, Email: addr, EmailKey: key, EmailVerifiedAt: now, CreatedAt: now,
		MFAEnabled: true, VerificationTier: 1}
	if err := e.Store.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertAccount(e.ctx, a) }); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// history gives the account a device, a session on it, three logins (the
// last denied by the risk checks) and a withdrawal.
func (e *env) history(a account.Account) (session.Started, session.Device) {
	e.t.Helper()
	now := e.Clock.Now()
	devToken := id.Token("wdv_")
	d := session.Device{ID: id.New("dev"), AccountID: a.ID, TokenHash: account.HashToken(devToken), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		FirstSeenAt: now.Add(-48 * time.Hour), LastSeenAt: now.Add(-time.Hour), LastIP: "81.2.69.1", LastPlace: "London, United Kingdom", TrustedAt: now.Add(-48 * time.Hour)}
	events := []login.Event{
		{ID: id.New("lev"), AccountID: a.ID, At: now.Add(-3 * time.Hour), IP: "81.2.69.1", DeviceID: d.ID, Outcome: login.OutcomeSucceeded},
		{ID: id.New("lev"), AccountID: a.ID, At: now.Add(-2 * time.Hour), IP: "203.0.113.99", Outcome: login.OutcomeChallenged, Reasons: []string{"new_device", "new_country"}, Score: 40, Country: "BR", City: "Recife"},
		{ID: id.New("lev"), AccountID: a.ID, At: now.Add(-time.Hour), IP: "203.0.113.99", Outcome: login.OutcomeDenied, Reasons: []string{"impossible_travel"}, Score: 130, Country: "BR"},
	}
	w := withdrawal.Withdrawal{ID: id.New("wdr"), AccountID: a.ID, Asset: "BTC", Network: "bitcoin", Address: "bc1qexample", Amount: big.NewInt(150000000),
		ReferenceValue: 9000000, Price: "60000", Status: withdrawal.StatusPendingReview, CreatedAt: now.Add(-30 * time.Minute),
		ExpiresAt: now, UpdatedAt: now.Add(-30 * time.Minute), DeviceID: d.ID, IP: "81.2.69.1"}
	if err := e.Store.Write(e.ctx, func(tx *store.Tx) error {
		if err := tx.InsertDevice(e.ctx, d); err != nil {
			return err
		}
		for _, ev := range events {
			if err := tx.InsertLoginEvent(e.ctx, ev); err != nil {
				return err
			}
		}
		return tx.InsertWithdrawal(e.ctx, w)
	}); err != nil {
		e.t.Fatal(err)
	}
	started, err := e.Sessions.Start(e.ctx, a, session.AAL2, session.Meta{IP: "81.2.69.1", UserAgent: d.UserAgent,
		DeviceToken: devToken, Place: d.LastPlace})
	if err != nil {
		e.t.Fatal(err)
	}
	return started, d
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestReportFreezesAndOpensCaseWithSnapshot: a signed-in user's report
// freezes the account, ends its sessions, and opens a case with their words
// and what Warden knew of the account just before: logins with decisions,
// the device, the session it ended and the withdrawal. It is audited and
// the user is emailed; the access token reads the case.
func TestReportFreezesAndOpensCaseWithSnapshot(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("ada@example.com", account.RealmUser)
		started, dev := e.history(a)
		e.Clock.Add(time.Minute)
		rc, err := e.svc.Report(e.ctx, a.ID, "  I did not log in from Brazil, and I did not ask for a withdrawal.\n", meta)
		if err != nil {
			t.Fatal(err)
		}
		if !rc.Froze || rc.Added || !strings.HasPrefix(rc.Access, cases.AccessPrefix) {
			t.Fatalf("receipt: %+v", rc)
		}
		if !e.Reload(t, a).Frozen() || e.Reload(t, a).FrozenReason != cases.FreezeReason {
			t.Fatalf("account not frozen: %+v", e.Reload(t, a))
		}
		if _, _, err := e.Sessions.Resolve(e.ctx, started.Token); err == nil {
			t.Fatal("the session survived the report")
		}
		c := rc.Case
		if c.Status != cases.StatusOpen || !c.Open() || c.AccountID != a.ID || c.Kind != cases.KindUserReport || !c.Froze || len(c.Reports) != 1 {
			t.Fatalf("case: %+v", c)
		}
		r := c.Reports[0]
		if r.Statement != "I did not log in from Brazil, and I did not ask for a withdrawal." || r.Via != cases.ViaSession || r.IP != meta.IP || !r.Froze ||
			r.AccessHash != account.HashToken(rc.Access) || !r.AccessExpiresAt.Equal(t0.Add(time.Minute+24*time.Hour)) {
			t.Fatalf("report: %+v", r)
		}
		snap := r.Snapshot
		if snap.WasFrozen || !snap.MFAEnabled || snap.VerificationTier != 1 || !snap.TakenAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("snapshot state: %+v", snap)
		}
		if len(snap.Logins) != 3 || snap.Logins[0].Outcome != login.OutcomeDenied || snap.Logins[0].Score != 130 ||
			!slices.Equal(snap.Logins[0].Reasons, []string{"impossible_travel"}) || snap.Logins[1].Place != "Recife, BR" ||
			!slices.Equal(snap.Logins[1].Reasons, []string{"new_device", "new_country"}) || snap.Logins[2].DeviceID != dev.ID {
			t.Errorf("snapshot logins: %+v", snap.Logins)
		}
		if len(snap.Devices) != 1 || snap.Devices[0].ID != dev.ID || snap.Devices[0].Description != "Firefox on Linux" || !snap.Devices[0].Trusted ||
			snap.Devices[0].LastPlace != "London, United Kingdom" {
			t.Errorf("snapshot devices: %+v", snap.Devices)
		}
		if len(snap.Sessions) != 1 || snap.Sessions[0].ID != started.Session.ID || snap.Sessions[0].AAL != session.AAL2 {
			t.Errorf("snapshot sessions (taken before the freeze ended them): %+v", snap.Sessions)
		}
		if len(snap.Withdrawals) != 1 || snap.Withdrawals[0].Amount != "1.50000000" || snap.Withdrawals[0].ReferenceValue != "90000.00" ||
			snap.Withdrawals[0].Status != withdrawal.StatusPendingReview || snap.Withdrawals[0].Currency != "USD" {
			t.Errorf("snapshot withdrawals: %+v", snap.Withdrawals)
		}

		acts := e.AuditActions(t, a.ID)
		if count(acts, "account.frozen") != 1 || count(acts, "case.opened") != 1 {
			t.Errorf("audit: %v", acts)
		}
		mails := e.EmailSubjects(t, "ada@example.com")
		if !slices.Contains(mails, "We received your report") || !slices.ContainsFunc(mails, func(s string) bool { return strings.Contains(s, "frozen") }) {
			t.Errorf("emails: %v", mails)
		}

		// The reporter follows the case with the access token, as long as it lasts.
		got, err := e.svc.ByAccess(e.ctx, rc.Access)
		if err != nil || got.ID != c.ID || len(got.Reports) != 1 {
			t.Fatalf("by access: %+v %v", got, err)
		}
		if latest, err := e.svc.Latest(e.ctx, a.ID); err != nil || latest.ID != c.ID {
			t.Fatalf("latest: %+v %v", latest, err)
		}
		for _, bad := range []string{"", "wcr_nope", rc.Access + "x", strings.TrimPrefix(rc.Access, cases.AccessPrefix)} {
			if _, err := e.svc.ByAccess(e.ctx, bad); !errors.Is(err, cases.ErrInvalidToken) {
				t.Errorf("by access %q: %v", bad, err)
			}
		}
		e.Clock.Add(24 * time.Hour)
		if _, err := e.svc.ByAccess(e.ctx, rc.Access); !errors.Is(err, cases.ErrInvalidToken) {
			t.Errorf("by an expired access token: %v", err)
		}
		if n, err := e.svc.Count(e.ctx, cases.StatusOpen); err != nil || n != 1 {
			t.Errorf("open cases: %d %v", n, err)
		}
	})
}

// TestSecondReportAddsToOpenCase: while the case is open, more reports of
// the same user are added to it (the account is frozen once, each report
// has its own snapshot); resolving closes it with a note the user is
// emailed, and the next report opens a new case.
func TestSecondReportAddsToOpenCase(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("bo@example.com", account.RealmUser)
		first, err := e.svc.Report(e.ctx, a.ID, "Someone changed my password.", meta)
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(time.Minute)
		second, err := e.svc.ReportByAccess(e.ctx, first.Access, "And my anti-phishing code too.", meta)
		if err != nil {
			t.Fatal(err)
		}
		if !second.Added || second.Froze || second.Case.ID != first.Case.ID || len(second.Case.Reports) != 2 ||
			second.Case.Reports[1].Via != cases.ViaAccess || !second.Case.Reports[1].Snapshot.WasFrozen || !second.Case.Froze ||
			!second.Case.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("second report: %+v", second)
		}
		acts := e.AuditActions(t, a.ID)
		if count(acts, "account.frozen") != 1 || count(acts, "case.opened") != 1 || count(acts, "case.report_added") != 1 {
			t.Errorf("audit: %v", acts)
		}
		if list, err := e.svc.List(e.ctx, cases.Filter{Status: cases.StatusOpen}); err != nil || len(list) != 1 || list[0].ReportCount != 2 {
			t.Fatalf("open cases: %+v %v", list, err)
		}

		// Resolving needs a known resolution and a note for the user.
		for _, tc := range []struct {
			resolution, note string
			want             error
		}{
			{"maybe", "note", cases.ErrBadResolution},
			{cases.ResolutionCompromised, "  ", cases.ErrNoteMissing},
			{cases.ResolutionCompromised, strings.Repeat("x", cases.MaxNote+1), cases.ErrNoteTooLong},
		} {
			if _, err := e.svc.Resolve(e.ctx, first.Case.ID, tc.resolution, tc.note, "", staff); !errors.Is(err, tc.want) {
				t.Errorf("resolve %q %q: %v, want %v", tc.resolution, tc.note, err, tc.want)
			}
		}
		if _, err := e.svc.Resolve(e.ctx, "cas_nope", cases.ResolutionCompromised, "note", "", staff); !errors.Is(err, cases.ErrNoCase) {
			t.Errorf("resolve a missing case: %v", err)
		}
		e.Clock.Add(time.Hour)
		c, err := e.svc.Resolve(e.ctx, first.Case.ID, cases.ResolutionCompromised, "We confirmed a takeover and reset your access.", "ticket 4711", staff)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != cases.StatusResolved || c.Resolution != cases.ResolutionCompromised || c.UserNote != "We confirmed a takeover and reset your access." ||
			c.InternalNote != "ticket 4711" || c.ResolvedBy != "staff:stf_1" || !c.ResolvedAt.Equal(t0.Add(61*time.Minute)) || len(c.Reports) != 2 {
			t.Fatalf("resolved: %+v", c)
		}
		if _, err := e.svc.Resolve(e.ctx, first.Case.ID, cases.ResolutionNotCompromised, "again", "", staff); !errors.Is(err, cases.ErrResolved) {
			t.Errorf("resolve twice: %v", err)
		}
		if !slices.Contains(e.EmailSubjects(t, "bo@example.com"), "Your report was reviewed") {
			t.Errorf("emails: %v", e.EmailSubjects(t, "bo@example.com"))
		}
		if acts := e.AuditActions(t, a.ID); count(acts, "case.resolved") != 1 {
			t.Errorf("audit: %v", acts)
		}
		// The user reads the resolution with either access token.
		got, err := e.svc.ByAccess(e.ctx, second.Access)
		if err != nil || got.Status != cases.StatusResolved || got.UserNote != c.UserNote {
			t.Fatalf("by access after resolving: %+v %v", got, err)
		}

		// The next report opens a new case; the account is frozen already.
		third, err := e.svc.ReportByAccess(e.ctx, first.Access, "It happened again.", meta)
		if err != nil {
			t.Fatal(err)
		}
		if third.Added || third.Froze || third.Case.ID == first.Case.ID || third.Case.Froze || len(third.Case.Reports) != 1 {
			t.Fatalf("third report: %+v", third)
		}
		if latest, _ := e.svc.Latest(e.ctx, a.ID); latest.ID != third.Case.ID {
			t.Errorf("latest is %s, want %s", latest.ID, third.Case.ID)
		}
		if all, _ := e.svc.List(e.ctx, cases.Filter{AccountID: a.ID}); len(all) != 2 {
			t.Errorf("cases of the account: %+v", all)
		}
	})
}

// TestReportWithoutSession: a frozen user without a session reports with a
// "this wasn't me" token (which it spends, freezing too) or the grant
// handed out after a freeze; neither works twice, nor for another purpose.
// Staff accounts and empty words are refused.
func TestReportWithoutSession(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("cy@example.com", account.RealmUser)
		plain, tok := account.NewEmailToken(a.ID, account.PurposeFreeze, e.Clock.Now(), time.Hour)
		if err := e.Store.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertEmailToken(e.ctx, tok) }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ReportByGrant(e.ctx, plain, "wrong purpose", meta); !errors.Is(err, cases.ErrInvalidToken) {
			t.Fatalf("a freeze token as a grant: %v", err)
		}
		// A refused statement spends nothing.
		if _, err := e.svc.ReportByFreezeToken(e.ctx, plain, " \n ", meta); !errors.Is(err, cases.ErrStatementMissing) {
			t.Fatalf("empty statement: %v", err)
		}
		rc, err := e.svc.ReportByFreezeToken(e.ctx, plain, "I got an email about a login I did not make.", meta)
		if err != nil {
			t.Fatal(err)
		}
		if !rc.Froze || rc.Case.Reports[0].Via != cases.ViaFreezeLink || !e.Reload(t, a).Frozen() {
			t.Fatalf("report by freeze token: %+v", rc)
		}
		if _, err := e.svc.ReportByFreezeToken(e.ctx, plain, "again", meta); !errors.Is(err, cases.ErrInvalidToken) {
			t.Fatalf("a spent freeze token: %v", err)
		}

		e.Clock.Add(time.Second)
		grant, err := e.svc.Grant(e.ctx, a.ID)
		if err != nil || grant == "" || !e.svc.GrantValid(e.ctx, grant) {
			t.Fatalf("grant: %q %v", grant, err)
		}
		if _, err := e.svc.ReportByFreezeToken(e.ctx, grant, "wrong purpose", meta); !errors.Is(err, cases.ErrInvalidToken) {
			t.Fatalf("a grant as a freeze token: %v", err)
		}
		added, err := e.svc.ReportByGrant(e.ctx, grant, "More details: the login was at 3 am.", meta)
		if err != nil || !added.Added || added.Case.ID != rc.Case.ID || added.Case.Reports[1].Via != cases.ViaGrant {
			t.Fatalf("report by grant: %+v %v", added, err)
		}
		if e.svc.GrantValid(e.ctx, grant) {
			t.Error("the grant is still valid after its report")
		}
		if _, err := e.svc.ReportByGrant(e.ctx, grant, "again", meta); !errors.Is(err, cases.ErrInvalidToken) {
			t.Fatalf("a spent grant: %v", err)
		}
		late, _ := e.svc.Grant(e.ctx, a.ID)
		e.Clock.Add(time.Hour)
		if _, err := e.svc.ReportByGrant(e.ctx, late, "late", meta); !errors.Is(err, cases.ErrInvalidToken) {
			t.Fatalf("an expired grant: %v", err)
		}

		for _, tc := range []struct {
			statement string
			want      error
		}{
			{"", cases.ErrStatementMissing},
			{strings.Repeat("é", cases.MaxStatement+1), cases.ErrStatementTooLong},
			{"bad \xff bytes", cases.ErrStatementNotText},
		} {
			if _, err := e.svc.Report(e.ctx, a.ID, tc.statement, meta); !errors.Is(err, tc.want) {
				t.Errorf("statement %.20q: %v, want %v", tc.statement, err, tc.want)
			}
		}
		if _, err := e.svc.Report(e.ctx, a.ID, strings.Repeat("é", cases.MaxStatement), meta); err != nil {
			t.Errorf("the longest statement: %v", err)
		}
		st := e.user("staff@example.com", account.RealmStaff)
		if _, err := e.svc.Report(e.ctx, st.ID, "staff", meta); !errors.Is(err, cases.ErrNotUser) {
			t.Errorf("a staff account's report: %v", err)
		}
		if g, err := e.svc.Grant(e.ctx, st.ID); err != nil || g != "" {
			t.Errorf("a grant for staff: %q %v", g, err)
		}
		if st := e.Reload(t, st); st.Frozen() {
			t.Error("the staff account was frozen")
		}
	})
}

// TestConcurrentReportsOpenOneCase: reports of one user sent at once all
// land in one case (the account lock serialises them across nodes).
func TestConcurrentReportsOpenOneCase(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("dee@example.com", account.RealmUser)
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.Report(e.ctx, a.ID, "Someone is in my account.", meta)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := e.svc.List(e.ctx, cases.Filter{AccountID: a.ID})
		if err != nil || len(list) != 1 || list[0].ReportCount != n {
			t.Fatalf("cases: %+v %v", list, err)
		}
		c, _ := e.svc.Get(e.ctx, list[0].ID)
		froze := 0
		for _, r := range c.Reports {
			if r.Froze {
				froze++
			}
		}
		if froze != 1 || count(e.AuditActions(t, a.ID), "account.frozen") != 1 {
			t.Errorf("%d reports froze the account; audit %v", froze, e.AuditActions(t, a.ID))
		}
		if _, err := e.svc.Get(e.ctx, "cas_nope"); !errors.Is(err, cases.ErrNoCase) {
			t.Errorf("get a missing case: %v", err)
		}
	})
}

// An account frozen by staff (or a rule) has no session and no earlier
// "this wasn't me" link: the frozen email's own link lets its owner report.
func TestFrozenEmailLinkReports(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("dee@example.com", account.RealmUser)
		if _, err := e.Accounts.Freeze(e.ctx, a.ID, "chargeback", account.Meta{Actor: "staff:stf_1"}); err != nil {
			t.Fatal(err)
		}
		var link string
		for _, mail := range e.Emails(t, a.Email) {
			if strings.Contains(mail.Subject, "frozen") {
				if i := strings.Index(mail.Text, "/account/report?token="); i >= 0 {
					link = strings.Fields(mail.Text[i+len("/account/report?token="):])[0]
				}
			}
		}
		if link == "" {
			t.Fatal("the frozen email has no report link")
		}
		rc, err := e.svc.ReportByFreezeToken(e.ctx, link, "I did not make these trades.", meta)
		if err != nil || rc.Case.ID == "" {
			t.Fatalf("report from the frozen email: %+v %v", rc, err)
		}
	})
}
