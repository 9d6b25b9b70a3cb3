package web

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/geoip"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/verification"
)

// Identity verification (KYC) on the pages, and the reset of a lost second
// factor that it makes possible:
//
//   - /verification is a wizard of four steps (personal information, a
//     government ID, a selfie, review and submit) and then the status of the
//     verification. The step shown is the first one still missing, or the
//     one asked for with ?step=; each step posts to its own path and
//     redirects back (Post/Redirect/Get). Uploads are multipart posts of one
//     file each, so the body limit is one document's plus a little;
//     package document decides what a file is and refuses the rest, and
//     the refusal is shown on the form with its reason (nothing is stored).
//   - /limits shows the tier's withdrawal limits and every tier's.
//   - /console/verifications is the review queue of the staff console, for
//     roles with verifications:review: the person's data, the documents side
//     by side (each one served by a handler that records the view in the
//     audit log), and the decision forms.
//   - A user who lost both the authenticator and the recovery codes starts
//     a 2FA reset from the login challenge (the challenge proves the
//     password). The reset's token is kept in a cookie sent to /mfa-reset
//     only, where the selfie (and the ID, when the tier had one) is uploaded
//     and submitted. The owner, logged in with the second factor, sees the
//     reset on the security settings and can cancel it.

// Paths of the verification pages.
const (
	verificationPath         = "/verification"
	limitsPath               = "/limits"
	consoleVerificationsPath = "/console/verifications"
	resetPath                = "/mfa-reset"
	resetStartPath           = "/login/challenge/reset"
)

// scopeVerificationsReview lets a staff role see and decide verifications.
const scopeVerificationsReview = "verifications:review"

// resetCookie holds a 2FA reset's token, sent to resetPath and below only.
const (
	resetCookie         = "warden_mfa_reset"
	resetCookieLifetime = 30 * 24 * time.Hour
)

// uploadOverhead is what a multipart upload's body may hold beside its file:
// the boundaries, the part headers and the few small fields.
const uploadOverhead = 64 << 10

// queueLimit is how many verifications the console's queue lists.
const queueLimit = 200

// Steps of the wizard.
const (
	stepInfo     = "info"
	stepDocument = "document"
	stepSelfie   = "selfie"
	stepReview   = "review"
	stepStatus   = "status"
)

func (p *Pages) registerVerificationPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /verification", p.signedIn(userSignIn, p.verificationPage))
	mux.Handle("POST /verification/personal-info", p.post(p.signedIn(userSignIn, p.savePersonalInfo)))
	mux.Handle("POST /verification/documents", p.upload(p.signedIn(userSignIn, p.uploadDocument)))
	mux.Handle("POST /verification/submit", p.post(p.signedIn(userSignIn, p.submitVerification)))
	mux.HandleFunc("GET /limits", p.signedIn(userSignIn, p.limitsPage))

	mux.HandleFunc("GET "+resetStartPath, p.resetStartPage)
	mux.Handle("POST "+resetStartPath, p.post(p.requestReset))
	mux.HandleFunc("GET /mfa-reset", p.resetPage)
	mux.Handle("POST /mfa-reset/documents", p.upload(p.resetUpload))
	mux.Handle("POST /mfa-reset/submit", p.post(p.submitReset))
	mux.Handle("POST /account/security/mfa-reset/cancel", p.post(p.signedIn(userSignIn, p.cancelReset)))

	review := func(h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scopeVerificationsReview, h))
	}
	mux.HandleFunc("GET /console/verifications", review(p.consoleQueue))
	mux.HandleFunc("GET /console/verifications/{id}", review(p.consoleVerification))
	mux.HandleFunc("GET /console/verifications/{id}/documents/{doc}", review(p.consoleDocument))
	mux.Handle("POST /console/verifications/{id}/approve", p.post(review(p.consoleDecide(verification.EventApprove))))
	mux.Handle("POST /console/verifications/{id}/reject", p.post(review(p.consoleDecide(verification.EventReject))))
	mux.Handle("POST /console/verifications/{id}/resubmit", p.post(review(p.consoleDecide(verification.EventRequestResubmission))))
}

// canReview tells whether a staff member may review verifications (and the
// queue is served at all).
func (p *Pages) canReview(s *member) bool {
	return p.verification != nil && s != nil && p.allows(s.Account.StaffRole, scopeVerificationsReview)
}

// ---- Notices ------------------------------------------------------------------------

const (
	flashInfoSaved          = "verification_info_saved"
	flashDocumentAdded      = "verification_document_added"
	flashVerificationSent   = "verification_submitted"
	flashVerificationGrant  = "verification_granted"
	flashVerificationLocked = "verification_locked"
	flashResetRequested     = "mfa_reset_requested"
	flashResetUploaded      = "mfa_reset_uploaded"
	flashResetSubmitted     = "mfa_reset_submitted"
	flashResetCancelled     = "mfa_reset_cancelled"
	flashResetGone          = "mfa_reset_gone"
	flashDecisionApproved   = "console_verification_approved"
	flashDecisionRejected   = "console_verification_rejected"
	flashDecisionResubmit   = "console_verification_resubmit"
	flashDecisionStale      = "console_verification_stale"
)

func init() {
	maps.Copy(notices, map[string]notice{
		flashInfoSaved:          {"success", "Your personal information was saved."},
		flashDocumentAdded:      {"success", "The file was uploaded."},
		flashVerificationSent:   {"success", "Thank you. Your verification was sent for review; we email you when it is done."},
		flashVerificationGrant:  {"success", "Your verification was approved: your new limits apply now."},
		flashVerificationLocked: {"info", "Your verification is waiting for review, so it cannot be changed now."},
		flashResetRequested:     {"info", "Your reset was started, and we emailed you about it. Send what is asked below."},
		flashResetUploaded:      {"success", "The file was uploaded."},
		flashResetSubmitted:     {"success", "Your reset was sent for review. We email you when it is decided."},
		flashResetCancelled:     {"success", "The two-factor reset was cancelled. Your second factor stays as it is."},
		flashResetGone:          {"info", "There was no two-factor reset to cancel."},
		flashDecisionApproved:   {"success", "Approved. The user was emailed."},
		flashDecisionRejected:   {"success", "Rejected. The user was emailed with your reason."},
		flashDecisionResubmit:   {"success", "The user was asked to send again, and emailed with your reason."},
		flashDecisionStale:      {"info", "This verification was not waiting for review any more, so nothing was done. Check its state below."},
	})
}

// ---- Words --------------------------------------------------------------------------

var requirementWords = map[string]string{
	verification.RequireEmailVerified: "Confirmed email address",
	verification.RequirePersonalInfo:  "Personal information",
	verification.RequireIDDocument:    "Government ID",
	verification.RequireSelfie:        "Selfie",
}

// requirementPhrases say what is to be sent, inside a sentence.
var requirementPhrases = map[string]string{
	verification.RequireEmailVerified: "a confirmed email address",
	verification.RequirePersonalInfo:  "your personal information",
	verification.RequireIDDocument:    "a photo of your government ID",
	verification.RequireSelfie:        "a selfie",
}

// sendList says what reqs ask for as a sentence's part: "a photo of your
// government ID and a selfie".
func sendList(reqs []string) string {
	var words []string
	for _, r := range reqs {
		words = append(words, cmpOr(requirementPhrases[r], r))
	}
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func requirementsInWords(reqs []string) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, cmpOr(requirementWords[r], r))
	}
	return out
}

var statusWords = map[string]string{
	verification.StatusNotStarted:            "Not started",
	verification.StatusInProgress:            "In progress",
	verification.StatusPendingReview:         "Waiting for review",
	verification.StatusApproved:              "Approved",
	verification.StatusRejected:              "Rejected",
	verification.StatusResubmissionRequested: "Asked to send again",
}

// statusOf says where a verification is, in words, resets' own states included.
func statusOf(v verification.Verification) string {
	switch {
	case !v.CancelledAt.IsZero():
		return "Cancelled"
	case !v.CompletedAt.IsZero():
		return "Completed"
	case v.Waiting():
		return "Approved, waiting period"
	}
	return cmpOr(statusWords[v.Status], v.Status)
}

func purposeWords(purpose string) string {
	if purpose == verification.PurposeMFAReset {
		return "Two-factor reset"
	}
	return "Identity verification"
}

// documentLabel names a document as people say it.
func documentLabel(kind, side string) string {
	switch kind {
	case verification.KindPassport:
		return "Passport, photo page"
	case verification.KindSelfie:
		return "Selfie"
	}
	name := map[string]string{verification.KindIDCard: "ID card", verification.KindDriversLicense: "Driving licence"}[kind]
	if name == "" {
		name = kind
	}
	if side == verification.SideBack {
		return name + ", back"
	}
	return name + ", front"
}

// durationWords says a waiting period: "2 days", "36 hours", "30 minutes".
func durationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return plural(int64((d+time.Hour-1)/time.Hour), "hour")
	}
	return howLong(int64((d + time.Second - 1) / time.Second))
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", (n+1<<10-1)>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// sentence makes a detail from the domain ("choose your country") a sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// ---- Countries ----------------------------------------------------------------------

type countryOption struct{ Code, Name string }

// countries lists the ISO 3166-1 countries geoip knows, by name.
var countries = sync.OnceValue(func() []countryOption {
	var out []countryOption
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if code := string([]rune{a, b}); geoip.IsCountry(code) {
				out = append(out, countryOption{Code: code, Name: geoip.CountryName(code)})
			}
		}
	}
	slices.SortFunc(out, func(x, y countryOption) int { return strings.Compare(sortKey(x.Name), sortKey(y.Name)) })
	return out
})

// unaccent puts the accented Latin letters that begin country names with
// their base letter, so that "Åland Islands" sorts with the A's.
var unaccent = strings.NewReplacer("Å", "A", "Á", "A", "À", "A", "Ä", "A", "Ç", "C", "É", "E", "Ö", "O", "Ü", "U", "Ô", "O", "ç", "c", "é", "e", "ã", "a", "ô", "o", "ü", "u", "í", "i")

func sortKey(name string) string { return strings.ToLower(unaccent.Replace(name)) }

// ---- Tiers --------------------------------------------------------------------------

// tierView is a tier as the pages show it.
type tierView struct {
	Level    int
	Name     string
	Requires []string // in words
	// PerTransaction and Rolling24h are formatted amounts; NoWithdrawals
	// when the tier allows none.
	PerTransaction string
	Rolling24h     string
	NoWithdrawals  bool
	Current        bool
	// Reviewed: reaching the tier needs a person to look at documents.
	Reviewed bool
}

func (p *Pages) tierView(t verification.Tier, current int) tierView {
	return tierView{
		Level: t.Level, Name: cmpOr(t.Name, fmt.Sprintf("Tier %d", t.Level)), Requires: requirementsInWords(t.Requires),
		PerTransaction: p.currency.Format(t.PerTransaction), Rolling24h: p.currency.Format(t.Rolling24h),
		NoWithdrawals: t.PerTransaction == 0 && t.Rolling24h == 0, Current: t.Level == current,
		Reviewed: slices.Contains(t.Requires, verification.RequireIDDocument) || slices.Contains(t.Requires, verification.RequireSelfie),
	}
}

// tiers is the policy's tiers, lowest first.
func (p *Pages) tiers() []verification.Tier {
	ts := slices.Clone(p.verification.Policy.Tiers)
	slices.SortFunc(ts, func(a, b verification.Tier) int { return a.Level - b.Level })
	return ts
}

// ---- Documents ---------------------------------------------------------------------

// docView is an uploaded document as the pages show it (never its content).
type docView struct {
	ID, Kind, Side, Label string
	MediaType             string
	Image, PDF            bool
	Width, Height         int
	Size                  string
	SHA256                string
	CreatedAt             time.Time
	Replaced, Purged      bool
	// URL shows the document to a reviewer (console only).
	URL string
}

func docViewOf(d verification.Document, url string) docView {
	return docView{
		ID: d.ID, Kind: d.Kind, Side: d.Side, Label: documentLabel(d.Kind, d.Side), MediaType: d.MediaType,
		Image: d.MediaType == string(document.KindJPEG) || d.MediaType == string(document.KindPNG),
		PDF:   d.MediaType == string(document.KindPDF), Width: d.Width, Height: d.Height, Size: humanSize(d.Size),
		SHA256: d.SHA256, CreatedAt: d.CreatedAt, Replaced: !d.ReplacedAt.IsZero(), Purged: !d.PurgedAt.IsZero(), URL: url,
	}
}

// idKindOptions are the government IDs a user may send.
var idKindOptions = []struct{ Kind, Label, Hint string }{
	{verification.KindPassport, "Passport", "The page with your photo."},
	{verification.KindIDCard, "National ID card", "Both sides."},
	{verification.KindDriversLicense, "Driving licence", "Both sides."},
}

type kindOption struct {
	Value, Label, Hint string
	Checked            bool
}

// uploadForm is the form that uploads one document ("upload-form" in
// verification-parts.html).
type uploadForm struct {
	ID         string // of the file input
	Action     string
	Kind, Side string
	Label      string
	Hint       string
	Accept     string
	Capture    string // environment (the back camera) or user (the front one)
	Button     string
	Error      string
	// Done is the current upload of this kind and side, if any.
	Done *docView
}

const (
	acceptDocument = "image/jpeg,image/png,application/pdf"
	acceptPhoto    = "image/jpeg,image/png"
)

// idStep is the government-ID part of a page ("id-document"): which kind,
// and a form per side of it.
type idStep struct {
	// ChooseAction and ChooseStep make the GET form that picks the kind.
	ChooseAction string
	ChooseStep   string
	Kinds        []kindOption
	Kind         string
	Uploads      []uploadForm
	Complete     bool
}

// newIDStep draws the ID forms for kind ("" until one is chosen, or the kind
// of the current uploads), posting to action.
func newIDStep(chooseAction, chooseStep, action, kind string, docs []verification.Document, limit int64) idStep {
	if kind == "" {
		for _, d := range docs {
			if d.Kind != verification.KindSelfie && d.ReplacedAt.IsZero() {
				kind = d.Kind
			}
		}
	}
	s := idStep{ChooseAction: chooseAction, ChooseStep: chooseStep, Kind: kind, Complete: verification.IDComplete(docs)}
	for _, k := range idKindOptions {
		s.Kinds = append(s.Kinds, kindOption{Value: k.Kind, Label: k.Label, Hint: k.Hint, Checked: k.Kind == kind})
	}
	if kind == "" {
		return s
	}
	sides := []string{verification.SideFront}
	if kind != verification.KindPassport {
		sides = append(sides, verification.SideBack)
	}
	for _, side := range sides {
		u := uploadForm{
			ID: "upload-" + side, Action: action, Kind: kind, Side: side, Label: documentLabel(kind, side),
			Hint:   "A sharp photo or scan, all four corners in view, no glare: JPEG, PNG or PDF, at most " + humanSize(limit) + ".",
			Accept: acceptDocument, Capture: "environment",
		}
		switch {
		case kind == verification.KindPassport:
			u.Button = "Upload the photo page"
		case side == verification.SideBack:
			u.Button = "Upload the back"
		default:
			u.Button = "Upload the front"
		}
		u.Done = currentDoc(docs, kind, side)
		s.Uploads = append(s.Uploads, u)
	}
	return s
}

func selfieForm(action string, docs []verification.Document, limit int64) uploadForm {
	return uploadForm{
		ID: "upload-selfie", Action: action, Kind: verification.KindSelfie, Label: "Selfie",
		Hint:   "A photo of your face, looking at the camera, in good light, without a hat or sunglasses: JPEG or PNG, at most " + humanSize(limit) + ".",
		Accept: acceptPhoto, Capture: "user", Button: "Upload the selfie", Done: currentDoc(docs, verification.KindSelfie, ""),
	}
}

// currentDoc is the upload of kind and side not replaced since, if any.
func currentDoc(docs []verification.Document, kind, side string) *docView {
	for i := len(docs) - 1; i >= 0; i-- {
		d := docs[i]
		if d.Kind == kind && d.ReplacedAt.IsZero() && (d.Side == side || (kind == verification.KindPassport && side == verification.SideFront)) {
			v := docViewOf(d, "")
			return &v
		}
	}
	return nil
}

// failUpload puts msg on the form of kind and side.
func failUpload(forms []uploadForm, kind, side, msg string) bool {
	for i := range forms {
		if forms[i].Kind == kind && (forms[i].Side == side || kind == verification.KindPassport) {
			forms[i].Error = msg
			return true
		}
	}
	return false
}

// ---- Uploads -----------------------------------------------------------------------

// maxUpload is the largest document accepted (document.Limits.MaxBytes).
func (p *Pages) maxUpload() int64 {
	if n := p.verification.Policy.Limits.MaxBytes; n > 0 {
		return n
	}
	return document.DefaultLimits().MaxBytes
}

// upload guards an upload handler as post guards a form's: cross-origin
// posts are refused (CSRF), and the body is bounded by one document and
// its overhead. The handler reads the body with readUpload.
func (p *Pages) upload(h http.HandlerFunc) http.Handler {
	return p.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, p.maxUpload()+uploadOverhead)
		h(w, r)
	}))
}

// uploaded is a multipart upload of one document.
type uploaded struct {
	kind, side string
	data       []byte
	// tooLarge: the body was over the limit, and was not read to its end.
	tooLarge bool
}

var errBadUpload = errors.New("upload: not a form of the expected shape")

// readUpload reads an upload's fields (kind, side) and its file ("file").
func readUpload(r *http.Request, limit int64) (uploaded, error) {
	var up uploaded
	if r.ContentLength > limit+uploadOverhead {
		up.tooLarge = true
		return up, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return up, errBadUpload
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return up, errBadUpload
	}
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, readFailure(&up, err)
		}
		switch part.FormName() {
		case "file":
			// A path for a name is no browser's (they send the bare name): refused.
			if gotFile || document.NameHasPath(part.Header.Get("Content-Disposition")) {
				return up, errBadUpload
			}
			gotFile = true
			if up.data, err = io.ReadAll(part); err != nil {
				return up, readFailure(&up, err)
			}
		case "kind", "side":
			v, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil {
				return up, readFailure(&up, err)
			}
			if len(v) > 64 {
				return up, errBadUpload
			}
			if part.FormName() == "kind" {
				up.kind = strings.TrimSpace(string(v))
			} else {
				up.side = strings.TrimSpace(string(v))
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return up, readFailure(&up, err)
			}
		}
	}
	return up, nil
}

// readFailure tells an oversized body from a malformed one.
func readFailure(up *uploaded, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		up.tooLarge, up.data = true, nil
		return nil
	}
	return errBadUpload
}

// uploadRefusal explains why an upload was refused; "" when err is not a
// refusal of the file (then it is the server's problem).
func uploadRefusal(err error) string {
	for _, sentinel := range []error{document.ErrTooLarge, document.ErrUnsupported, document.ErrCorrupt,
		document.ErrActiveContent, document.ErrTooManyPixels} {
		if errors.Is(err, sentinel) {
			// The error reads "<what>: <why>", both meant for the user.
			return sentence(err.Error())
		}
	}
	return ""
}

// checkUpload says what is wrong with an upload before it is handed on,
// "" when nothing is. The status is the one to answer with.
func (p *Pages) checkUpload(up uploaded) (string, int) {
	switch {
	case up.tooLarge:
		return fmt.Sprintf("File too large: the limit is %s. Take the photo again at a lower resolution, or scan at 300 dpi.",
			humanSize(p.maxUpload())), http.StatusRequestEntityTooLarge
	case len(up.data) == 0:
		return "Choose a file to upload.", http.StatusUnprocessableEntity
	}
	return "", 0
}

// ---- The wizard ---------------------------------------------------------------------

type wizardStep struct {
	Key, Label string
	Href       string
	Done       bool
	Current    bool
}

// infoView is the personal information as the review step shows it.
type infoView struct {
	verification.PersonalInfo
	CountryName string
}

type verificationData struct {
	Step  string
	Steps []wizardStep
	// Tier is the account's tier; Next the one above it (nil at the top);
	// Target the tier that submitting now reaches (nil when none).
	Tier   tierView
	Next   *tierView
	Target *tierView
	// Reverify: a pause on withdrawals waits for the user to verify again
	// at their own tier (Next is then that tier).
	Reverify bool
	Status   string // the verification's
	// Verification is the latest tier verification.
	Verification verification.Verification
	// Resubmit names what a reviewer asked for again; Reason is theirs.
	Resubmit []string
	Reason   string
	// ContinueHref is the first step still to do.
	ContinueHref string

	Info      *form
	Countries []countryOption
	ID        idStep
	Selfie    uploadForm
	// UploadErrors summarises a refused upload ("error-summary").
	UploadErrors *form

	// Review.
	Summary   *infoView
	Documents []docView
	Missing   []string // in words: what the next tier still needs
	Submit    *form
}

// progress is what the account has toward the tiers: the requirements met
// and the current documents, of the verification still open (a decided one
// is history: only an approved one's personal information carries over).
func progress(a account.Account, o verification.Overview) (have []string, docs []verification.Document) {
	info := o.HasInfo
	docs = o.Documents
	if o.Current.Final() {
		info, docs = o.Current.Status == verification.StatusApproved && o.HasInfo, nil
	}
	if a.Verified() {
		have = append(have, verification.RequireEmailVerified)
	}
	if info {
		have = append(have, verification.RequirePersonalInfo)
	}
	if verification.IDComplete(docs) {
		have = append(have, verification.RequireIDDocument)
	}
	if slices.ContainsFunc(docs, func(d verification.Document) bool {
		return d.Kind == verification.KindSelfie && d.ReplacedAt.IsZero()
	}) {
		have = append(have, verification.RequireSelfie)
	}
	return have, docs
}

// wizard is the state of a user's verification and what the page shows of it.
type wizard struct {
	account  account.Account
	overview verification.Overview
	have     []string
	docs     []verification.Document
	// needs lists what the highest tier still needs, with what a reviewer
	// asked for again.
	needs []string
}

func (p *Pages) loadWizard(r *http.Request, u *member) (wizard, error) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		return wizard{}, err
	}
	o, err := p.verification.Overview(r.Context(), u.Account.ID)
	if err != nil {
		return wizard{}, err
	}
	z := wizard{account: a, overview: o}
	z.have, z.docs = progress(a, o)
	ts := p.tiers()
	switch {
	case o.Reverify:
		z.needs = verification.Missing(*o.NextTier, z.have)
	case len(ts) > 0 && ts[len(ts)-1].Level > o.Tier:
		z.needs = verification.Missing(ts[len(ts)-1], z.have)
	}
	if !o.Current.Final() {
		for _, item := range o.Current.Resubmit {
			if !slices.Contains(z.needs, item) {
				z.needs = append(z.needs, item)
			}
		}
	}
	return z, nil
}

// locked: the verification waits for review (or the top tier is reached),
// so there is nothing to edit.
func (z wizard) locked() bool {
	return z.overview.Status == verification.StatusPendingReview || z.overview.NextTier == nil
}

// firstStep is the first step still to do.
func (z wizard) firstStep() string {
	for _, s := range []struct{ step, req string }{
		{stepInfo, verification.RequirePersonalInfo},
		{stepDocument, verification.RequireIDDocument},
		{stepSelfie, verification.RequireSelfie},
	} {
		if slices.Contains(z.needs, s.req) {
			return s.step
		}
	}
	return stepReview
}

// stepFor is the step shown for the asked one ("" for the default).
func (z wizard) stepFor(asked string) string {
	if z.locked() {
		return stepStatus
	}
	switch asked {
	case stepInfo, stepDocument, stepSelfie, stepReview:
		return asked
	}
	switch z.overview.Status {
	case verification.StatusRejected, verification.StatusResubmissionRequested:
		return stepStatus
	}
	return z.firstStep()
}

func stepHref(step string) string { return verificationPath + "?step=" + step }

// verificationView builds the page for step; kind is the ID kind asked for.
func (p *Pages) verificationView(r *http.Request, z wizard, step, kind string) (verificationData, error) {
	o := z.overview
	d := verificationData{Step: step, Status: o.Status, Verification: o.Current, Reason: o.Current.Reason,
		Resubmit: requirementsInWords(o.Current.Resubmit), ContinueHref: stepHref(z.firstStep())}
	d.Tier = p.tierView(p.verification.Policy.TierByLevel(o.Tier), o.Tier)
	if o.NextTier != nil {
		next := p.tierView(*o.NextTier, o.Tier)
		d.Next = &next
	}
	for _, t := range p.tiers() {
		if t.Level > o.Tier && len(verification.Missing(t, z.have)) == 0 {
			tv := p.tierView(t, o.Tier)
			d.Target = &tv
		}
	}
	if d.Reverify = o.Reverify; o.Reverify && d.Target == nil && len(verification.Missing(*o.NextTier, z.have)) == 0 {
		d.Target = d.Next
	}
	if o.NextTier != nil {
		d.Missing = requirementsInWords(verification.Missing(*o.NextTier, z.have))
	}
	done := func(req string) bool {
		return slices.Contains(z.have, req) && !slices.Contains(o.Current.Resubmit, req)
	}
	for _, s := range []struct{ key, label, req string }{
		{stepInfo, "Personal information", verification.RequirePersonalInfo},
		{stepDocument, "Government ID", verification.RequireIDDocument},
		{stepSelfie, "Selfie", verification.RequireSelfie},
		{stepReview, "Review and submit", ""},
	} {
		d.Steps = append(d.Steps, wizardStep{Key: s.key, Label: s.label, Href: stepHref(s.key), Done: s.req != "" && done(s.req), Current: s.key == step})
	}
	switch step {
	case stepInfo:
		d.Info = infoForm()
		d.Countries = countries()
		if slices.Contains(z.have, verification.RequirePersonalInfo) || len(o.Current.SealedInfo) > 0 {
			info, err := p.verification.PersonalInfo(o.Current)
			if err != nil {
				return d, err
			}
			fillInfo(d.Info, info)
		}
	case stepDocument:
		d.ID = newIDStep(verificationPath, stepDocument, verificationPath+"/documents", kind, z.docs, p.maxUpload())
	case stepSelfie:
		d.Selfie = selfieForm(verificationPath+"/documents", z.docs, p.maxUpload())
	case stepReview:
		d.Submit = newForm()
		if slices.Contains(z.have, verification.RequirePersonalInfo) {
			info, err := p.verification.PersonalInfo(o.Current)
			if err != nil {
				return d, err
			}
			d.Summary = &infoView{PersonalInfo: info, CountryName: geoip.CountryName(info.Country)}
		}
		for _, doc := range z.docs {
			if doc.ReplacedAt.IsZero() {
				d.Documents = append(d.Documents, docViewOf(doc, ""))
			}
		}
	}
	return d, nil
}

// showWizard draws the verification page for step with status.
func (p *Pages) showWizard(w http.ResponseWriter, r *http.Request, status int, d verificationData) {
	if d.Info != nil {
		d.Info.finish()
	}
	if d.Submit != nil {
		d.Submit.finish()
	}
	p.Render(w, r, status, "verification", d)
}

func (p *Pages) verificationPage(w http.ResponseWriter, r *http.Request, u *member) {
	z, err := p.loadWizard(r, u)
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	q := r.URL.Query()
	d, err := p.verificationView(r, z, z.stepFor(q.Get("step")), validKind(q.Get("kind")))
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	p.showWizard(w, r, http.StatusOK, d)
}

// validKind is kind when it names a government ID, "" otherwise.
func validKind(kind string) string {
	for _, k := range idKindOptions {
		if k.Kind == kind {
			return kind
		}
	}
	return ""
}

// ---- Personal information ------------------------------------------------------------

func infoForm() *form {
	return newForm(
		&field{ID: "info-legal-name", Name: "legal_name", Label: "Full legal name", Type: "text", Autocomplete: "name",
			Hint: "As written on your ID, with all your given names.", Required: true, MaxLength: 200},
		&field{ID: "info-dob", Name: "date_of_birth", Label: "Date of birth", Type: "date", Autocomplete: "bday", Required: true,
			Hint: "For example 1990-04-23."},
		&field{ID: "info-country", Name: "country", Label: "Country of residence", Type: "select", Autocomplete: "country", Required: true},
		&field{ID: "info-line1", Name: "address.line1", Label: "Address", Type: "text", Autocomplete: "address-line1",
			Hint: "Street and house number.", Required: true, MaxLength: 200},
		&field{ID: "info-line2", Name: "address.line2", Label: "Address, second line (optional)", Type: "text", Autocomplete: "address-line2", MaxLength: 200},
		&field{ID: "info-city", Name: "address.city", Label: "Town or city", Type: "text", Autocomplete: "address-level2", Required: true, MaxLength: 100},
		&field{ID: "info-postal-code", Name: "address.postal_code", Label: "Postal code (optional)", Type: "text", Autocomplete: "postal-code", MaxLength: 20},
		&field{ID: "info-region", Name: "address.region", Label: "State, province or region (optional)", Type: "text", Autocomplete: "address-level1", MaxLength: 100},
	)
}

func fillInfo(f *form, info verification.PersonalInfo) {
	for name, v := range map[string]string{
		"legal_name": info.LegalName, "date_of_birth": info.DateOfBirth, "country": info.Country,
		"address.line1": info.Address.Line1, "address.line2": info.Address.Line2, "address.city": info.Address.City,
		"address.postal_code": info.Address.PostalCode, "address.region": info.Address.Region,
	} {
		f.F(name).Value = v
	}
}

// hasField tells whether f has a field called name.
func hasField(f *form, name string) bool {
	return slices.ContainsFunc(f.fields, func(fl *field) bool { return fl.Name == name })
}

func (p *Pages) savePersonalInfo(w http.ResponseWriter, r *http.Request, u *member) {
	z, err := p.loadWizard(r, u)
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	if z.locked() {
		p.redirect(w, r, verificationPath, flashVerificationLocked)
		return
	}
	d, err := p.verificationView(r, z, stepInfo, "")
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	f := infoForm()
	d.Info = f
	values := map[string]string{}
	for _, fl := range f.fields {
		v, ok := readField(r, fl.Name, true)
		if ok {
			fl.Value = v
		} else {
			f.fail(fl.Name, "This is far too long.")
		}
		values[fl.Name] = v
	}
	if f.HasErrors() {
		p.showWizard(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	info := verification.PersonalInfo{
		LegalName: values["legal_name"], DateOfBirth: values["date_of_birth"], Country: values["country"],
		Address: verification.Address{Line1: values["address.line1"], Line2: values["address.line2"], City: values["address.city"],
			PostalCode: values["address.postal_code"], Region: values["address.region"]},
	}
	_, err = p.verification.SavePersonalInfo(r.Context(), z.account, info, p.accountMeta(r))
	var invalid *verification.ValidationError
	switch {
	case err == nil:
		p.redirect(w, r, verificationPath, flashInfoSaved)
	case errors.As(err, &invalid):
		for _, fe := range invalid.Fields {
			msg := sentence(fe.Detail)
			if fe.Field == "country" {
				msg = "Choose your country of residence from the list." // the codes are the list's business
			}
			if hasField(f, fe.Field) && f.F(fe.Field).Error == "" {
				f.fail(fe.Field, msg)
			} else if !hasField(f, fe.Field) {
				f.Problem = &problem{Message: sentence(fe.Detail)}
			}
		}
		p.showWizard(w, r, http.StatusUnprocessableEntity, d)
	case errors.Is(err, verification.ErrLocked):
		p.redirect(w, r, verificationPath, flashVerificationLocked)
	default:
		p.internalError(w, r, "save personal information", err)
	}
}

// ---- Documents and selfie ----------------------------------------------------------------

func (p *Pages) uploadDocument(w http.ResponseWriter, r *http.Request, u *member) {
	up, err := readUpload(r, p.maxUpload())
	if err != nil {
		p.renderError(w, r, http.StatusBadRequest, "The upload could not be read. Go back and try again.")
		return
	}
	z, err := p.loadWizard(r, u)
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	if z.locked() {
		p.redirect(w, r, verificationPath, flashVerificationLocked)
		return
	}
	kind, side := up.kind, up.side
	if kind == verification.KindPassport && side == "" {
		side = verification.SideFront
	}
	if !verification.ValidDocument(kind, side) && !up.tooLarge {
		p.renderError(w, r, http.StatusBadRequest, "The upload named no known document. Go back and try again.")
		return
	}
	step := stepDocument
	if kind == verification.KindSelfie {
		step = stepSelfie
	}
	refuse := func(status int, msg string) {
		d, err := p.verificationView(r, z, step, validKind(kind))
		if err != nil {
			p.internalError(w, r, "read verification", err)
			return
		}
		forms := d.ID.Uploads
		if step == stepSelfie {
			forms = []uploadForm{d.Selfie}
		}
		id := "upload-" + cmpOr(side, "selfie")
		if !failUpload(forms, kind, side, msg) {
			id = ""
		}
		if step == stepSelfie {
			d.Selfie = forms[0]
		}
		d.UploadErrors = uploadSummary(id, msg)
		p.showWizard(w, r, status, d)
	}
	if msg, status := p.checkUpload(up); msg != "" {
		refuse(status, msg)
		return
	}
	_, err = p.verification.AddDocument(r.Context(), z.account, verification.PurposeTier,
		verification.Upload{Kind: kind, Side: side, Data: up.data}, p.accountMeta(r))
	switch {
	case err == nil:
		// On to the first step still to do: the other side, the selfie or the review.
		p.redirect(w, r, verificationPath, flashDocumentAdded)
	case uploadRefusal(err) != "":
		refuse(http.StatusUnprocessableEntity, uploadRefusal(err))
	case errors.Is(err, verification.ErrLocked):
		p.redirect(w, r, verificationPath, flashVerificationLocked)
	case errors.Is(err, verification.ErrBadKind):
		p.renderError(w, r, http.StatusBadRequest, "The upload named no known document. Go back and try again.")
	default:
		p.internalError(w, r, "add document", err)
	}
}

// uploadSummary is the error summary of a refused upload; id is the file
// input's ("" when the message is about the whole form).
func uploadSummary(id, msg string) *form {
	if id == "" {
		f := newForm()
		f.Problem = &problem{Message: msg}
		return f
	}
	return newForm(&field{ID: id, Name: "file", Error: msg})
}

// ---- Submit -----------------------------------------------------------------------

func (p *Pages) submitVerification(w http.ResponseWriter, r *http.Request, u *member) {
	z, err := p.loadWizard(r, u)
	if err != nil {
		p.internalError(w, r, "read verification", err)
		return
	}
	if z.locked() {
		p.redirect(w, r, verificationPath, flashVerificationLocked)
		return
	}
	o, err := p.verification.Submit(r.Context(), z.account, p.accountMeta(r))
	var incomplete *verification.IncompleteError
	switch {
	case err == nil && o.Tier > z.overview.Tier:
		p.redirect(w, r, verificationPath, flashVerificationGrant)
	case err == nil:
		p.redirect(w, r, verificationPath, flashVerificationSent)
	case errors.As(err, &incomplete):
		d, err := p.verificationView(r, z, stepReview, "")
		if err != nil {
			p.internalError(w, r, "read verification", err)
			return
		}
		d.Submit.Problem = &problem{Message: "Something is still missing: " + strings.ToLower(strings.Join(requirementsInWords(incomplete.Missing), ", ")) + "."}
		for _, s := range d.Steps {
			if !s.Done && s.Key != stepReview {
				d.Submit.Problem.Links = append(d.Submit.Problem.Links, link{Href: s.Href, Text: s.Label})
			}
		}
		p.showWizard(w, r, http.StatusUnprocessableEntity, d)
	case errors.Is(err, verification.ErrLocked):
		p.redirect(w, r, verificationPath, flashVerificationLocked)
	default:
		p.internalError(w, r, "submit verification", err)
	}
}

// ---- Limits ------------------------------------------------------------------------

type limitsData struct {
	Tier  tierView
	Tiers []tierView
	// Used24h is what was withdrawn in the last 24 hours.
	Used24h string
	Top     bool
}

func (p *Pages) limitsPage(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	var used int64
	if p.withdrawals != nil {
		l, err := p.withdrawals.LimitsOf(r.Context(), a)
		if err != nil {
			p.internalError(w, r, "read limits", err)
			return
		}
		used = l.Used24h
	}
	d := limitsData{
		Tier:    p.tierView(p.verification.Policy.TierByLevel(a.VerificationTier), a.VerificationTier),
		Used24h: p.currency.Format(used),
		Top:     true,
	}
	for _, t := range p.tiers() {
		d.Tiers = append(d.Tiers, p.tierView(t, a.VerificationTier))
		if t.Level > a.VerificationTier {
			d.Top = false
		}
	}
	p.Render(w, r, http.StatusOK, "limits", d)
}

// ---- 2FA reset: start from the login challenge ---------------------------------------------

type resetStartData struct {
	Form *form
	// Send says what the reset asks for, in words; Items is how many things.
	Send  string
	Items int
	Wait  string
}

// resetChallenge finds the account whose login challenge this browser
// holds: the challenge proves its password. ok is false when it already
// answered (the challenge is gone, or an error page).
func (p *Pages) resetChallenge(w http.ResponseWriter, r *http.Request) (account.Account, bool) {
	si := userSignIn
	c, ok := challengeOf(r, si)
	if !ok {
		p.challengeGone(w, r, si, "")
		return account.Account{}, false
	}
	if !c.awaitsFactor() {
		// Only the new-device email is awaited: no second factor to lose.
		http.Redirect(w, r, si.challengePath, http.StatusSeeOther)
		return account.Account{}, false
	}
	ch, err := p.mfa.PeekChallenge(r.Context(), c.id, mfa.PurposeLogin)
	if errors.Is(err, mfa.ErrChallengeExpired) {
		p.challengeGone(w, r, si, "")
		return account.Account{}, false
	}
	if err != nil {
		p.internalError(w, r, "read login challenge", err)
		return account.Account{}, false
	}
	a, err := p.accountByID(r, ch.AccountID)
	if err != nil {
		p.internalError(w, r, "read the account of a login challenge", err)
		return account.Account{}, false
	}
	if a.Frozen() {
		p.clearChallengeCookie(w, si)
		http.Redirect(w, r, si.frozenPath, http.StatusSeeOther)
		return account.Account{}, false
	}
	return a, true
}

func (p *Pages) resetStartData(a account.Account) resetStartData {
	reqs := p.verification.ResetRequirements(a)
	return resetStartData{Form: newForm(), Send: sendList(reqs), Items: len(reqs), Wait: durationWords(p.verification.Policy.ResetWait)}
}

// resetStartPage explains the reset and offers to start it; opening it
// changes nothing.
func (p *Pages) resetStartPage(w http.ResponseWriter, r *http.Request) {
	if p.viewer(userSignIn, r) != nil {
		http.Redirect(w, r, securityPath, http.StatusSeeOther)
		return
	}
	a, ok := p.resetChallenge(w, r)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "mfa-reset-start", p.resetStartData(a))
}

func (p *Pages) requestReset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.resetChallenge(w, r)
	if !ok {
		return
	}
	d := p.resetStartData(a)
	// Each request emails the owner: counted like a login attempt.
	if p.limitedForm(w, r, "login attempts", d.Form, "mfa-reset-start", d) {
		return
	}
	token, _, err := p.verification.RequestReset(r.Context(), a, p.accountMeta(r))
	switch {
	case err == nil:
		http.SetCookie(w, &http.Cookie{
			Name: resetCookie, Value: token, Path: resetPath, MaxAge: int(resetCookieLifetime / time.Second),
			HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
		})
		p.redirect(w, r, resetPath, flashResetRequested)
	case errors.Is(err, verification.ErrNoMFA):
		http.Redirect(w, r, userSignIn.challengePath, http.StatusSeeOther)
	case errors.Is(err, verification.ErrNoReset):
		// Frozen since the check above: a freeze stops a reset.
		p.clearChallengeCookie(w, userSignIn)
		http.Redirect(w, r, userSignIn.frozenPath, http.StatusSeeOther)
	case errors.Is(err, verification.ErrLocked):
		d.Form.Problem = &problem{Message: "A reset of this account is already waiting for review, or in its waiting period. " +
			"We email you when anything changes; the email we sent when it started says what to do."}
		p.renderForm(w, r, http.StatusConflict, "mfa-reset-start", d.Form, d)
	default:
		p.internalError(w, r, "request a 2FA reset", err)
	}
}

// ---- 2FA reset: uploads and status ---------------------------------------------------------

type resetData struct {
	// Gone: no reset is open for this browser (none, cancelled, rejected or done).
	Gone   bool
	Status string
	// Waiting: approved; the second factors go at EffectiveAt.
	Waiting     bool
	EffectiveAt time.Time
	Pending     bool
	Reason      string
	Resubmit    []string
	NeedsID     bool
	// Send says what the reset asks for, in words.
	Send         string
	ID           idStep
	Selfie       uploadForm
	UploadErrors *form
	Submit       *form
	Ready        bool // everything asked for is there
	Wait         string
}

func resetToken(r *http.Request) string {
	c, err := r.Cookie(resetCookie)
	if err != nil || len(c.Value) > maxTokenLen {
		return ""
	}
	return c.Value
}

func (p *Pages) clearResetCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: resetCookie, Value: "", Path: resetPath, MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

// loadReset reads the reset this browser's cookie opens and draws its page;
// ok is false when it already answered with an error page.
func (p *Pages) loadReset(w http.ResponseWriter, r *http.Request, kind string) (d resetData, a account.Account, token string, ok bool) {
	token = resetToken(r)
	a, v, err := p.verification.ResetByToken(r.Context(), token)
	if errors.Is(err, verification.ErrNoReset) {
		p.clearResetCookie(w)
		return resetData{Gone: true}, a, "", true
	}
	if err != nil {
		p.internalError(w, r, "read 2FA reset", err)
		return d, a, "", false
	}
	docs, err := p.verification.ResetDocuments(r.Context(), v)
	if err != nil {
		p.internalError(w, r, "read 2FA reset documents", err)
		return d, a, "", false
	}
	reqs := p.verification.ResetRequirements(a)
	d = resetData{
		Status: statusOf(v), Waiting: v.Waiting(), EffectiveAt: v.EffectiveAt, Pending: v.Status == verification.StatusPendingReview,
		Reason: v.Reason, Resubmit: requirementsInWords(v.Resubmit), NeedsID: slices.Contains(reqs, verification.RequireIDDocument),
		Send: sendList(reqs), Submit: newForm(), Wait: durationWords(p.verification.Policy.ResetWait),
	}
	if d.NeedsID {
		d.ID = newIDStep(resetPath, "", resetPath+"/documents", kind, docs, p.maxUpload())
	}
	d.Selfie = selfieForm(resetPath+"/documents", docs, p.maxUpload())
	d.Ready = (!d.NeedsID || d.ID.Complete) && d.Selfie.Done != nil
	return d, a, token, true
}

func (p *Pages) resetPage(w http.ResponseWriter, r *http.Request) {
	d, _, _, ok := p.loadReset(w, r, validKind(r.URL.Query().Get("kind")))
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "mfa-reset", d)
}

func (p *Pages) resetUpload(w http.ResponseWriter, r *http.Request) {
	up, err := readUpload(r, p.maxUpload())
	if err != nil {
		p.renderError(w, r, http.StatusBadRequest, "The upload could not be read. Go back and try again.")
		return
	}
	kind, side := up.kind, up.side
	if kind == verification.KindPassport && side == "" {
		side = verification.SideFront
	}
	d, a, _, ok := p.loadReset(w, r, validKind(kind))
	if !ok {
		return
	}
	if d.Gone {
		p.Render(w, r, http.StatusNotFound, "mfa-reset", d)
		return
	}
	if kind != verification.KindSelfie && (!d.NeedsID || validKind(kind) == "") || !verification.ValidDocument(kind, side) {
		p.renderError(w, r, http.StatusBadRequest, "The upload named no document this reset asks for. Go back and try again.")
		return
	}
	refuse := func(status int, msg string) {
		id := "upload-" + cmpOr(side, "selfie")
		if kind == verification.KindSelfie {
			d.Selfie.Error = msg
		} else if !failUpload(d.ID.Uploads, kind, side, msg) {
			id = ""
		}
		d.UploadErrors = uploadSummary(id, msg)
		p.renderForm(w, r, status, "mfa-reset", d.Submit, d)
	}
	if msg, status := p.checkUpload(up); msg != "" {
		refuse(status, msg)
		return
	}
	_, err = p.verification.AddDocument(r.Context(), a, verification.PurposeMFAReset,
		verification.Upload{Kind: kind, Side: side, Data: up.data}, p.accountMeta(r))
	switch {
	case err == nil:
		target := resetPath
		if k := validKind(kind); k != "" {
			target += "?" + url.Values{"kind": {k}}.Encode()
		}
		p.redirect(w, r, target, flashResetUploaded)
	case uploadRefusal(err) != "":
		refuse(http.StatusUnprocessableEntity, uploadRefusal(err))
	case errors.Is(err, verification.ErrLocked):
		http.Redirect(w, r, resetPath, http.StatusSeeOther)
	default:
		p.internalError(w, r, "add 2FA reset document", err)
	}
}

func (p *Pages) submitReset(w http.ResponseWriter, r *http.Request) {
	d, _, token, ok := p.loadReset(w, r, "")
	if !ok {
		return
	}
	if d.Gone {
		p.Render(w, r, http.StatusNotFound, "mfa-reset", d)
		return
	}
	_, err := p.verification.SubmitReset(r.Context(), token, p.accountMeta(r))
	var incomplete *verification.IncompleteError
	switch {
	case err == nil:
		p.redirect(w, r, resetPath, flashResetSubmitted)
	case errors.As(err, &incomplete):
		d.Submit.Problem = &problem{Message: "Something is still missing: " + strings.ToLower(strings.Join(requirementsInWords(incomplete.Missing), ", ")) + "."}
		p.renderForm(w, r, http.StatusUnprocessableEntity, "mfa-reset", d.Submit, d)
	case errors.Is(err, verification.ErrLocked), errors.Is(err, verification.ErrNoReset):
		http.Redirect(w, r, resetPath, http.StatusSeeOther)
	default:
		p.internalError(w, r, "submit 2FA reset", err)
	}
}

// ---- 2FA reset: the owner's view --------------------------------------------------------

// resetBanner is the owner's 2FA reset in progress, on the account pages.
type resetBanner struct {
	// Status says where it is, to the owner.
	Status      string
	Waiting     bool
	EffectiveAt time.Time
	CreatedAt   time.Time
}

// resetBannerOf is u's 2FA reset in progress, nil for none (or when it
// cannot be read: the page is drawn without it, and the error logged).
func (p *Pages) resetBannerOf(r *http.Request, u *member) *resetBanner {
	if p.verification == nil {
		return nil
	}
	o, err := p.verification.Overview(r.Context(), u.Account.ID)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: read 2FA reset", "err", err)
		return nil
	}
	if o.Reset == nil {
		return nil
	}
	b := &resetBanner{Waiting: o.Reset.Waiting(), EffectiveAt: o.Reset.EffectiveAt, CreatedAt: o.Reset.CreatedAt}
	switch o.Reset.Status {
	case verification.StatusPendingReview:
		b.Status = "What they sent is waiting for our review."
	case verification.StatusResubmissionRequested:
		b.Status = "We asked them to send more."
	default:
		b.Status = "They have not sent what we asked for yet."
	}
	return b
}

func (p *Pages) cancelReset(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	err = p.verification.CancelReset(r.Context(), a, p.accountMeta(r))
	switch {
	case err == nil:
		p.redirect(w, r, securityPath, flashResetCancelled)
	case errors.Is(err, verification.ErrNoReset):
		p.redirect(w, r, securityPath, flashResetGone)
	default:
		p.internalError(w, r, "cancel 2FA reset", err)
	}
}

// ---- Console: the review queue --------------------------------------------------------------

type queueRow struct {
	ID          string
	Email       string
	UserID      string
	Purpose     string
	Status      string
	TargetTier  int
	SubmittedAt time.Time
	CreatedAt   time.Time
}

type queueData struct {
	Status listFilter
	Rows   []queueRow
}

// queueStatuses are the filters of the queue; "all" lists every status.
var queueStatuses = []selectOption{
	{Value: verification.StatusPendingReview, Label: "Waiting for review"},
	{Value: verification.StatusResubmissionRequested, Label: "Asked to send again"},
	{Value: verification.StatusInProgress, Label: "In progress"},
	{Value: verification.StatusApproved, Label: "Approved"},
	{Value: verification.StatusRejected, Label: "Rejected"},
	{Value: "all", Label: "All"},
}

func (p *Pages) consoleQueue(w http.ResponseWriter, r *http.Request, s *member) {
	d := queueData{Status: listFilterOf(r.URL.Query(), &field{ID: "queue-status", Name: "status", Label: "Show"},
		queueStatuses, verification.StatusPendingReview)}
	filter := d.Status.Value
	if filter == "all" {
		filter = ""
	}
	// Service.Queue lists every status for "", so the default is named.
	list, err := p.verification.Queue(r.Context(), filter, queueLimit)
	if err != nil {
		p.internalError(w, r, "list verifications", err)
		return
	}
	ids := make([]string, 0, len(list))
	for _, v := range list {
		ids = append(ids, v.AccountID)
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		p.internalError(w, r, "read the accounts of verifications", err)
		return
	}
	for _, v := range list {
		d.Rows = append(d.Rows, queueRow{ID: v.ID, Email: emails[v.AccountID], UserID: v.AccountID, Purpose: purposeWords(v.Purpose),
			Status: statusOf(v), TargetTier: v.TargetTier, SubmittedAt: v.SubmittedAt, CreatedAt: v.CreatedAt})
	}
	p.Render(w, r, http.StatusOK, "console-verifications", d)
}

// ---- Console: one verification ---------------------------------------------------------------

type checkOption struct {
	Value, Label string
	Checked      bool
}

type consoleVerificationData struct {
	V        verification.Verification
	Purpose  string
	Reset    bool
	Status   string
	Email    string
	UserID   string
	UserTier int
	Info     *infoView
	// Documents are the current uploads; Replaced the ones sent again since.
	Documents []docView
	Replaced  []docView
	// Previous is the last approved tier verification, for a 2FA reset.
	Previous          *verification.Verification
	PreviousDocuments []docView
	Pending           bool
	Approve           *form
	Reject            *form
	Resubmit          *form
	ResubmitItems     []checkOption
	ResubmitError     string
}

func rejectForm() *form {
	return newForm(&field{ID: "reject-reason", Name: "reason", Label: "Why is it rejected?", Type: "textarea", Required: true,
		MinLength: minReason, MaxLength: maxReason,
		Hint: "5 to 500 characters. The user reads it in the email and on their verification page: say what was wrong, politely."})
}

func resubmitForm() *form {
	return newForm(&field{ID: "resubmit-reason", Name: "reason", Label: "What was wrong?", Type: "textarea", Required: true,
		MinLength: minReason, MaxLength: maxReason,
		Hint: "5 to 500 characters, for the user: for example \"the photo of the back of your ID card is blurred\"."})
}

// loadReview reads a verification for its reviewer; ok is false when it
// already answered (404 or 500).
func (p *Pages) loadReview(w http.ResponseWriter, r *http.Request) (verification.Review, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxTokenLen {
		p.NotFound(w, r)
		return verification.Review{}, false
	}
	rv, err := p.verification.Review(r.Context(), id)
	switch {
	case errors.Is(err, verification.ErrNoVerification):
		p.renderError(w, r, http.StatusNotFound, "There is no verification with this id. Open it from the queue.")
		return rv, false
	case err != nil:
		p.internalError(w, r, "read verification for review", err)
		return rv, false
	}
	return rv, true
}

func (p *Pages) consoleVerificationData(rv verification.Review) consoleVerificationData {
	v := rv.Verification
	base := consoleVerificationsPath + "/" + url.PathEscape(v.ID) + "/documents/"
	d := consoleVerificationData{
		V: v, Purpose: purposeWords(v.Purpose), Reset: v.Purpose == verification.PurposeMFAReset, Status: statusOf(v),
		Email: rv.Account.Email, UserID: rv.Account.ID, UserTier: rv.Account.VerificationTier,
		Previous: rv.Previous, Pending: v.Status == verification.StatusPendingReview,
	}
	if rv.Info.LegalName != "" || rv.Info.Country != "" {
		d.Info = &infoView{PersonalInfo: rv.Info, CountryName: geoip.CountryName(rv.Info.Country)}
	}
	for _, doc := range rv.Documents {
		dv := docViewOf(doc, base+url.PathEscape(doc.ID))
		if dv.Replaced {
			d.Replaced = append(d.Replaced, dv)
		} else {
			d.Documents = append(d.Documents, dv)
		}
	}
	for _, doc := range rv.PreviousDocuments {
		if doc.ReplacedAt.IsZero() {
			d.PreviousDocuments = append(d.PreviousDocuments, docViewOf(doc, base+url.PathEscape(doc.ID)))
		}
	}
	if d.Pending {
		d.Approve, d.Reject, d.Resubmit = newForm(), rejectForm(), resubmitForm()
		items := []string{verification.RequirePersonalInfo, verification.RequireIDDocument, verification.RequireSelfie}
		if d.Reset {
			items = p.verification.ResetRequirements(rv.Account)
		}
		for _, item := range items {
			d.ResubmitItems = append(d.ResubmitItems, checkOption{Value: item, Label: requirementWords[item]})
		}
	}
	return d
}

func (p *Pages) consoleVerification(w http.ResponseWriter, r *http.Request, s *member) {
	rv, ok := p.loadReview(w, r)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "console-verification", p.consoleVerificationData(rv))
}

// reviewerMeta names the staff member in the audit log, as their account's actor.
func (p *Pages) reviewerMeta(r *http.Request, s *member) account.Meta {
	m := p.accountMeta(r)
	m.Actor = s.Account.Actor()
	return m
}

// consoleDecide records a decision on a pending verification.
func (p *Pages) consoleDecide(event string) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, s *member) {
		rv, ok := p.loadReview(w, r)
		if !ok {
			return
		}
		back := consoleVerificationsPath + "/" + url.PathEscape(rv.Verification.ID)
		if rv.Verification.Status != verification.StatusPendingReview {
			p.redirect(w, r, back, flashDecisionStale)
			return
		}
		d := p.consoleVerificationData(rv)
		dec := verification.Decision{Event: event}
		var f *form
		switch event {
		case verification.EventReject:
			f = d.Reject
			dec.Reason = readReason(r, f)
		case verification.EventRequestResubmission:
			f = d.Resubmit
			dec.Reason = readReason(r, f)
			picked := r.PostForm["resubmit"]
			for i := range d.ResubmitItems {
				it := &d.ResubmitItems[i]
				if slices.Contains(picked, it.Value) {
					it.Checked = true
					dec.Resubmit = append(dec.Resubmit, it.Value)
				}
			}
			if len(dec.Resubmit) == 0 {
				d.ResubmitError = "Choose what the user must send again."
				f.Problem = &problem{Message: d.ResubmitError}
			}
		}
		if f != nil && f.HasErrors() {
			f.finish()
			p.Render(w, r, http.StatusUnprocessableEntity, "console-verification", d)
			return
		}
		_, err := p.verification.Decide(r.Context(), rv.Verification.ID, dec, p.reviewerMeta(r, s))
		switch {
		case err == nil:
			flash := map[string]string{verification.EventApprove: flashDecisionApproved, verification.EventReject: flashDecisionRejected,
				verification.EventRequestResubmission: flashDecisionResubmit}[event]
			p.redirect(w, r, consoleVerificationsPath, flash)
		case errors.Is(err, verification.ErrDecided):
			p.redirect(w, r, back, flashDecisionStale)
		case errors.Is(err, verification.ErrBadDecision):
			if f == nil {
				f = d.Approve
			}
			f.Problem = &problem{Message: sentence(strings.TrimPrefix(err.Error(), verification.ErrBadDecision.Error()+": "))}
			p.Render(w, r, http.StatusUnprocessableEntity, "console-verification", d)
		default:
			p.internalError(w, r, "decide verification", err)
		}
	}
}

// ---- Console: a document ----------------------------------------------------------------------

// consoleDocument sends a document's content to a reviewer. Each view is
// recorded in the audit log (Service.OpenDocument). The content never runs
// as anything: its type is the one decided from the content when it was
// uploaded, nosniff, and a PDF is downloaded, in a sandbox if opened.
func (p *Pages) consoleDocument(w http.ResponseWriter, r *http.Request, s *member) {
	docID := r.PathValue("doc")
	if docID == "" || len(docID) > maxTokenLen {
		p.NotFound(w, r)
		return
	}
	rv, ok := p.loadReview(w, r)
	if !ok {
		return
	}
	owned := func(docs []verification.Document) bool {
		return slices.ContainsFunc(docs, func(d verification.Document) bool { return d.ID == docID })
	}
	if !owned(rv.Documents) && !owned(rv.PreviousDocuments) {
		p.renderError(w, r, http.StatusNotFound, "This verification has no such document.")
		return
	}
	opened, err := p.verification.OpenDocument(r.Context(), docID, p.reviewerMeta(r, s))
	switch {
	case errors.Is(err, verification.ErrPurged):
		p.renderError(w, r, http.StatusGone, "This document was deleted when its retention period ended. Its hash and the decision are kept.")
		return
	case errors.Is(err, verification.ErrNoVerification):
		p.renderError(w, r, http.StatusNotFound, "This verification has no such document.")
		return
	case err != nil:
		p.internalError(w, r, "open document", err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	switch opened.MediaType {
	case string(document.KindJPEG), string(document.KindPNG):
		ext := map[string]string{string(document.KindJPEG): "jpg", string(document.KindPNG): "png"}[opened.MediaType]
		h.Set("Content-Type", opened.MediaType)
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": opened.ID + "." + ext}))
	case string(document.KindPDF):
		h.Set("Content-Type", opened.MediaType)
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'; frame-ancestors 'none'")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": opened.ID + ".pdf"}))
	default:
		// Not a type Warden stores: never shown, only downloaded.
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'; frame-ancestors 'none'")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": opened.ID}))
	}
	h.Set("Content-Length", fmt.Sprint(len(opened.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(opened.Data)
	}
}
