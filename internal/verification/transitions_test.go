package verification_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
)

// effects is what one step queued and audited for an account.
type effects struct {
	emails []notify.Email
	hooks  []map[string]any // verification.* webhook bodies
	audits []string
}

// step runs fn a second after the previous step and returns the emails to
// a, the verification webhooks and a's audit records it added.
func (e *env) step(a account.Account, fn func()) effects {
	e.t.Helper()
	e.Clock.Add(time.Second)
	seen := map[string]bool{}
	for _, m := range e.outbox() {
		seen[m.ID] = true
	}
	audited := len(e.AuditActions(e.t, a.ID))
	fn()
	var out effects
	for _, m := range e.outbox() {
		if seen[m.ID] {
			continue
		}
		switch m.Kind {
		case outbox.KindEmail:
			var mail notify.Email
			if err := json.Unmarshal(m.Payload, &mail); err != nil {
				e.t.Fatal(err)
			}
			if mail.To == a.Email {
				out.emails = append(out.emails, mail)
			}
		case outbox.KindWebhook:
			if !strings.HasPrefix(m.Topic, "verification.") {
				continue
			}
			var d notify.WebhookDelivery
			var body map[string]any
			if err := json.Unmarshal(m.Payload, &d); err != nil {
				e.t.Fatal(err)
			}
			if err := json.Unmarshal(d.Body, &body); err != nil {
				e.t.Fatal(err)
			}
			out.hooks = append(out.hooks, body)
		}
	}
	out.audits = e.AuditActions(e.t, a.ID)[audited:]
	return out
}

func (e *env) outbox() []outbox.Message {
	e.t.Helper()
	msgs, err := e.Store.ListOutbox(e.ctx, store.OutboxFilter{Limit: 1000})
	if err != nil || len(msgs) == 1000 {
		e.t.Fatalf("outbox: %d messages, %v", len(msgs), err)
	}
	return msgs
}

// expect checks a step: the audit action, an email with subject whose text
// says each of says, and exactly the webhook named (none when hook is "").
func (f effects) expect(t *testing.T, step, action, subject string, says []string, hook string) map[string]any {
	t.Helper()
	if !slices.Contains(f.audits, action) {
		t.Errorf("%s: no %s audit record in %v", step, action, f.audits)
	}
	var mail *notify.Email
	for i := range f.emails {
		if f.emails[i].Subject == subject {
			mail = &f.emails[i]
		}
	}
	if mail == nil {
		var subjects []string
		for _, m := range f.emails {
			subjects = append(subjects, m.Subject)
		}
		t.Errorf("%s: no email %q to the user (emails: %q)", step, subject, subjects)
	} else {
		for _, want := range says {
			if !strings.Contains(mail.Text, want) {
				t.Errorf("%s: the email %q does not say %q:\n%s", step, subject, want, mail.Text)
			}
		}
	}
	var types []any
	for _, h := range f.hooks {
		types = append(types, h["type"])
	}
	switch {
	case hook == "" && len(f.hooks) > 0:
		t.Errorf("%s: webhooks %v, want none", step, types)
	case hook != "" && (len(f.hooks) != 1 || f.hooks[0]["type"] != hook):
		t.Errorf("%s: webhooks %v, want one %s", step, types, hook)
	case hook != "":
		data, _ := f.hooks[0]["data"].(map[string]any)
		return data
	}
	return nil
}

// Every move of a verification into pending_review, approved, rejected or
// resubmission_requested is audited and emailed to the user; approval and
// rejection are also sent as the verification.approved and
// verification.rejected webhooks — whether staff or a provider decided.
func TestEachTransitionIsAuditedEmailedAndSent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		secret := bytes.Repeat([]byte{5}, 32)
		acme := verification.HMACProvider{ID: "acme", Secret: secret, Tolerance: 5 * time.Minute}
		provider := func(vid, msg string) (verification.Verification, error) {
			body := []byte(msg)
			ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
			return e.svc.ApplyProviderResult(e.ctx, acme, vid, body, ts, verification.Sign(secret, ts, body))
		}
		submit := func(step string, a account.Account) string {
			t.Helper()
			var o verification.Overview
			f := e.step(a, func() {
				var err error
				if o, err = e.svc.Submit(e.ctx, a, meta); err != nil || o.Status != verification.StatusPendingReview {
					t.Fatalf("%s: submit: %+v %v", step, o, err)
				}
			})
			f.expect(t, step, "verification.submitted", "We received your verification", nil, "")
			return o.Current.ID
		}
		ready := func(email string) (account.Account, string) {
			a := e.user(email)
			if _, err := e.svc.SavePersonalInfo(e.ctx, a, info, meta); err != nil {
				t.Fatal(err)
			}
			e.upload(a, verification.PurposeTier, verification.KindPassport, "")
			e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
			return a, submit(email+" submits", a)
		}
		decide := func(a account.Account, vid string, d verification.Decision) effects {
			return e.step(a, func() {
				if _, err := e.svc.Decide(e.ctx, vid, d, reviewer); err != nil {
					t.Fatalf("%s: %v", d.Event, err)
				}
			})
		}
		byProvider := func(a account.Account, vid, msg string) effects {
			return e.step(a, func() {
				if _, err := provider(vid, msg); err != nil {
					t.Fatalf("provider %s: %v", msg, err)
				}
			})
		}

		// Staff: resubmission, submitted again, approval.
		a, vid := ready("staff-ok@example.com")
		decide(a, vid, verification.Decision{Event: verification.EventRequestResubmission, Reason: "The selfie is blurred.",
			Resubmit: []string{verification.RequireSelfie}}).
			expect(t, "staff asks for a selfie again", "verification.resubmission_requested", "Your verification needs another look",
				[]string{"The selfie is blurred.", "a selfie"}, "")
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		vid = submit("submitted again", a)
		data := decide(a, vid, verification.Decision{Event: verification.EventApprove}).
			expect(t, "staff approves", "verification.approved", "Your identity is verified", []string{"tier 2"}, "verification.approved")
		if data["user_id"] != a.ID || data["verification_id"] != vid || data["tier"] != 2.0 || data["decided_at"] == nil {
			t.Errorf("verification.approved data %v", data)
		}

		// Staff: rejection.
		a, vid = ready("staff-no@example.com")
		data = decide(a, vid, verification.Decision{Event: verification.EventReject, Reason: "The document is expired."}).
			expect(t, "staff rejects", "verification.rejected", "We could not verify your identity", []string{"The document is expired."}, "verification.rejected")
		if data["user_id"] != a.ID || data["verification_id"] != vid || data["reason"] != "The document is expired." || data["tier"] != 0.0 {
			t.Errorf("verification.rejected data %v", data)
		}

		// A provider: resubmission, then approval.
		a, vid = ready("provider-ok@example.com")
		byProvider(a, vid, `{"id":"p1","verification_id":"`+vid+`","status":"retry","reason":"The photo is too dark.","resubmit":["selfie"]}`).
			expect(t, "the provider asks again", "verification.resubmission_requested", "Your verification needs another look",
				[]string{"The photo is too dark.", "a selfie"}, "")
		e.upload(a, verification.PurposeTier, verification.KindSelfie, "")
		vid = submit("submitted again for the provider", a)
		data = byProvider(a, vid, `{"id":"p2","verification_id":"`+vid+`","status":"approved"}`).
			expect(t, "the provider approves", "verification.approved", "Your identity is verified", []string{"tier 2"}, "verification.approved")
		if data["user_id"] != a.ID || data["verification_id"] != vid || data["tier"] != 2.0 {
			t.Errorf("verification.approved data (provider) %v", data)
		}

		// A provider: rejection.
		a, vid = ready("provider-no@example.com")
		data = byProvider(a, vid, `{"id":"p3","verification_id":"`+vid+`","status":"rejected","reason":"The face does not match."}`).
			expect(t, "the provider rejects", "verification.rejected", "We could not verify your identity", []string{"The face does not match."}, "verification.rejected")
		if data["user_id"] != a.ID || data["verification_id"] != vid || data["reason"] != "The face does not match." {
			t.Errorf("verification.rejected data (provider) %v", data)
		}

		// A tier without review is approved on submission: the approval is
		// emailed and sent like a reviewer's.
		a = e.user("tier-one@example.com")
		if _, err := e.svc.SavePersonalInfo(e.ctx, a, info, meta); err != nil {
			t.Fatal(err)
		}
		data = e.step(a, func() {
			if o, err := e.svc.Submit(e.ctx, a, meta); err != nil || o.Current.Status != verification.StatusApproved || o.Tier != 1 {
				t.Fatalf("tier 1 submit: tier %d, %s %v", o.Tier, o.Current.Status, err)
			}
		}).expect(t, "tier 1 on submission", "verification.approved", "Your identity is verified", []string{"tier 1"}, "verification.approved")
		if data["user_id"] != a.ID || data["tier"] != 1.0 {
			t.Errorf("verification.approved data (tier 1) %v", data)
		}
	})
}
