package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/document/documenttest"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/web"
)

// kycSite is a site with the verification pages on.
type kycSite struct {
	*site
	kyc *verification.Service
}

// newKYCSite serves the pages with a verification service on the site's
// store, the default tiers and the given document limits.
func newKYCSite(t *testing.T, limits document.Limits) *kycSite {
	t.Helper()
	var kyc *verification.Service
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		kyc = testVerification(t, c, c.Audit.(*store.Store), limits)
		c.Verification = kyc
		c.Currency = money.Currency{Code: "USD", Decimals: 2}
	})
	return &kycSite{site: s, kyc: kyc}
}

// testVerification is the verification service of the test sites on the
// site's store st: the default tiers, the given document limits, a fixed
// key, and a 2FA reset that removes the factors of c's MFA service.
func testVerification(t *testing.T, c *web.Config, st *store.Store, limits document.Limits) *verification.Service {
	t.Helper()
	keys, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	factors := c.MFA
	return &verification.Service{
		Transact: func(ctx context.Context, fn func(verification.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(verification.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: c.Accounts, Keys: keys, Now: time.Now,
		Policy: verification.Policy{
			Tiers: verification.DefaultTiers(), AdultAge: 18, Limits: limits,
			Retention: 90 * 24 * time.Hour, ResetWait: 48 * time.Hour, ResetReminder: 24 * time.Hour,
		},
		Factors: func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (account.Account, error) {
			return factors.RemoveAllFactors(ctx, tx.(mfa.Tx), a.ID, now)
		},
	}
}

// testJPEG and testPNG make small real images, as a phone would send.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 160, A: 255})
		}
	}
	return img
}

// upload posts a multipart form with one file, as the upload forms do.
func (c *client) upload(path string, data []byte, kv ...string) response {
	c.s.t.Helper()
	return c.uploadNamed(path, "upload.bin", data, kv...)
}

// uploadNamed is upload with the file sent under name.
func (c *client) uploadNamed(path, name string, data []byte, kv ...string) response {
	c.s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(kv); i += 2 {
		_ = mw.WriteField(kv[i], kv[i+1])
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		c.s.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", c.s.url+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.site != "" {
		req.Header.Set("Sec-Fetch-Site", c.site)
	}
	return c.do(req)
}

var goodInfo = []string{
	"legal_name", "Vera  Müller-Lüdenscheidt", "date_of_birth", "1990-04-23", "country", "DE",
	"address.line1", "Hauptstraße 5", "address.line2", "", "address.city", "Berlin",
	"address.postal_code", "10115", "address.region", "",
}

// verificationSent goes through the wizard's pages with an ID card and a
// selfie, and submits.
func (s *kycSite) verificationSent(c *client) {
	s.t.Helper()
	t := s.t
	expect(t, "personal info", c.post("/verification/personal-info", goodInfo...), 303, "/verification")
	expect(t, "front", c.upload("/verification/documents", testJPEG(t, 64, 40), "kind", "id_card", "side", "front"), 303, "/verification")
	expect(t, "back", c.upload("/verification/documents", testPNG(t, 64, 40), "kind", "id_card", "side", "back"), 303, "/verification")
	expect(t, "selfie", c.upload("/verification/documents", testJPEG(t, 40, 48), "kind", "selfie"), 303, "/verification")
	expect(t, "submit", c.post("/verification/submit"), 303, "/verification")
}

// overview is the user's verification state, from the service.
func (s *kycSite) overview(email string) verification.Overview {
	s.t.Helper()
	o, err := s.kyc.Overview(context.Background(), s.accountOf(email).ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// pendingID is the id of the one verification waiting for review.
func (s *kycSite) pendingID() string {
	s.t.Helper()
	q, err := s.kyc.Queue(context.Background(), verification.StatusPendingReview, 10)
	if err != nil || len(q) != 1 {
		s.t.Fatalf("queue: %d waiting, %v", len(q), err)
	}
	return q[0].ID
}

func actions(recs []string, action string) int {
	n := 0
	for _, a := range recs {
		if a == action {
			n++
		}
	}
	return n
}

func (s *kycSite) auditActions(userID string) []string {
	var out []string
	for _, r := range s.audit(userID) {
		out = append(out, r.Action)
	}
	return out
}

func TestVerificationWizardAndReview(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{})
	const email = "vera@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	userID := s.accountOf(email).ID

	res := c.get("/account")
	expect(t, "account", res, 200, `<a href="/verification">Verification</a>`, `<a href="/limits">Limits</a>`, `<h3><a href="/verification">Identity verification</a></h3>`)
	res = c.get("/verification")
	expect(t, "first step", res, 200, "Tier 0: Email verified", "Tier 1: Personal information, up to 1000.00 USD per withdrawal and 2000.00 USD in any 24 hours", "Still needed: Personal information.",
		`<strong aria-current="step">Personal information</strong>`, `<form method="post" action="/verification/personal-info" id="info-form" novalidate>`,
		`id="info-dob" name="date_of_birth" type="date" autocomplete="bday"`, `<select id="info-country" name="country" autocomplete="country" required>`,
		`<option value="DE">Germany</option>`, `<option value="AX">Åland Islands</option>`, `autocomplete="address-line1"`)
	if strings.Index(res.body, "Åland Islands") > strings.Index(res.body, "Albania") {
		t.Errorf("countries are not in alphabetical order")
	}

	// Every invalid field says what is wrong, and keeps what was typed.
	res = c.post("/verification/personal-info", "legal_name", "R2-D2", "date_of_birth", time.Now().AddDate(-15, 0, 0).Format(time.DateOnly),
		"country", "XX", "address.line1", "", "address.city", "Springfield", "address.postal_code", strings.Repeat("9", 21))
	expect(t, "invalid info", res, 422, "There is a problem",
		`<a href="#info-legal-name">Use letters, spaces, hyphens, apostrophes and dots only.</a>`,
		`<a href="#info-dob">You must be at least 18 years old.</a>`,
		`<a href="#info-country">Choose your country of residence from the list.</a>`,
		`<a href="#info-line1">This is required.</a>`, `<a href="#info-postal-code">At most 20 characters.</a>`,
		`value="R2-D2"`, `value="Springfield"`, `aria-invalid="true"`)
	if !regexp.MustCompile(`id="info-legal-name"[^>]*autofocus`).MatchString(res.body) || strings.Count(res.body, " autofocus") != 1 {
		t.Errorf("the first invalid field should have the only autofocus")
	}
	if s.overview(email).HasInfo {
		t.Fatal("invalid personal information was stored")
	}

	expect(t, "save info", c.post("/verification/personal-info", goodInfo...), 303, "/verification")
	res = c.get("/verification")
	expect(t, "document step", res, 200, "Your personal information was saved.", `<strong aria-current="step">Government ID</strong>`,
		`<a href="/verification?step=info">Personal information</a> <span class="badge success">Done</span>`,
		`<form method="get" action="/verification" id="choose-kind">`, `id="kind-id_card" name="kind" value="id_card"`)
	absent(t, "document step before a kind", res, `type="file"`)

	res = c.get("/verification?step=document&kind=id_card")
	expect(t, "ID card forms", res, 200, `enctype="multipart/form-data"`, `id="kind-id_card" name="kind" value="id_card" aria-describedby="kind-id_card-hint" checked`,
		`<input id="upload-front" name="file" type="file" accept="image/jpeg,image/png,application/pdf" capture="environment" required`,
		`<input id="upload-back" name="file" type="file" accept="image/jpeg,image/png,application/pdf" capture="environment" required`,
		`<input type="hidden" name="side" value="back">`)

	// A file that is no image is refused with its reason, and nothing is stored.
	res = c.upload("/verification/documents", []byte("MZ\x90\x00 this is a program, not a photo"), "kind", "id_card", "side", "front")
	expect(t, "unsupported file", res, 422, "Unsupported file: ", "upload a JPEG or PNG photo, or a PDF", `href="#upload-front"`,
		`id="upload-front-error"`, `aria-invalid="true" autofocus data-autofocus>`)
	res = c.upload("/verification/documents", append(testJPEG(t, 64, 40)[:200:200], 0, 0), "kind", "id_card", "side", "front")
	expect(t, "damaged JPEG", res, 422, "Damaged file: the JPEG image is damaged or incomplete")
	expect(t, "PDF with script", c.upload("/verification/documents", documenttest.PDF(true), "kind", "id_card", "side", "front"), 422,
		"File has active content: the PDF was refused because")
	expect(t, "no file", c.upload("/verification/documents", nil, "kind", "id_card", "side", "front"), 422, "Choose a file to upload.")
	if o := s.overview(email); len(o.Documents) != 0 {
		t.Fatalf("a refused upload was stored: %+v", o.Documents)
	}
	if n := actions(s.auditActions(userID), "verification.document_added"); n != 0 {
		t.Fatalf("%d document_added records after refused uploads", n)
	}
	expect(t, "unknown kind", c.upload("/verification/documents", testJPEG(t, 8, 8), "kind", "tax_return", "side", "front"), 400)
	// Uploads are form posts too: refused from another site.
	c.site = "cross-site"
	expect(t, "cross-site upload", c.upload("/verification/documents", testJPEG(t, 8, 8), "kind", "id_card", "side", "front"), 403)
	c.site = "same-origin"

	expect(t, "front", c.upload("/verification/documents", testJPEG(t, 64, 40), "kind", "id_card", "side", "front"), 303, "/verification")
	res = c.get("/verification")
	expect(t, "back next", res, 200, "The file was uploaded.", `id="upload-front-done"`, "64×40 pixels", `id="upload-back"`)
	expect(t, "back", c.upload("/verification/documents", testPNG(t, 64, 40), "kind", "id_card", "side", "back"), 303, "/verification")
	res = c.get("/verification")
	expect(t, "selfie step", res, 200, `<strong aria-current="step">Selfie</strong>`,
		`<input id="upload-selfie" name="file" type="file" accept="image/jpeg,image/png" capture="user" required`)
	expect(t, "PDF selfie", c.upload("/verification/documents", documenttest.PDF(false), "kind", "selfie"), 422, "Unsupported file: a selfie must be a photo (JPEG or PNG).")
	// No browser sends a path for a name: such an upload is refused, not stored.
	expect(t, "path in the name", c.uploadNamed("/verification/documents", "../../selfie.jpg", testJPEG(t, 40, 48), "kind", "selfie"), 400,
		"The upload could not be read.")
	absent(t, "path in the name", c.get("/verification?step=review"), "Selfie <span")
	expect(t, "selfie", c.upload("/verification/documents", testJPEG(t, 40, 48), "kind", "selfie"), 303, "/verification")
	res = c.get("/verification")
	expect(t, "review", res, 200, `<strong aria-current="step">Review and submit</strong>`, "Vera Müller-Lüdenscheidt", "1990-04-23", "Germany",
		"ID card, front", "ID card, back", "Selfie", "Submitting asks for <strong>tier 2 (Identity verified)</strong>", `id="submit-verification"`)

	expect(t, "submit", c.post("/verification/submit"), 303, "/verification")
	res = c.get("/verification")
	expect(t, "pending", res, 200, "Your verification was sent for review", "Waiting for review", "Pending review", "for tier 2")
	absent(t, "pending", res, `id="info-form"`, `aria-current="step"`)
	expect(t, "locked", c.post("/verification/personal-info", goodInfo...), 303, "/verification")
	expect(t, "locked notice", c.get("/verification"), 200, "cannot be changed now")

	// Support may not review: neither the queue nor a document.
	id := s.pendingID()
	rv, err := s.kyc.Review(context.Background(), id)
	if err != nil || len(rv.Documents) != 3 {
		t.Fatalf("review: %d documents, %v", len(rv.Documents), err)
	}
	docURL := "/console/verifications/" + id + "/documents/" + rv.Documents[0].ID
	support, _ := s.staffLoggedIn("sue@ops.example", staff.RoleSupport)
	absent(t, "support's console", support.get("/console"), "/console/verifications")
	expect(t, "support queue", support.get("/console/verifications"), 403, "does not allow this")
	expect(t, "support detail", support.get("/console/verifications/"+id), 403)
	expect(t, "support document", support.get(docURL), 403)
	expect(t, "support approves", support.post("/console/verifications/"+id+"/approve"), 403)
	if n := actions(s.auditActions(userID), "verification.document_viewed"); n != 0 {
		t.Fatalf("%d document views recorded for refused requests", n)
	}

	reviewer, member := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "console", reviewer.get("/console"), 200, `<a href="/console/verifications">Verifications</a>`, `id="verifications-queue"`)
	res = reviewer.get("/console/verifications")
	expect(t, "queue", res, 200, `<a href="/console/verifications/`+id+`" class="queue-item">`+email+`</a>`, "Identity verification", "for tier 2",
		`<option value="pending_review" selected>`, `<a href="/console/verifications" aria-current="page">Verifications</a>`)
	res = reviewer.get("/console/verifications/" + id)
	expect(t, "detail", res, 200, `<dd id="person-name">Vera Müller-Lüdenscheidt</dd>`, "Germany (DE)", "Hauptstraße 5", "10115 Berlin",
		`<img class="document-image" src="`+docURL+`" alt="ID card, front" width="64" height="40">`, "ID card, back", "Selfie",
		`action="/console/verifications/`+id+`/approve"`, `id="reject-reason"`, `id="resubmit-selfie" name="resubmit" value="selfie"`)

	// Each view of a document is served safely, and recorded.
	res = reviewer.get(docURL)
	if res.status != 200 {
		t.Fatalf("document: status %d: %s", res.status, res.body)
	}
	for h, want := range map[string]string{
		"Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
		"Content-Disposition": "inline; filename=" + rv.Documents[0].ID + ".jpg",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("document %s = %q, want %q", h, got, want)
		}
	}
	if _, err := jpeg.Decode(strings.NewReader(res.body)); err != nil {
		t.Errorf("the document is not the JPEG: %v", err)
	}
	reviewer.get(docURL)
	var views []string
	for _, rec := range s.audit(userID) {
		if rec.Action == "verification.document_viewed" {
			views = append(views, rec.Actor)
		}
	}
	if len(views) != 2 || views[0] != "staff:"+member.ID {
		t.Errorf("document views recorded: %v, want 2 by staff:%s", views, member.ID)
	}
	expect(t, "document of another verification", reviewer.get("/console/verifications/"+id+"/documents/doc_nope"), 404)
	expect(t, "no such verification", reviewer.get("/console/verifications/ver_nope"), 404)

	// A rejection needs a reason; a resubmission needs items.
	expect(t, "reject without reason", reviewer.post("/console/verifications/"+id+"/reject", "reason", ""), 422, "Give a reason")
	expect(t, "resubmit nothing", reviewer.post("/console/verifications/"+id+"/resubmit", "reason", "the selfie is blurred"), 422,
		"Choose what the user must send again.", ">the selfie is blurred</textarea>")
	c.site = ""
	expect(t, "approve from another site", reviewer.postFrom("https://evil.example", "/console/verifications/"+id+"/approve"), 403)
	expect(t, "approve", reviewer.post("/console/verifications/"+id+"/approve"), 303, "/console/verifications")
	res = reviewer.get("/console/verifications")
	expect(t, "queue after", res, 200, "Approved. The user was emailed.", `id="queue-empty"`)
	expect(t, "approved filter", reviewer.get("/console/verifications?status=approved"), 200, email, "Approved")
	expect(t, "approve again", reviewer.post("/console/verifications/"+id+"/approve"), 303, "/console/verifications/"+id)
	var decided []string
	for _, rec := range s.audit(userID) {
		if rec.Action == "verification.approved" {
			decided = append(decided, rec.Actor)
		}
	}
	if !slices.Equal(decided, []string{"staff:" + member.ID}) {
		t.Errorf("approval recorded by %v", decided)
	}

	res = c.get("/limits")
	expect(t, "limits", res, 200, `<dd id="limits-tier">Tier 2: Identity verified</dd>`, `<dd id="limit-per-transaction">50000.00 USD</dd>`,
		`<dd id="limit-24h">100000.00 USD</dd>`, `<dd id="limit-used">0.00 USD</dd>`, `<span class="badge info">Your tier</span>`)
	absent(t, "limits at the top", res, `id="go-higher"`)
	expect(t, "verified", c.get("/verification"), 200, "Your identity is verified", "Tier 2: Identity verified")
}

func TestVerificationResubmissionAndRejection(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{})
	s.signedUp("rex@example.com")
	c := s.loggedIn("rex@example.com", goodPassword)
	s.verificationSent(c)
	reviewer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	id := s.pendingID()

	expect(t, "ask again", reviewer.post("/console/verifications/"+id+"/resubmit", "resubmit", "selfie", "reason", "Your face is not visible in the selfie."),
		303, "/console/verifications")
	res := c.get("/verification")
	expect(t, "status", res, 200, "We need more from you", "Your face is not visible in the selfie.", "<li>Selfie</li>",
		`<a class="button" href="/verification?step=selfie" id="continue-verification">`)
	expect(t, "submit without the selfie", c.post("/verification/submit"), 422, "Something is still missing: selfie.")
	expect(t, "new selfie", c.upload("/verification/documents", testPNG(t, 30, 30), "kind", "selfie"), 303, "/verification")
	expect(t, "review again", c.get("/verification"), 200, "Review and submit")
	expect(t, "submit again", c.post("/verification/submit"), 303, "/verification")

	id = s.pendingID()
	expect(t, "reject", reviewer.post("/console/verifications/"+id+"/reject", "reason", "The ID card has expired."), 303, "/console/verifications")
	res = c.get("/verification")
	expect(t, "rejected", res, 200, "We could not verify your identity", "The ID card has expired.", `href="/verification?step=info"`)
	expect(t, "limits", c.get("/limits"), 200, "Tier 0: Email verified", `id="go-higher"`, "No withdrawals")
	// Starting again: the form is filled in from the last one.
	expect(t, "start again", c.get("/verification?step=info"), 200, `value="Vera Müller-Lüdenscheidt"`, `<option value="DE" selected>`)
}

func TestVerificationUploadLimits(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{MaxBytes: 16 << 10})
	s.signedUp("lim@example.com")
	c := s.loggedIn("lim@example.com", goodPassword)
	// Over the document's limit but within the body's: package document says by how much.
	big := append(testJPEG(t, 8, 8), make([]byte, 20<<10)...)
	res := c.upload("/verification/documents", big, "kind", "passport")
	expect(t, "over the document limit", res, 422, "File too large: the file is 20.", "the limit is 16.0 KiB", `href="#upload-front"`)
	res = c.upload("/verification/documents", make([]byte, 200<<10), "kind", "passport")
	expect(t, "over the body limit", res, 413, "File too large: the limit is 16 KiB")
	// Sent without a length (chunked), the body is cut off at the limit all the same.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("kind", "passport")
	fw, _ := mw.CreateFormFile("file", "big.jpg")
	_, _ = fw.Write(make([]byte, 200<<10))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", s.url+"/verification/documents", io.MultiReader(&body))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if req.ContentLength != 0 {
		t.Fatalf("the request has a length (%d)", req.ContentLength)
	}
	expect(t, "chunked over the body limit", c.do(req), 413, "File too large: the limit is 16 KiB")
	if o := s.overview("lim@example.com"); len(o.Documents) != 0 || o.Status != verification.StatusNotStarted {
		t.Fatalf("refused uploads changed the verification: %+v", o)
	}
	expect(t, "passport fits", c.upload("/verification/documents", testJPEG(t, 40, 30), "kind", "passport"), 303)
}

func TestMFAResetPages(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{})
	const email = "rita@example.com"
	owner, secret, _ := s.mfaUser(email)
	userID := s.accountOf(email).ID

	lost := s.challenged(email, "")
	expect(t, "challenge", lost.get("/login/challenge"), 200, `<a href="/login/challenge/reset">Lost your authenticator and recovery codes?</a>`)
	expect(t, "no challenge, no reset", s.client().get("/login/challenge/reset"), 303, "/login")
	res := lost.get("/login/challenge/reset")
	expect(t, "explained", res, 200, "You send a photo of your government ID and a selfie.", "a waiting period of 2 days", `<form method="post" action="/login/challenge/reset">`)
	if n := actions(s.auditActions(userID), "mfa_reset.requested"); n != 0 {
		t.Fatal("opening the page started a reset")
	}
	lost.site = "cross-site"
	expect(t, "cross-site", lost.post("/login/challenge/reset"), 403)
	lost.site = "same-origin"
	res = lost.post("/login/challenge/reset")
	expect(t, "start", res, 303, "/mfa-reset")
	var ck *http.Cookie
	for _, c := range res.header.Values("Set-Cookie") {
		if parsed, err := http.ParseSetCookie(c); err == nil && parsed.Name == "warden_mfa_reset" {
			ck = parsed
		}
	}
	if ck == nil || ck.Path != "/mfa-reset" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || len(ck.Value) < 40 {
		t.Fatalf("reset cookie %+v", ck)
	}
	if lost.cookie("warden_mfa_reset") != nil {
		t.Error("the reset cookie is sent beyond /mfa-reset")
	}
	if mails := s.emails(email); len(mails) == 0 || !strings.Contains(mails[0].Subject, "remove two-factor authentication") {
		t.Errorf("the owner was not told of the reset")
	}

	res = lost.get("/mfa-reset")
	expect(t, "reset page", res, 200, "Your reset was started", `<input id="upload-selfie" name="file" type="file" accept="image/jpeg,image/png" capture="user"`,
		`id="reset-not-ready"`)
	expect(t, "reset page asks for the ID", res, 200, `id="kind-passport"`) // even at tier 0
	expect(t, "text as selfie", lost.upload("/mfa-reset/documents", []byte("hello"), "kind", "selfie"), 422, "Unsupported file")
	expect(t, "selfie", lost.upload("/mfa-reset/documents", testPNG(t, 30, 40), "kind", "selfie"), 303, "/mfa-reset")
	expect(t, "submit without the ID", lost.post("/mfa-reset/submit"), 422, "Something is still missing: ")
	expect(t, "passport", lost.upload("/mfa-reset/documents", testJPEG(t, 20, 20), "kind", "passport", "side", "front"), 303, "/mfa-reset?kind=passport")
	expect(t, "ready", lost.get("/mfa-reset"), 200, `id="submit-reset"`, `id="upload-selfie-done"`)
	expect(t, "submit", lost.post("/mfa-reset/submit"), 303, "/mfa-reset")
	expect(t, "pending", lost.get("/mfa-reset"), 200, "Waiting for review", "Pending review")
	// Without the cookie there is nothing to see.
	expect(t, "other browser", s.client().get("/mfa-reset"), 200, "There is no two-factor reset in progress here")

	expect(t, "owner's banner", owner.get("/account/security"), 200, `id="mfa-reset-banner"`, "Someone asked to remove two-factor authentication",
		`<form method="post" action="/account/security/mfa-reset/cancel">`, "What they sent is waiting for our review.")
	expect(t, "owner's account page", owner.get("/account"), 200, `id="mfa-reset-banner"`)

	reviewer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	id := s.pendingID()
	res = reviewer.get("/console/verifications/" + id)
	expect(t, "reset review", res, 200, "Two-factor reset", `id="no-previous"`, "Sent for this reset", `alt="Selfie"`,
		`id="resubmit-selfie"`)
	absent(t, "reset review", res, `id="resubmit-personal_info"`)
	expect(t, "approve", reviewer.post("/console/verifications/"+id+"/approve"), 303, "/console/verifications")
	res = lost.get("/mfa-reset")
	expect(t, "approved", res, 200, "Approved", `id="reset-effective"`)
	v, err := s.kyc.Review(context.Background(), id)
	if err != nil || !strings.Contains(res.body, v.Verification.EffectiveAt.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the page does not say when the reset takes effect (%v)", err)
	}
	expect(t, "owner sees the date", owner.get("/account/security"), 200, `id="mfa-reset-effective"`)

	// The owner, who still has the factor, cancels it.
	expect(t, "cancel", owner.post("/account/security/mfa-reset/cancel"), 303, "/account/security")
	res = owner.get("/account/security")
	expect(t, "cancelled", res, 200, "The two-factor reset was cancelled.")
	absent(t, "cancelled", res, `id="mfa-reset-banner"`)
	expect(t, "cancel again", owner.post("/account/security/mfa-reset/cancel"), 303, "/account/security")
	expect(t, "nothing to cancel", owner.get("/account/security"), 200, "There was no two-factor reset to cancel.")
	expect(t, "reset gone", lost.get("/mfa-reset"), 200, "There is no two-factor reset in progress here")
	if n := actions(s.auditActions(userID), "mfa_reset.cancelled"); n != 1 {
		t.Errorf("%d cancellations recorded", n)
	}
	// The second factor still works.
	again := s.challenged(email, "")
	expect(t, "2FA still on", again.post("/login/challenge", "method", "totp", "code", code(t, secret, 0)), 303, "/account/security-center")

	// A frozen account cannot ask for a reset, even with a challenge open.
	late := s.challenged(email, "")
	expect(t, "freeze", again.post("/account/freeze"), 303, "/frozen")
	expect(t, "frozen: no reset", late.post("/login/challenge/reset"), 303, "/frozen")
	expect(t, "and the challenge is gone", late.get("/login/challenge/reset"), 303, "/login")
	if n := actions(s.auditActions(userID), "mfa_reset.requested"); n != 1 {
		t.Errorf("%d resets requested, want the first only", n)
	}
}

// TestMFAResetAsksForTheID: an account whose tier had a government ID must
// send one again, beside the selfie; the reviewer compares with the earlier one.
func TestMFAResetAsksForTheID(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{})
	const email = "ida@example.com"
	owner, _, _ := s.mfaUser(email)
	s.verificationSent(owner)
	reviewer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "approve", reviewer.post("/console/verifications/"+s.pendingID()+"/approve"), 303)

	lost := s.challenged(email, "")
	expect(t, "explained", lost.get("/login/challenge/reset"), 200, "You send a photo of your government ID and a selfie.")
	expect(t, "start", lost.post("/login/challenge/reset"), 303, "/mfa-reset")
	expect(t, "asks for an ID", lost.get("/mfa-reset"), 200, `id="kind-passport"`, `<form method="get" action="/mfa-reset" id="choose-kind">`)
	expect(t, "passport", lost.upload("/mfa-reset/documents", documenttest.PDF(false), "kind", "passport"), 303, "/mfa-reset?kind=passport")
	expect(t, "selfie", lost.upload("/mfa-reset/documents", testJPEG(t, 30, 40), "kind", "selfie"), 303)
	expect(t, "submit", lost.post("/mfa-reset/submit"), 303, "/mfa-reset")

	id := s.pendingID()
	res := reviewer.get("/console/verifications/" + id)
	rv, err := s.kyc.Review(context.Background(), id)
	if err != nil || rv.Previous == nil || len(rv.PreviousDocuments) != 3 {
		t.Fatalf("review of the reset: %+v, %v", rv.Previous, err)
	}
	expect(t, "side by side", res, 200, "Last approved verification", "Vera Müller-Lüdenscheidt", `id="resubmit-id_document"`,
		fmt.Sprintf(`src="/console/verifications/%s/documents/%s"`, id, rv.PreviousDocuments[0].ID))
	// A PDF is downloaded, never shown, and sandboxed if opened.
	pdf := reviewer.get(fmt.Sprintf("/console/verifications/%s/documents/%s", id, rv.Documents[0].ID))
	for h, want := range map[string]string{
		"Content-Type": "application/pdf", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
		"Content-Disposition": "attachment; filename=" + rv.Documents[0].ID + ".pdf", "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
	} {
		if got := pdf.header.Get(h); got != want {
			t.Errorf("PDF %s = %q, want %q", h, got, want)
		}
	}
	if pdf.status != 200 || pdf.body != string(documenttest.PDF(false)) {
		t.Errorf("PDF: status %d, %d bytes", pdf.status, len(pdf.body))
	}
	expect(t, "PDF link", res, 200, `<a class="button secondary" href="/console/verifications/`+id+`/documents/`+rv.Documents[0].ID+`" download>Download the PDF</a>`)
	// The earlier verification's documents open from the reset's page; others do not.
	expect(t, "earlier document", reviewer.get(fmt.Sprintf("/console/verifications/%s/documents/%s", id, rv.PreviousDocuments[0].ID)), 200)
	expect(t, "unrelated document", reviewer.get(fmt.Sprintf("/console/verifications/%s/documents/%s", rv.Previous.ID, rv.Documents[0].ID)), 404)
}

func TestVerificationPagesNeedSignIn(t *testing.T) {
	t.Parallel()
	s := newKYCSite(t, document.Limits{})
	c := s.client()
	expect(t, "verification", c.get("/verification"), 303, "/login?"+url.Values{"next": {"/verification"}}.Encode())
	expect(t, "limits", c.get("/limits"), 303, "/login?"+url.Values{"next": {"/limits"}}.Encode())
	expect(t, "queue", c.get("/console/verifications"), 303, "/console/login?"+url.Values{"next": {"/console/verifications"}}.Encode())
	// Without a verification service, no pages and no links.
	plain := newSite(t, "http://warden.test")
	plain.signedUp("pat@example.com")
	pc := plain.loggedIn("pat@example.com", goodPassword)
	absent(t, "account without verification", pc.get("/account"), `href="/verification"`, `href="/limits"`)
	expect(t, "no verification page", pc.get("/verification"), 404)
}
