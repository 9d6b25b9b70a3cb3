package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
)

// Identity verification (KYC) and the lost-2FA reset: the user's side
// (personal information, documents, submission, limits), the reset's side
// for an owner who cannot log in (a login challenge proves the password; a
// reset token carries the rest), and the reviewer's side in the admin API,
// with the signed results of external providers.

// MaxUploadBytes is the largest document or selfie accepted (API.md: uploads 10 MiB).
const MaxUploadBytes = 10 << 20

// maxUploadBody bounds an upload request: the file and the multipart
// framing around it (boundaries, part headers, a few small fields).
const maxUploadBody = MaxUploadBytes + 64<<10

// ResetTokenHeader may carry a 2FA reset's token instead of a field.
const ResetTokenHeader = "X-Warden-Reset-Token"

// Provider-result request headers (verification/provider.go).
const (
	ProviderHeader  = "X-Warden-Provider"
	TimestampHeader = "X-Warden-Timestamp"
	SignatureHeader = "X-Warden-Signature"
)

// --- views ---

type tierView struct {
	Level          int      `json:"level"`
	Name           string   `json:"name"`
	Requires       []string `json:"requires"`
	PerTransaction string   `json:"per_transaction"`
	Rolling24h     string   `json:"rolling_24h"`
}

func (a *API) amount(v int64) string { return money.Format(v, a.Currency.Decimals) }

func (a *API) viewTier(t verification.Tier) tierView {
	return tierView{Level: t.Level, Name: t.Name, Requires: nonNil(t.Requires),
		PerTransaction: a.amount(t.PerTransaction), Rolling24h: a.amount(t.Rolling24h)}
}

type documentView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Side      string    `json:"side"`
	MediaType string    `json:"media_type"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// For reviewers only.
	ReplacedAt *time.Time `json:"replaced_at,omitempty"`
	PurgedAt   *time.Time `json:"purged_at,omitempty"`
	ContentURL string     `json:"content_url,omitempty"`
}

func viewDocument(d verification.Document) documentView {
	return documentView{ID: d.ID, Kind: d.Kind, Side: d.Side, MediaType: d.MediaType, SHA256: d.SHA256, Size: d.Size,
		Width: d.Width, Height: d.Height, CreatedAt: d.CreatedAt}
}

func viewDocuments(docs []verification.Document) []documentView {
	out := make([]documentView, 0, len(docs))
	for _, d := range docs {
		out = append(out, viewDocument(d))
	}
	return out
}

type addressView struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Region     string `json:"region"`
}

// personalInfoBody is the personal information as the API carries it, in
// PUT /v1/verification/personal-info and in answers.
type personalInfoBody struct {
	LegalName   string      `json:"legal_name"`
	DateOfBirth string      `json:"date_of_birth"`
	Country     string      `json:"country"`
	Address     addressView `json:"address"`
}

func viewPersonalInfo(p verification.PersonalInfo) *personalInfoBody {
	return &personalInfoBody{LegalName: p.LegalName, DateOfBirth: p.DateOfBirth, Country: p.Country,
		Address: addressView{Line1: p.Address.Line1, Line2: p.Address.Line2, City: p.Address.City,
			PostalCode: p.Address.PostalCode, Region: p.Address.Region}}
}

func (b personalInfoBody) domain() verification.PersonalInfo {
	return verification.PersonalInfo{LegalName: b.LegalName, DateOfBirth: b.DateOfBirth, Country: b.Country,
		Address: verification.Address{Line1: b.Address.Line1, Line2: b.Address.Line2, City: b.Address.City,
			PostalCode: b.Address.PostalCode, Region: b.Address.Region}}
}

type resetSummary struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
}

type verificationOverview struct {
	Tier         int       `json:"tier"`
	Status       string    `json:"status"`
	Requirements []string  `json:"requirements"`
	NextTier     *tierView `json:"next_tier"`
	// ReverificationRequired: a restriction waits for a verification and no
	// reviewed tier lies above, so next_tier is the user's own tier again.
	ReverificationRequired bool              `json:"reverification_required"`
	PersonalInfoSaved      bool              `json:"personal_info_saved"`
	PersonalInfo           *personalInfoBody `json:"personal_info,omitempty"`
	Documents              []documentView    `json:"documents"`
	Resubmit               []string          `json:"resubmit"`
	Reason                 string            `json:"reason"`
	SubmittedAt            *time.Time        `json:"submitted_at,omitempty"`
	MFAReset               *resetSummary     `json:"mfa_reset,omitempty"`
}

// viewOverview shows the user their verification. The personal information
// shown is their own, opened for the wizard to edit; a decided verification
// that was not approved is history, and its information is not carried over.
func (a *API) viewOverview(o verification.Overview) (verificationOverview, error) {
	out := verificationOverview{Tier: o.Tier, Status: o.Status, Requirements: nonNil(o.Requirements),
		Documents: viewDocuments(o.Documents), Resubmit: []string{}, ReverificationRequired: o.Reverify}
	if o.NextTier != nil {
		t := a.viewTier(*o.NextTier)
		out.NextTier = &t
	}
	cur := o.Current
	if o.HasInfo && (!cur.Final() || cur.Status == verification.StatusApproved) {
		info, err := a.Verification.PersonalInfo(cur)
		if err != nil {
			return out, err
		}
		out.PersonalInfoSaved, out.PersonalInfo = true, viewPersonalInfo(info)
	}
	if cur.ID != "" && cur.Status != verification.StatusApproved {
		// An approval's note is the reviewer's, not for the user.
		out.Reason = cur.Reason
		out.Resubmit = nonNil(cur.Resubmit)
		out.SubmittedAt = timePtr(cur.SubmittedAt)
	}
	if r := o.Reset; r != nil {
		out.MFAReset = &resetSummary{ID: r.ID, Status: r.Status, EffectiveAt: timePtr(r.EffectiveAt)}
	}
	return out, nil
}

// nonNil keeps an empty list a list in JSON ([] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// --- errors ---

// verificationProblem maps the verification and document errors to their
// problems; anything else goes to accountProblem.
func verificationProblem(err error) error {
	var invalid *verification.ValidationError
	var incomplete *verification.IncompleteError
	switch {
	case errors.As(err, &invalid):
		fields := make([]FieldError, 0, len(invalid.Fields))
		for _, f := range invalid.Fields {
			fields = append(fields, FieldError{Field: f.Field, Code: f.Code, Detail: f.Detail})
		}
		return errValidation(fields...)
	case errors.As(err, &incomplete):
		return NewProblem(http.StatusConflict, "verification_incomplete",
			"something the next step needs is missing; see missing").With("missing", nonNil(incomplete.Missing))
	case errors.Is(err, verification.ErrLocked):
		return NewProblem(http.StatusConflict, "verification_locked",
			"the verification waits for review or was decided; nothing can be changed now")
	case errors.Is(err, verification.ErrBadKind):
		return errValidation(FieldError{Field: "kind", Code: "invalid", Detail: "passport, id_card or drivers_license, with side front or back"})
	case errors.Is(err, verification.ErrNoVerification):
		return errNotFound("verification")
	case errors.Is(err, verification.ErrDecided):
		return NewProblem(http.StatusConflict, "verification_decided", "this verification is not waiting for review")
	case errors.Is(err, verification.ErrPurged):
		return NewProblem(http.StatusGone, "document_purged", "the document's content was removed after the retention period; its hash and the decision remain")
	case errors.Is(err, verification.ErrNoMFA):
		return NewProblem(http.StatusConflict, "mfa_not_enabled", "the account has no second factor to reset")
	case errors.Is(err, verification.ErrBadDecision):
		return errValidation(FieldError{Field: "decision", Code: "invalid", Detail: err.Error()})
	case errors.Is(err, document.ErrTooLarge):
		return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large", err.Error())
	case errors.Is(err, document.ErrUnsupported):
		return unsupportedFile(err, "unsupported")
	case errors.Is(err, document.ErrCorrupt):
		return unsupportedFile(err, "corrupt")
	case errors.Is(err, document.ErrActiveContent):
		return unsupportedFile(err, "active_content")
	case errors.Is(err, document.ErrTooManyPixels):
		return unsupportedFile(err, "too_many_pixels")
	}
	return accountProblem(err)
}

// unsupportedFile refuses an upload; the detail is the document package's
// reason, which is written for the user.
func unsupportedFile(err error, reason string) *Problem {
	return NewProblem(http.StatusUnsupportedMediaType, "unsupported_file", err.Error()).With("reason", reason)
}

func errUploadTooLarge() *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("the file is larger than the upload limit of %d MiB", MaxUploadBytes>>20))
}

func errInvalidResetToken() *Problem {
	return NewProblem(http.StatusBadRequest, "invalid_token",
		"this reset token is invalid, or the reset was cancelled, rejected or completed; log in and ask again")
}

// --- multipart uploads ---

// upload is a multipart upload: one file and a few small text fields.
type upload struct {
	file   []byte
	fields map[string]string
}

// readUpload reads a multipart/form-data body with exactly one part named
// "file" and at most one of each allowed text field. The file's name and
// Content-Type do not count: the content alone says what it is (package
// document decides); only a name carrying a path is refused. Memory is bounded by the upload limit: the file is
// read through a limit, text fields are small, parts are few.
func readUpload(r *http.Request, allowed ...string) (upload, *Problem) {
	up := upload{fields: map[string]string{}}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return up, NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the file as multipart/form-data, in a part named file")
	}
	if r.ContentLength > maxUploadBody {
		return up, errUploadTooLarge()
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var fe fieldErrors
	haveFile := false
	for parts := 0; ; parts++ {
		// Raw: no transfer decoding either; what the client sent is what is checked.
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, uploadReadProblem(err)
		}
		if parts >= 8 {
			return up, errValidation(FieldError{Field: "file", Code: "too_many_parts", Detail: "send one file and only the fields asked for"})
		}
		name := part.FormName()
		switch {
		case name == "file":
			if haveFile {
				return up, errValidation(FieldError{Field: "file", Code: "duplicate", Detail: "send exactly one file per request"})
			}
			if document.NameHasPath(part.Header.Get("Content-Disposition")) {
				return up, errValidation(FieldError{Field: "file", Code: "invalid_name", Detail: "send the file under its bare name, without a path"})
			}
			data, err := io.ReadAll(io.LimitReader(part, MaxUploadBytes+1))
			if err != nil {
				return up, uploadReadProblem(err)
			}
			if len(data) > MaxUploadBytes {
				return up, errUploadTooLarge()
			}
			up.file, haveFile = data, true
		case slices.Contains(allowed, name):
			if _, dup := up.fields[name]; dup {
				return up, errValidation(FieldError{Field: name, Code: "duplicate", Detail: "send this field once"})
			}
			v, err := io.ReadAll(io.LimitReader(part, 1025))
			if err != nil {
				return up, uploadReadProblem(err)
			}
			if len(v) > 1024 || !utf8.Valid(v) {
				fe.add(name, "invalid", "at most 1024 characters of text")
				continue
			}
			up.fields[name] = strings.TrimSpace(string(v))
		default:
			return up, errValidation(FieldError{Field: name, Code: "unknown_field", Detail: "this field is not part of the request"})
		}
	}
	if !haveFile {
		fe.add("file", "required", "attach the file (JPEG, PNG or PDF) in a part named file")
	}
	return up, fe.problem()
}

func uploadReadProblem(err error) *Problem {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return errUploadTooLarge()
	}
	return NewProblem(http.StatusBadRequest, "invalid_multipart", "the multipart body could not be read: "+err.Error())
}

// documentKind checks the kind and side of an ID document upload.
func documentKind(up upload) (kind, side string, p *Problem) {
	kind, side = up.fields["kind"], up.fields["side"]
	switch kind {
	case verification.KindPassport, verification.KindIDCard, verification.KindDriversLicense:
	case "":
		return "", "", errValidation(FieldError{Field: "kind", Code: "required", Detail: "passport, id_card or drivers_license"})
	default:
		return "", "", errValidation(FieldError{Field: "kind", Code: "invalid", Detail: "passport, id_card or drivers_license (a selfie goes to …/selfie)"})
	}
	if !verification.ValidDocument(kind, side) {
		detail := "front or back"
		if kind == verification.KindPassport {
			detail = "a passport has one side, the photo page: front, or leave it out"
		}
		return "", "", errValidation(FieldError{Field: "side", Code: "invalid", Detail: detail})
	}
	return kind, side, nil
}

// --- user API ---

// freshAccount reads the caller's account from the database: the session
// cache may carry a tier from before a decision.
func (a *API) freshAccount(ctx context.Context) (account.Account, error) {
	return a.Accounts.AccountByID(ctx, currentCaller(ctx).account.ID)
}

func (a *API) writeOverview(w http.ResponseWriter, status int, o verification.Overview) error {
	out, err := a.viewOverview(o)
	if err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

// getVerification shows where the user stands and what the next tier needs.
func (a *API) getVerification(w http.ResponseWriter, r *http.Request) error {
	o, err := a.Verification.Overview(r.Context(), currentCaller(r.Context()).account.ID)
	if err != nil {
		return err
	}
	return a.writeOverview(w, http.StatusOK, o)
}

// savePersonalInfo validates and stores the personal information (sealed).
func (a *API) savePersonalInfo(w http.ResponseWriter, r *http.Request) error {
	var req personalInfoBody
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	o, err := a.Verification.SavePersonalInfo(r.Context(), acct, req.domain(), a.accountMeta(r))
	if err != nil {
		return verificationProblem(err)
	}
	return a.writeOverview(w, http.StatusOK, o)
}

// addDocument takes a government ID's page or side.
func (a *API) addDocument(w http.ResponseWriter, r *http.Request) error {
	up, p := readUpload(r, "kind", "side")
	if p != nil {
		return p
	}
	kind, side, p := documentKind(up)
	if p != nil {
		return p
	}
	return a.storeUpload(w, r, verification.PurposeTier, verification.Upload{Kind: kind, Side: side, Data: up.file}, nil)
}

// addSelfie takes a photo of the user's face.
func (a *API) addSelfie(w http.ResponseWriter, r *http.Request) error {
	up, p := readUpload(r)
	if p != nil {
		return p
	}
	return a.storeUpload(w, r, verification.PurposeTier, verification.Upload{Kind: verification.KindSelfie, Data: up.file}, nil)
}

// storeUpload cleans and stores an upload for the caller (or, for a 2FA
// reset, for the reset token's account) and answers 201 with its metadata.
func (a *API) storeUpload(w http.ResponseWriter, r *http.Request, purpose string, u verification.Upload, owner *account.Account) error {
	var acct account.Account
	if owner != nil {
		acct = *owner
	} else {
		var err error
		if acct, err = a.freshAccount(r.Context()); err != nil {
			return err
		}
	}
	d, err := a.Verification.AddDocument(r.Context(), acct, purpose, u, a.accountMeta(r))
	if err != nil {
		return verificationProblem(err)
	}
	writeJSON(w, http.StatusCreated, viewDocument(d))
	return nil
}

// submitVerification asks for review (or, for a tier of personal
// information alone, grants it at once).
func (a *API) submitVerification(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	o, err := a.Verification.Submit(r.Context(), acct, a.accountMeta(r))
	if err != nil {
		return verificationProblem(err)
	}
	return a.writeOverview(w, http.StatusOK, o)
}

type limitsView struct {
	Tier           int        `json:"tier"`
	Currency       string     `json:"currency"`
	PerTransaction string     `json:"per_transaction"`
	Rolling24h     string     `json:"rolling_24h"`
	Used24h        string     `json:"used_24h"`
	Available24h   string     `json:"available_24h"`
	Tiers          []tierView `json:"tiers"`
}

// usedIn24h is what the account's withdrawals of the last 24 hours hold of
// its limit, in the reference currency's smallest unit.
func (a *API) usedIn24h(ctx context.Context, acct account.Account) (int64, error) {
	if a.Withdrawals == nil {
		return 0, nil
	}
	l, err := a.Withdrawals.LimitsOf(ctx, acct)
	return l.Used24h, err
}

// getLimits shows the withdrawal limits of the user's tier, what is used of
// them, and every tier's limits.
func (a *API) getLimits(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	used, err := a.usedIn24h(r.Context(), acct)
	if err != nil {
		return err
	}
	t := a.Verification.Policy.TierByLevel(acct.VerificationTier)
	out := limitsView{Tier: acct.VerificationTier, Currency: a.Currency.Code,
		PerTransaction: a.amount(t.PerTransaction), Rolling24h: a.amount(t.Rolling24h),
		Used24h: a.amount(used), Available24h: a.amount(max(0, t.Rolling24h-used)), Tiers: []tierView{}}
	for _, t := range a.Verification.Policy.Tiers {
		out.Tiers = append(out.Tiers, a.viewTier(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- 2FA reset ---

type resetRequest struct {
	ChallengeID string `json:"challenge_id"`
}

// requestMFAReset opens a 2FA reset for an owner who lost their second
// factor. No session: the login's open challenge proves the password.
func (a *API) requestMFAReset(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if req.ChallengeID == "" || len(req.ChallengeID) > 200 {
		return errValidation(FieldError{Field: "challenge_id", Code: "required", Detail: "the challenge_id of the login (POST /v1/sessions) waiting for the second factor"})
	}
	if err := a.rateLimit(w, r, ratelimit.Key{Bucket: ipBucket("mfa-reset:ip:", r), Limit: a.Limits.ResetPerIP}); err != nil {
		return err
	}
	ch, err := a.MFA.PeekChallenge(r.Context(), req.ChallengeID, mfa.PurposeLogin)
	if err != nil {
		return mfaProblem(err)
	}
	acct, err := a.Accounts.AccountByID(r.Context(), ch.AccountID)
	if err != nil {
		return err
	}
	if acct.Realm != account.RealmUser {
		// A console login's challenge proves a staff password: not here.
		return mfaProblem(mfa.ErrChallengeExpired)
	}
	if acct.Frozen() {
		return accountProblem(account.ErrFrozen)
	}
	token, v, err := a.Verification.RequestReset(r.Context(), acct, a.accountMeta(r))
	if err != nil {
		return verificationProblem(err)
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": v.ID, "reset_token": token, "status": v.Status, "requires": a.Verification.ResetRequirements(acct),
	})
	return nil
}

// resetByToken finds the open reset a token names; token is the header's
// when the request has one, else fallback.
func (a *API) resetByToken(r *http.Request, fallback string) (account.Account, verification.Verification, error) {
	token := r.Header.Get(ResetTokenHeader)
	if token == "" {
		token = fallback
	}
	if token == "" || len(token) > 200 {
		return account.Account{}, verification.Verification{}, errInvalidResetToken()
	}
	acct, v, err := a.Verification.ResetByToken(r.Context(), token)
	if errors.Is(err, verification.ErrNoReset) {
		return acct, v, errInvalidResetToken()
	}
	return acct, v, err
}

type resetView struct {
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	Requires    []string       `json:"requires"`
	Missing     []string       `json:"missing"`
	Documents   []documentView `json:"documents"`
	Resubmit    []string       `json:"resubmit"`
	Reason      string         `json:"reason"`
	SubmittedAt *time.Time     `json:"submitted_at,omitempty"`
	EffectiveAt *time.Time     `json:"effective_at,omitempty"`
}

// currentMFAReset shows a reset to the owner holding its token.
func (a *API) currentMFAReset(w http.ResponseWriter, r *http.Request) error {
	acct, v, err := a.resetByToken(r, r.URL.Query().Get("reset_token"))
	if err != nil {
		return err
	}
	docs, err := a.Verification.ResetDocuments(r.Context(), v)
	if err != nil {
		return err
	}
	requires := a.Verification.ResetRequirements(acct)
	var have []string
	if verification.IDComplete(docs) {
		have = append(have, verification.RequireIDDocument)
	}
	if slices.ContainsFunc(docs, func(d verification.Document) bool { return d.Kind == verification.KindSelfie }) {
		have = append(have, verification.RequireSelfie)
	}
	writeJSON(w, http.StatusOK, resetView{ID: v.ID, Status: v.Status, Requires: requires,
		Missing: nonNil(verification.Missing(verification.Tier{Requires: requires}, have)), Documents: viewDocuments(docs),
		Resubmit: nonNil(v.Resubmit), Reason: v.Reason, SubmittedAt: timePtr(v.SubmittedAt), EffectiveAt: timePtr(v.EffectiveAt)})
	return nil
}

// resetUpload reads an upload for a 2FA reset. With the token in the
// header, it is checked before the body is read.
func (a *API) resetUpload(r *http.Request, allowed ...string) (upload, account.Account, error) {
	if r.Header.Get(ResetTokenHeader) != "" {
		if _, _, err := a.resetByToken(r, ""); err != nil {
			return upload{}, account.Account{}, err
		}
	}
	up, p := readUpload(r, append(allowed, "reset_token")...)
	if p != nil {
		return up, account.Account{}, p
	}
	acct, _, err := a.resetByToken(r, up.fields["reset_token"])
	return up, acct, err
}

func (a *API) addResetDocument(w http.ResponseWriter, r *http.Request) error {
	up, acct, err := a.resetUpload(r, "kind", "side")
	if err != nil {
		return err
	}
	kind, side, p := documentKind(up)
	if p != nil {
		return p
	}
	return a.storeUpload(w, r, verification.PurposeMFAReset, verification.Upload{Kind: kind, Side: side, Data: up.file}, &acct)
}

func (a *API) addResetSelfie(w http.ResponseWriter, r *http.Request) error {
	up, acct, err := a.resetUpload(r)
	if err != nil {
		return err
	}
	return a.storeUpload(w, r, verification.PurposeMFAReset, verification.Upload{Kind: verification.KindSelfie, Data: up.file}, &acct)
}

type resetTokenBody struct {
	ResetToken string `json:"reset_token"`
}

// submitMFAReset sends a reset to review.
func (a *API) submitMFAReset(w http.ResponseWriter, r *http.Request) error {
	var req resetTokenBody
	if r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return p
		}
	}
	token := r.Header.Get(ResetTokenHeader)
	if token == "" {
		token = req.ResetToken
	}
	if token == "" || len(token) > 200 {
		return errInvalidResetToken()
	}
	v, err := a.Verification.SubmitReset(r.Context(), token, a.accountMeta(r))
	if errors.Is(err, verification.ErrNoReset) {
		return errInvalidResetToken()
	}
	if err != nil {
		return verificationProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": v.ID, "status": v.Status})
	return nil
}

// cancelMFAReset is the owner, logged in with their factor, ending a reset
// (it was not them, or it is no longer needed).
func (a *API) cancelMFAReset(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	err = a.Verification.CancelReset(r.Context(), acct, a.accountMeta(r))
	if errors.Is(err, verification.ErrNoReset) {
		return errNotFound("2FA reset in progress")
	}
	if err != nil {
		return verificationProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- admin API ---

type verificationAdminView struct {
	ID                string     `json:"id"`
	UserID            string     `json:"user_id"`
	Purpose           string     `json:"purpose"`
	Status            string     `json:"status"`
	TargetTier        int        `json:"target_tier"`
	CreatedAt         time.Time  `json:"created_at"`
	SubmittedAt       *time.Time `json:"submitted_at"`
	DecidedAt         *time.Time `json:"decided_at"`
	Reviewer          string     `json:"reviewer"`
	Resubmit          []string   `json:"resubmit"`
	Reason            string     `json:"reason"`
	ProviderRef       string     `json:"provider_ref,omitempty"`
	EffectiveAt       *time.Time `json:"effective_at,omitempty"`
	CompletedAt       *time.Time `json:"completed_at,omitempty"`
	CancelledAt       *time.Time `json:"cancelled_at,omitempty"`
	DocumentsPurgedAt *time.Time `json:"documents_purged_at,omitempty"`
}

func viewVerificationForStaff(v verification.Verification) verificationAdminView {
	return verificationAdminView{ID: v.ID, UserID: v.AccountID, Purpose: v.Purpose, Status: v.Status, TargetTier: v.TargetTier,
		CreatedAt: v.CreatedAt, SubmittedAt: timePtr(v.SubmittedAt), DecidedAt: timePtr(v.DecidedAt), Reviewer: v.Reviewer,
		Resubmit: nonNil(v.Resubmit), Reason: v.Reason, ProviderRef: v.ProviderRef, EffectiveAt: timePtr(v.EffectiveAt),
		CompletedAt: timePtr(v.CompletedAt), CancelledAt: timePtr(v.CancelledAt), DocumentsPurgedAt: timePtr(v.DocumentsPurgedAt)}
}

var queueStatuses = []string{
	verification.StatusNotStarted, verification.StatusInProgress, verification.StatusPendingReview,
	verification.StatusApproved, verification.StatusRejected, verification.StatusResubmissionRequested,
}

// listVerifications is the review queue, oldest submission first.
func (a *API) listVerifications(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	status := q.Get("status")
	var fe fieldErrors
	switch {
	case status == "":
		status = verification.StatusPendingReview
	case status == "all":
		status = ""
	case !slices.Contains(queueStatuses, status):
		fe.add("status", "invalid", "one of "+strings.Join(queueStatuses, ", ")+", or all")
	}
	// The queue has no pages: a cursor is refused, not ignored (which
	// would answer its first page again).
	limit := listLimit(r, &fe)
	if p := fe.problem(); p != nil {
		return p
	}
	list, err := a.Verification.Queue(r.Context(), status, limit)
	if err != nil {
		return err
	}
	out := make([]verificationAdminView, 0, len(list))
	for _, v := range list {
		// A 2FA reset its owner cancelled waits for no one.
		if status == verification.StatusPendingReview && !v.CancelledAt.IsZero() {
			continue
		}
		out = append(out, viewVerificationForStaff(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"verifications": out})
	return nil
}

type reviewUser struct {
	ID         string `json:"id"`
	Email      string `json:"email"`
	Tier       int    `json:"tier"`
	MFAEnabled bool   `json:"mfa_enabled"`
	Frozen     bool   `json:"frozen"`
}

type previousView struct {
	Verification verificationAdminView `json:"verification"`
	Documents    []documentView        `json:"documents"`
}

type reviewView struct {
	Verification verificationAdminView `json:"verification"`
	User         reviewUser            `json:"user"`
	PersonalInfo *personalInfoBody     `json:"personal_info"`
	Documents    []documentView        `json:"documents"`
	Previous     *previousView         `json:"previous"`
}

// staffDocuments lists a verification's documents, replaced ones included,
// each with the URL that opens it (an audited view).
func staffDocuments(verificationID string, docs []verification.Document) []documentView {
	out := make([]documentView, 0, len(docs))
	for _, d := range docs {
		v := viewDocument(d)
		v.ReplacedAt, v.PurgedAt = timePtr(d.ReplacedAt), timePtr(d.PurgedAt)
		if d.PurgedAt.IsZero() {
			v.ContentURL = "/admin/v1/verifications/" + verificationID + "/documents/" + d.ID
		}
		out = append(out, v)
	}
	return out
}

// getVerificationReview shows one verification to its reviewer. The
// documents' content is not in it: each is opened by its content_url.
func (a *API) getVerificationReview(w http.ResponseWriter, r *http.Request) error {
	rv, err := a.Verification.Review(r.Context(), r.PathValue("id"))
	if err != nil {
		return verificationProblem(err)
	}
	v := rv.Verification
	out := reviewView{
		Verification: viewVerificationForStaff(v),
		User: reviewUser{ID: rv.Account.ID, Email: rv.Account.Email, Tier: rv.Account.VerificationTier,
			MFAEnabled: rv.Account.MFAEnabled, Frozen: rv.Account.Frozen()},
		Documents: staffDocuments(v.ID, rv.Documents),
	}
	if rv.Info != (verification.PersonalInfo{}) {
		out.PersonalInfo = viewPersonalInfo(rv.Info)
	}
	if rv.Previous != nil {
		out.Previous = &previousView{Verification: viewVerificationForStaff(*rv.Previous), Documents: staffDocuments(rv.Previous.ID, rv.PreviousDocuments)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var documentExtensions = map[string]string{
	string(document.KindJPEG): "jpg", string(document.KindPNG): "png", string(document.KindPDF): "pdf",
}

// verificationDocument sends a document's bytes to its reviewer. Each view
// is recorded in the audit log by the same transaction that opens it.
func (a *API) verificationDocument(w http.ResponseWriter, r *http.Request) error {
	vid, did := r.PathValue("id"), r.PathValue("doc")
	var docs []verification.Document
	if err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		docs, err = tx.DocumentsOf(r.Context(), vid)
		return err
	}); err != nil {
		return err
	}
	if !slices.ContainsFunc(docs, func(d verification.Document) bool { return d.ID == did }) {
		return errNotFound("document")
	}
	meta := a.accountMeta(r)
	meta.Actor = adminActor(r)
	o, err := a.Verification.OpenDocument(r.Context(), did, meta)
	if err != nil {
		return verificationProblem(err)
	}
	ext := documentExtensions[o.MediaType]
	if ext == "" {
		ext = "bin"
	}
	h := w.Header()
	h.Set("Content-Type", o.MediaType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, o.ID, ext))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Document-SHA256", o.SHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(o.Data)
	return nil
}

type approveRequest struct {
	Note string `json:"note"`
}

type rejectRequest struct {
	Reason   string   `json:"reason"`
	Resubmit []string `json:"resubmit"`
}

// approveVerification grants what a verification asked for (a tier, or a
// 2FA reset's waiting period).
func (a *API) approveVerification(w http.ResponseWriter, r *http.Request) error {
	var req approveRequest
	if r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return p
		}
	}
	if utf8.RuneCountInString(req.Note) > 1000 {
		return errValidation(FieldError{Field: "note", Code: "too_long", Detail: "at most 1000 characters"})
	}
	// The note stays with the decision and in the audit record; the user is not shown it.
	return a.decide(w, r, verification.Decision{Event: verification.EventApprove, Reason: strings.TrimSpace(req.Note)})
}

// rejectVerification refuses a verification, or, with resubmit, asks the
// user to send those items again.
func (a *API) rejectVerification(w http.ResponseWriter, r *http.Request) error {
	var req rejectRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	req.Reason = strings.TrimSpace(req.Reason)
	switch n := utf8.RuneCountInString(req.Reason); {
	case n == 0:
		fe.add("reason", "required", "say what was wrong, in words the user can read: it is emailed to them")
	case n > 1000:
		fe.add("reason", "too_long", "at most 1000 characters")
	}
	for _, item := range req.Resubmit {
		if item != verification.RequirePersonalInfo && item != verification.RequireIDDocument && item != verification.RequireSelfie {
			fe.add("resubmit", "invalid", "items are personal_info, id_document and selfie")
			break
		}
	}
	if p := fe.problem(); p != nil {
		return p
	}
	d := verification.Decision{Event: verification.EventReject, Reason: req.Reason}
	if len(req.Resubmit) > 0 {
		d.Event, d.Resubmit = verification.EventRequestResubmission, req.Resubmit
	}
	return a.decide(w, r, d)
}

func (a *API) decide(w http.ResponseWriter, r *http.Request, d verification.Decision) error {
	id := r.PathValue("id")
	if err := a.refuseCancelled(r.Context(), id); err != nil {
		return err
	}
	meta := a.accountMeta(r)
	meta.Actor = adminActor(r)
	v, err := a.Verification.Decide(r.Context(), id, d, meta)
	if err != nil {
		return verificationProblem(err)
	}
	writeJSON(w, http.StatusOK, viewVerificationForStaff(v))
	return nil
}

// refuseCancelled answers 409 for a 2FA reset its owner cancelled while it
// waited for review: nothing is left to decide.
func (a *API) refuseCancelled(ctx context.Context, id string) error {
	var v verification.Verification
	err := a.Store.Read(ctx, func(tx *store.Tx) error {
		var err error
		v, err = tx.VerificationByID(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("verification")
	}
	if err != nil {
		return err
	}
	if !v.CancelledAt.IsZero() {
		return NewProblem(http.StatusConflict, "verification_decided", "this 2FA reset was cancelled by its owner")
	}
	return nil
}

func errInvalidSignature() *Problem {
	return NewProblem(http.StatusUnauthorized, "invalid_signature",
		"the provider is unknown or the signature does not match the body")
}

// providerResult records an external KYC provider's verdict. The provider
// signs the raw body with its shared secret; or the platform relays the
// provider's message with an admin key holding verifications:review (the
// route lets a request without Authorization through to the signature
// check, and checks the key of one with it), and the body names the
// provider whose words its status is in.
func (a *API) providerResult(w http.ResponseWriter, r *http.Request) error {
	// The signature is over the exact bytes: read them (1 MiB at most) first.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return errTooLarge()
		}
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body could not be read")
	}
	var v verification.Verification
	if _, byKey := r.Context().Value(adminKeyCtx{}).(adminkey.Key); byKey {
		var named struct {
			Provider string `json:"provider"`
		}
		if err := json.Unmarshal(body, &named); err != nil {
			return jsonProblem(err)
		}
		p, ok := a.Providers[named.Provider]
		switch {
		case named.Provider == "":
			return errValidation(FieldError{Field: "provider", Code: "required",
				Detail: "name the provider whose result this is (one of WARDEN_KYC_PROVIDERS)"})
		case !ok:
			return errValidation(FieldError{Field: "provider", Code: "unknown",
				Detail: "no provider of this name is configured in WARDEN_KYC_PROVIDERS"})
		}
		meta := a.accountMeta(r)
		meta.Actor = adminActor(r)
		v, err = a.Verification.ApplyProviderResultAs(r.Context(), p, r.PathValue("id"), body, meta)
	} else {
		p, ok := a.Providers[r.Header.Get(ProviderHeader)]
		if !ok || r.Header.Get(ProviderHeader) == "" {
			return errInvalidSignature()
		}
		v, err = a.Verification.ApplyProviderResult(r.Context(), p, r.PathValue("id"), body,
			r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader))
	}
	switch {
	case errors.Is(err, verification.ErrSignature):
		return errInvalidSignature()
	case errors.Is(err, verification.ErrStale):
		return NewProblem(http.StatusUnauthorized, "stale_signature",
			"the timestamp is outside the accepted window; sign the message again with the current time")
	case errors.Is(err, verification.ErrReplay):
		return NewProblem(http.StatusConflict, "replayed", "this message id was already taken")
	case errors.Is(err, verification.ErrUnknownStatus):
		return errValidation(FieldError{Field: "status", Code: "invalid", Detail: err.Error()})
	case err != nil:
		return verificationProblem(err)
	}
	writeJSON(w, http.StatusOK, viewVerificationForStaff(v))
	return nil
}
