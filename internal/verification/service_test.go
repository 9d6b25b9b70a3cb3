package verification_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/totp/rfc6238"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

var t0 = time.Date(2031, time.March, 4, 5, 6, 10, 0, time.UTC)

var (
	meta     = account.Meta{IP: "203.0.113.7", UserAgent: "verification-test"}
	reviewer = account.Meta{Actor: "staff:stf_reviewer", IP: "198.51.100.1"}
	info     = verification.PersonalInfo{LegalName: "Ada Lovelace", DateOfBirth: "1990-12-10", Country: "GB",
		Address: verification.Address{Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH"}}
)

// env is the verification service assembled as internal/server does, on a
// real store, with an injected clock.
type env struct {
	*servicetest.Services
	t   *testing.T
	ctx context.Context
	svc *verification.Service
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) { fn(t, newEnv(t, st, keys)) })
}

func newEnv(t *testing.T, st *store.Store, keys *keyring.Keyring) *env {
	base := servicetest.New(t, st, keys, servicetest.NewClock(t0))
	svc := &verification.Service{
		Transact: func(ctx context.Context, fn func(verification.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(verification.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts, Keys: keys, Now: base.Clock.Now,
		Policy: verification.Policy{Tiers: tiers(), AdultAge: 18, Limits: document.DefaultLimits(),
			Retention: 30 * 24 * time.Hour, ResetWait: 48 * time.Hour, ResetReminder: 24 * time.Hour},
		Factors: func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (account.Account, error) {
			return base.MFA.RemoveAllFactors(ctx, tx.(mfa.Tx), a.ID, now)
		},
	}
	base.SubscribeWebhooks(t)
	return &env{Services: base, t: t, ctx: context.Background(), svc: svc}
}

func tiers() []verification.Tier {
	return []verification.Tier{
		{Level: 0, Requires: []string{verification.RequireEmailVerified}},
		{Level: 1, Name: "Personal information", Requires: []string{verification.RequireEmailVerified, verification.RequirePersonalInfo},
			PerTransaction: 100000, Rolling24h: 200000},
		{Level: 2, Name: "Identity verified", Requires: []string{verification.RequireEmailVerified, verification.RequirePersonalInfo,
			verification.RequireIDDocument, verification.RequireSelfie}, PerTransaction: 5000000, Rolling24h: 10000000},
	}
}

func (e *env) user(email string) account.Account {
	e.t.Helper()
	addr, key, err := account.NormalizeEmail(email)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.Clock.Now()
	a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key, EmailVerifiedAt: now, CreatedAt: now}
	if err := e.Store.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertAccount(e.ctx, a) }); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// photo is a real JPEG (or PNG) of w×h pixels.
func photo(t *testing.T, kind string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if kind == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (e *env) upload(a account.Account, purpose, kind, side string) verification.Document {
	e.t.Helper()
	d, err := e.svc.AddDocument(e.ctx, a, purpose, verification.Upload{Kind: kind, Side: side, Data: photo(e.t, "jpeg", 64, 48)}, meta)
	if err != nil {
		e.t.Fatalf("upload %s %s: %v", kind, side, err)
	}
	return d
}

func TestTierOneIsGrantedOnSubmission(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("ada@example.com")
		o, err := e.svc.Overview(e.ctx, a.ID)
		if err != nil || o.Status != verification.StatusNotStarted || !slices.Equal(o.Requirements, []string{verification.RequirePersonalInfo, verification.RequireIDDocument, verification.RequireSelfie}) {
			t.Fatalf("fresh overview %+v %v", o, err)
		}
		if _, err := e.svc.Submit(e.ctx, a, meta); !errors.Is(err, verification.ErrIncomplete) {
			t.Fatalf("submit with nothing: %v, want ErrIncomplete", err)
		}
		bad := info
		bad.DateOfBirth, bad.Country = "2099-01-01", "XX"
		var verr *verification.ValidationError
		if _, err := e.svc.SavePersonalInfo(e.ctx, a, bad, meta); !errors.As(err, &verr) || len(verr.Fields) != 2 {
			t.Fatalf("bad info: %v", err)
		}
		if o, _ := e.svc.Overview(e.ctx, a.ID); o.HasInfo || o.Status != verification.StatusNotStarted {
			t.Fatalf("refused info changed the state: %+v", o)
		}
		if o, err = e.svc.SavePersonalInfo(e.ctx, a, info, meta); err != nil || o.Status != verification.StatusInProgress || !o.HasInfo {
			t.Fatalf("save info: %+v %v", o, err)
		}
		got, err := e.svc.PersonalInfo(o.Current)
		if err != nil || got != info {
			t.Fatalf("personal info read back %+v %v", got, err)
		}
		if o, err = e.svc.Submit(e.ctx, a, meta); err != nil || o.Tier != 1 || o.Current.Status != verification.StatusApproved || o.Current.Reviewer != "system" {
			t.Fatalf("submit tier 1: %+v %v", o, err)
		}
		if e.Reload(t, a).VerificationTier != 1 || e.Webhooks(t, "verification.approved") != 1 {
			t.Fatal("tier 1 approval did not set the tier or send the webhook")
		}
		// The next verification starts with the approved information carried over.
		if !slices.Equal(o.Requirements, []string{verification.RequireIDDocument, verification.RequireSelfie}) || o.Status != verification.StatusNotStarted {
			t.Fatalf("after tier 1: %+v", o)
		}
	})
}

func TestTierTwoReviewFlow(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("grace@example.com")
		if _, err := e.svc.SavePersonalInfo(e.ctx, a, info, meta); err != nil {
			t.Fatal(err)
		}
		e.upload(a, verification.PurposeTier, verification.KindIDCard, verification.SideFront)
		// An ID card needs both sides: submitting now aims at tier 1 only,
		// so the test checks the requirement first.
		if o, _ := e.svc.Overview(e.ctx, a.ID); !slices.Equal(o.Requirements, []string{verification.RequireIDDocument, verification.RequireSelfie}) {
			t.Fatalf("one side counted as an ID: %v", o.Requirements)
		}
		e.upload(a, verification.PurposeTier, verification.KindIDCard, verification.SideBack)
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		o, err := e.svc.Submit(e.ctx, a, meta)
		if err != nil || o.Status != verification.StatusPendingReview || o.Current.TargetTier != 2 {
			t.Fatalf("submit: %+v %v", o, err)
		}
		if _, err := e.svc.SavePersonalInfo(e.ctx, a, info, meta); !errors.Is(err, verification.ErrLocked) {
			t.Fatalf("edit while pending: %v, want ErrLocked", err)
		}
		queue, err := e.svc.Queue(e.ctx, verification.StatusPendingReview, 10)
		if err != nil || len(queue) != 1 || queue[0].ID != o.Current.ID {
			t.Fatalf("queue %+v %v", queue, err)
		}
		r, err := e.svc.Review(e.ctx, o.Current.ID)
		if err != nil || r.Info != info || len(r.Documents) != 3 {
			t.Fatalf("review %+v %v", r, err)
		}
		opened, err := e.svc.OpenDocument(e.ctx, r.Documents[0].ID, reviewer)
		if err != nil || opened.MediaType != "image/jpeg" || len(opened.Data) == 0 {
			t.Fatalf("open document: %v", err)
		}
		if !slices.Contains(e.AuditActions(t, a.ID), "verification.document_viewed") {
			t.Fatal("viewing a document left no audit record")
		}

		// Resubmission of the selfie: it leaves the current documents.
		if _, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventRequestResubmission,
			Resubmit: []string{verification.RequireSelfie}}, reviewer); !errors.Is(err, verification.ErrBadDecision) {
			t.Fatalf("resubmission without a reason: %v", err)
		}
		v, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventRequestResubmission,
			Reason: "The selfie is blurred.", Resubmit: []string{verification.RequireSelfie}}, reviewer)
		if err != nil || v.Status != verification.StatusResubmissionRequested {
			t.Fatalf("request resubmission: %+v %v", v, err)
		}
		o, _ = e.svc.Overview(e.ctx, a.ID)
		if len(o.Documents) != 2 || !slices.Equal(o.Requirements, []string{verification.RequireSelfie}) {
			t.Fatalf("after resubmission request: docs %d, requirements %v", len(o.Documents), o.Requirements)
		}
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		if o, err = e.svc.Submit(e.ctx, a, meta); err != nil || o.Status != verification.StatusPendingReview {
			t.Fatalf("resubmit: %+v %v", o, err)
		}
		if _, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventApprove}, reviewer); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventReject, Reason: "x"}, reviewer); !errors.Is(err, verification.ErrDecided) {
			t.Fatalf("second decision: %v, want ErrDecided", err)
		}
		if got := e.Reload(t, a).VerificationTier; got != 2 {
			t.Fatalf("tier %d after approval, want 2", got)
		}
		subjects := e.EmailSubjects(t, a.Email)
		if !slices.Contains(subjects, "Your identity is verified") || !slices.Contains(subjects, "Your verification needs another look") {
			t.Fatalf("emails %q", subjects)
		}
		actions := e.AuditActions(t, a.ID)
		for _, want := range []string{"verification.submitted", "verification.resubmission_requested", "verification.approved"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s in the audit log: %v", want, actions)
			}
		}
	})
}

func TestRejectionIsFinalAndANewVerificationStarts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("rej@example.com")
		e.svc.SavePersonalInfo(e.ctx, a, info, meta)
		e.upload(a, verification.PurposeTier, verification.KindPassport, "")
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		o, err := e.svc.Submit(e.ctx, a, meta)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventReject, Reason: "The document is expired."}, reviewer)
		if err != nil || v.Status != verification.StatusRejected || v.Reason != "The document is expired." {
			t.Fatalf("reject %+v %v", v, err)
		}
		if e.Reload(t, a).VerificationTier != 0 || e.Webhooks(t, "verification.rejected") != 1 {
			t.Fatal("rejection changed the tier or sent no webhook")
		}
		// A new upload starts a new verification, without the old documents
		// or the rejected information.
		e.Clock.Add(time.Minute)
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		o, _ = e.svc.Overview(e.ctx, a.ID)
		if o.Current.ID == v.ID || o.HasInfo || len(o.Documents) != 1 {
			t.Fatalf("new verification %+v", o)
		}
	})
}

func TestUploadsAreCheckedByContent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("up@example.com")
		elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 200)...)
		truncated := photo(t, "jpeg", 64, 48)
		truncated = truncated[:len(truncated)/2]
		for _, tt := range []struct {
			name string
			u    verification.Upload
			want error
		}{
			{"executable", verification.Upload{Kind: verification.KindPassport, Data: elf}, document.ErrUnsupported},
			{"truncated jpeg", verification.Upload{Kind: verification.KindPassport, Data: truncated}, document.ErrCorrupt},
			{"pdf selfie", verification.Upload{Kind: verification.KindSelfie, Data: []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")}, nil},
			{"unknown kind", verification.Upload{Kind: "library_card", Data: photo(t, "png", 8, 8)}, verification.ErrBadKind},
			{"id card without side", verification.Upload{Kind: verification.KindIDCard, Data: photo(t, "png", 8, 8)}, verification.ErrBadKind},
		} {
			_, err := e.svc.AddDocument(e.ctx, a, verification.PurposeTier, tt.u, meta)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		if o, _ := e.svc.Overview(e.ctx, a.ID); len(o.Documents) != 0 || o.Status != verification.StatusNotStarted {
			t.Fatalf("refused uploads stored something: %+v", o)
		}
	})
}

func TestProviderResults(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		secret := bytes.Repeat([]byte{9}, 32)
		p := verification.HMACProvider{ID: "acme", Secret: secret, Tolerance: 5 * time.Minute}
		a := e.user("prov@example.com")
		e.svc.SavePersonalInfo(e.ctx, a, info, meta)
		e.upload(a, verification.PurposeTier, verification.KindPassport, "")
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		o, _ := e.svc.Submit(e.ctx, a, meta)
		send := func(body string, at time.Time, sign []byte) (verification.Verification, error) {
			ts := strconv.FormatInt(at.Unix(), 10)
			return e.svc.ApplyProviderResult(e.ctx, p, o.Current.ID, []byte(body), ts, verification.Sign(sign, ts, []byte(body)))
		}
		now := e.Clock.Now()
		if _, err := send(`{"id":"m1","verification_id":"`+o.Current.ID+`","status":"GREEN"}`, now, []byte("wrong secret")); !errors.Is(err, verification.ErrSignature) {
			t.Fatalf("bad signature: %v", err)
		}
		if _, err := send(`{"id":"m1","verification_id":"`+o.Current.ID+`","status":"GREEN"}`, now.Add(-10*time.Minute), secret); !errors.Is(err, verification.ErrStale) {
			t.Fatalf("old timestamp: %v", err)
		}
		if _, err := send(`{"id":"m1","verification_id":"`+o.Current.ID+`","status":"maybe"}`, now, secret); !errors.Is(err, verification.ErrUnknownStatus) {
			t.Fatalf("unknown status: %v", err)
		}
		if _, err := send(`{"id":"m3","verification_id":"ver_other","status":"GREEN"}`, now, secret); !errors.Is(err, verification.ErrUnknownStatus) {
			t.Fatalf("a message for another verification: %v", err)
		}
		if o2, _ := e.svc.Overview(e.ctx, a.ID); o2.Status != verification.StatusPendingReview {
			t.Fatalf("a refused result changed the status to %s", o2.Status)
		}
		v, err := send(`{"id":"m2","verification_id":"`+o.Current.ID+`","status":"GREEN","reference":"chk_77"}`, now, secret)
		if err != nil || v.Status != verification.StatusApproved || v.Reviewer != "provider:acme" || v.ProviderRef != "chk_77" {
			t.Fatalf("approve by provider: %+v %v", v, err)
		}
		if _, err := send(`{"id":"m2","verification_id":"`+o.Current.ID+`","status":"GREEN","reference":"chk_77"}`, now, secret); !errors.Is(err, verification.ErrReplay) {
			t.Fatalf("replay: %v", err)
		}
		if e.Reload(t, a).VerificationTier != 2 {
			t.Fatal("provider approval did not set the tier")
		}
	})
}

func TestProviderStatusMapping(t *testing.T) {
	p := verification.HMACProvider{ID: "x", Statuses: map[string]string{"ok": verification.EventApprove}}
	for _, tt := range []struct{ status, want string }{
		{"ok", verification.EventApprove}, {"GREEN", verification.EventApprove}, {"Declined", verification.EventReject},
		{"RETRY", verification.EventRequestResubmission},
	} {
		r, err := p.Decode([]byte(fmt.Sprintf(`{"id":"1","status":%q}`, tt.status)))
		if err != nil || r.Decision.Event != tt.want {
			t.Errorf("%s → %+v %v, want %s", tt.status, r.Decision, err, tt.want)
		}
	}
	if _, err := p.Decode([]byte(`{"status":"ok"}`)); !errors.Is(err, verification.ErrUnknownStatus) {
		t.Errorf("no message id: %v", err)
	}
}

func TestRetentionPurgesDocumentsButKeepsTheRecord(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("old@example.com")
		e.svc.SavePersonalInfo(e.ctx, a, info, meta)
		doc := e.upload(a, verification.PurposeTier, verification.KindPassport, "")
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		o, _ := e.svc.Submit(e.ctx, a, meta)
		if _, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventApprove}, reviewer); err != nil {
			t.Fatal(err)
		}
		// Another user uploads and never submits; a third waits for review.
		abandoned := e.user("gone@example.com")
		e.upload(abandoned, verification.PurposeTier, verification.KindSelfie, "")
		waiting := e.user("waiting@example.com")
		e.svc.SavePersonalInfo(e.ctx, waiting, info, meta)
		e.upload(waiting, verification.PurposeTier, verification.KindPassport, "")
		e.upload(waiting, verification.PurposeTier, verification.KindSelfie, "")
		if _, err := e.svc.Submit(e.ctx, waiting, meta); err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(29 * 24 * time.Hour)
		if n, err := e.svc.PurgeDue(e.ctx); err != nil || n != 0 {
			t.Fatalf("purge before retention ends: %d %v", n, err)
		}
		e.Clock.Add(2 * 24 * time.Hour)
		if n, err := e.svc.PurgeDue(e.ctx); err != nil || n != 3 {
			t.Fatalf("purge: %d %v, want 3 (2 decided, 1 abandoned; none pending review)", n, err)
		}
		if _, err := e.svc.OpenDocument(e.ctx, doc.ID, reviewer); !errors.Is(err, verification.ErrPurged) {
			t.Fatalf("open a purged document: %v", err)
		}
		r, err := e.svc.Review(e.ctx, o.Current.ID)
		if err != nil || r.Verification.Status != verification.StatusApproved || r.Documents[0].SHA256 != doc.SHA256 || r.Verification.DocumentsPurgedAt.IsZero() {
			t.Fatalf("after purge %+v %v", r, err)
		}
		if !slices.Contains(e.AuditActions(t, a.ID), "verification.documents_purged") {
			t.Fatal("the purge is not in the audit log")
		}
		if n, _ := e.svc.PurgeDue(e.ctx); n != 0 {
			t.Fatalf("purged %d again", n)
		}
	})
}

// enableMFA gives a a confirmed authenticator app through the mfa service.
func (e *env) enableMFA(a account.Account) account.Account {
	e.t.Helper()
	started, err := e.Sessions.Start(e.ctx, a, session.AAL1, session.Meta{IP: meta.IP})
	if err != nil {
		e.t.Fatal(err)
	}
	en, err := e.MFA.BeginTOTP(e.ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.MFA.ConfirmTOTP(e.ctx, a, started.Session.ID, totpCode(e.t, en.Secret, e.Clock.Now()), meta); err != nil {
		e.t.Fatal(err)
	}
	return e.Reload(e.t, a)
}

func TestMFAResetWaitsThenRemovesTheFactors(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("lost@example.com")
		if _, _, err := e.svc.RequestReset(e.ctx, a, meta); !errors.Is(err, verification.ErrNoMFA) {
			t.Fatalf("reset without 2FA: %v", err)
		}
		a = e.enableMFA(a)
		token, v, err := e.svc.RequestReset(e.ctx, a, meta)
		if err != nil || token == "" {
			t.Fatal(err)
		}
		if _, _, err := e.svc.ResetByToken(e.ctx, "forged"); !errors.Is(err, verification.ErrNoReset) {
			t.Fatalf("forged token: %v", err)
		}
		if _, err := e.svc.SubmitReset(e.ctx, token, meta); !errors.Is(err, verification.ErrIncomplete) {
			t.Fatalf("submit without a selfie: %v", err)
		}
		e.upload(a, verification.PurposeMFAReset, verification.KindSelfie, "")
		if _, err := e.svc.SubmitReset(e.ctx, token, meta); !errors.Is(err, verification.ErrIncomplete) {
			t.Fatalf("submit with a selfie but no ID: %v", err)
		}
		e.upload(a, verification.PurposeMFAReset, verification.KindPassport, "")
		if v, err = e.svc.SubmitReset(e.ctx, token, meta); err != nil || v.Status != verification.StatusPendingReview {
			t.Fatalf("submit reset %+v %v", v, err)
		}
		if v, err = e.svc.Decide(e.ctx, v.ID, verification.Decision{Event: verification.EventApprove}, reviewer); err != nil || !v.Waiting() {
			t.Fatalf("approve reset %+v %v", v, err)
		}
		if !v.EffectiveAt.Equal(e.Clock.Now().Add(48 * time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("effective at %v", v.EffectiveAt)
		}
		e.Clock.Add(25 * time.Hour)
		if n, err := e.svc.RunResets(e.ctx); err != nil || n != 0 || !e.Reload(t, a).MFAEnabled {
			t.Fatalf("reset ran early: %d %v", n, err)
		}
		reminders := 0
		for _, s := range e.EmailSubjects(t, a.Email) {
			if strings.HasPrefix(s, "Two-factor authentication will be removed") {
				reminders++
			}
		}
		if reminders != 1 {
			t.Fatalf("%d reminders after a day, want 1", reminders)
		}
		sess, err := e.Sessions.Start(e.ctx, a, session.AAL1, session.Meta{IP: meta.IP})
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(24 * time.Hour)
		if n, err := e.svc.RunResets(e.ctx); err != nil || n != 1 {
			t.Fatalf("reset after the wait: %d %v", n, err)
		}
		after := e.Reload(t, a)
		if after.MFAEnabled || !after.SecurityChangedAt.Equal(e.Clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("after reset: mfa %v, security change %v", after.MFAEnabled, after.SecurityChangedAt)
		}
		if got, err := e.Store.SessionByTokenHash(e.ctx, sess.Session.TokenHash); err != nil || got.RevokedAt.IsZero() {
			t.Fatalf("session not revoked: %+v %v", got, err)
		}
		if n, _ := e.svc.RunResets(e.ctx); n != 0 {
			t.Fatal("the reset ran twice")
		}
	})
}

func TestMFAResetCancelledByOwnerOrFreeze(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		approve := func(a account.Account) {
			t.Helper()
			token, _, err := e.svc.RequestReset(e.ctx, a, meta)
			if err != nil {
				t.Fatal(err)
			}
			e.upload(a, verification.PurposeMFAReset, verification.KindPassport, "")
			e.upload(a, verification.PurposeMFAReset, verification.KindSelfie, "")
			v, err := e.svc.SubmitReset(e.ctx, token, meta)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Decide(e.ctx, v.ID, verification.Decision{Event: verification.EventApprove}, reviewer); err != nil {
				t.Fatal(err)
			}
		}
		owner := e.enableMFA(e.user("owner@example.com"))
		approve(owner)
		if err := e.svc.CancelReset(e.ctx, owner, meta); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CancelReset(e.ctx, owner, meta); !errors.Is(err, verification.ErrNoReset) {
			t.Fatalf("second cancel: %v", err)
		}
		frozen := e.enableMFA(e.user("frozen@example.com"))
		approve(frozen)
		if _, err := e.Accounts.Freeze(e.ctx, frozen.ID, "not me", meta); err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(49 * time.Hour)
		if n, err := e.svc.RunResets(e.ctx); err != nil || n != 0 {
			t.Fatalf("run: %d %v", n, err)
		}
		if !e.Reload(t, owner).MFAEnabled || !e.Reload(t, frozen).MFAEnabled {
			t.Fatal("a cancelled reset removed the second factor")
		}
		if o, _ := e.svc.Overview(e.ctx, frozen.ID); o.Reset != nil {
			t.Fatalf("frozen account's reset still open: %+v", o.Reset)
		}
	})
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := rfc6238.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// withRestrictions wires the withdrawal restrictions into the service as
// internal/server does, and returns the service that sets them.
func (e *env) withRestrictions() *withdrawal.Service {
	st := e.Store
	wd := &withdrawal.Service{
		Transact: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: e.Accounts, Now: e.Clock.Now,
	}
	e.svc.Approved = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) error {
		return withdrawal.LiftOnVerification(ctx, tx.(withdrawal.Tx), e.Accounts, a, now)
	}
	e.svc.AwaitsVerification = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (bool, error) {
		return withdrawal.AwaitsVerification(ctx, tx.(withdrawal.Tx), a.ID, now)
	}
	return wd
}

// A restriction that waits for a verification is lifted only by a reviewed
// one; at the highest tier, the account verifies again at its own tier
// with fresh documents, rather than waiting for staff.
func TestRestrictionLiftedByVerifyingAgain(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		wd := e.withRestrictions()
		restrict := func(a account.Account) {
			t.Helper()
			if _, err := wd.Restrict(e.ctx, a.ID, withdrawal.NewRestriction{Kind: "withdrawals", Reason: "monitoring rule big_hold",
				LiftOn: "verification"}, account.Meta{Actor: "monitoring"}); err != nil {
				t.Fatal(err)
			}
		}
		restricted := func(a account.Account) bool {
			t.Helper()
			rs, err := wd.Restrictions(e.ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(rs) > 0
		}

		// Personal information alone (tier 1, granted unreviewed) does not lift it.
		bea := e.user("bea@example.com")
		restrict(bea)
		if _, err := e.svc.SavePersonalInfo(e.ctx, bea, info, meta); err != nil {
			t.Fatal(err)
		}
		if o, err := e.svc.Submit(e.ctx, bea, meta); err != nil || o.Tier != 1 || o.Reverify {
			t.Fatalf("tier 1: %+v, %v", o, err)
		}
		if !restricted(bea) {
			t.Fatal("an unreviewed tier lifted the restriction")
		}

		// At the top tier, without a restriction, there is nothing to verify.
		ada := e.user("ada@example.com")
		if err := e.Store.Write(e.ctx, func(tx *store.Tx) error {
			_, err := tx.UpdateAccount(e.ctx, ada.ID, func(old account.Account) (account.Account, error) {
				old.VerificationTier = 2
				return old, nil
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if o, err := e.svc.Overview(e.ctx, ada.ID); err != nil || o.NextTier != nil || o.Reverify {
			t.Fatalf("top tier, unrestricted: %+v, %v", o, err)
		}
		restrict(ada)
		ada = e.Reload(t, ada)
		o, err := e.svc.Overview(e.ctx, ada.ID)
		if err != nil || !o.Reverify || o.NextTier == nil || o.NextTier.Level != 2 ||
			!slices.Equal(o.Requirements, []string{verification.RequirePersonalInfo, verification.RequireIDDocument, verification.RequireSelfie}) {
			t.Fatalf("top tier, restricted: %+v, %v", o, err)
		}
		if _, err := e.svc.Submit(e.ctx, ada, meta); !errors.Is(err, verification.ErrIncomplete) {
			t.Fatalf("submitting nothing: %v", err)
		}
		if _, err := e.svc.SavePersonalInfo(e.ctx, ada, info, meta); err != nil {
			t.Fatal(err)
		}
		e.upload(ada, verification.PurposeTier, verification.KindPassport, "")
		e.upload(ada, verification.PurposeTier, verification.KindSelfie, "")
		o, err = e.svc.Submit(e.ctx, ada, meta)
		if err != nil || o.Status != verification.StatusPendingReview || o.Current.TargetTier != 2 {
			t.Fatalf("submitting again at tier 2: %+v, %v", o, err)
		}
		if !restricted(ada) {
			t.Fatal("submitting lifted the restriction before review")
		}
		if _, err := e.svc.Decide(e.ctx, o.Current.ID, verification.Decision{Event: verification.EventApprove}, reviewer); err != nil {
			t.Fatal(err)
		}
		if restricted(ada) || e.Reload(t, ada).VerificationTier != 2 || len(e.Reload(t, ada).Restrictions) != 0 {
			t.Fatalf("after approval: restricted %v, account %+v", restricted(ada), e.Reload(t, ada))
		}
		if o, _ := e.svc.Overview(e.ctx, ada.ID); o.Reverify || o.NextTier != nil {
			t.Fatalf("lifted, still asked to verify: %+v", o)
		}
	})
}
