package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// mfaProblem maps second-factor errors to their problems; anything else is
// passed to accountProblem.
func mfaProblem(err error) error {
	var drift *mfa.DriftError
	switch {
	case errors.As(err, &drift):
		return NewProblem(http.StatusBadRequest, "invalid_code",
			"the code is wrong for now, but right for a clock that is off: set your phone's time to automatic (network time) and try a new code").
			With("clock_drift_seconds", drift.Seconds)
	case errors.Is(err, mfa.ErrInvalidCode):
		return NewProblem(http.StatusBadRequest, "invalid_code", "the code is not valid; check it and try again")
	case errors.Is(err, mfa.ErrCodeReused):
		return NewProblem(http.StatusBadRequest, "code_reused", "this code was already used; wait for the next one in your app")
	case errors.Is(err, mfa.ErrChallengeExpired):
		return NewProblem(http.StatusGone, "challenge_expired", "this challenge expired, was used, or had too many wrong answers; log in again")
	case errors.Is(err, mfa.ErrMethodNotAllowed):
		return NewProblem(http.StatusBadRequest, "method_not_allowed", "this method cannot answer here; use one of the methods offered")
	case errors.Is(err, mfa.ErrInvalidPasskey):
		return NewProblem(http.StatusBadRequest, "invalid_passkey", "the passkey's answer was refused; try again")
	case errors.Is(err, mfa.ErrAlreadyEnabled):
		return NewProblem(http.StatusConflict, "mfa_already_enabled", "an authenticator app is already set up; turn it off first to replace it")
	case errors.Is(err, mfa.ErrNotEnabled):
		return NewProblem(http.StatusConflict, "mfa_not_enabled", "no authenticator app is set up")
	case errors.Is(err, mfa.ErrNoEnrolment):
		return NewProblem(http.StatusConflict, "no_enrolment", "start the authenticator app set-up first (POST /v1/mfa/totp)")
	case errors.Is(err, mfa.ErrPasskeyNotFound):
		return errNotFound("passkey")
	case errors.Is(err, mfa.ErrPasskeysOff):
		return NewProblem(http.StatusNotImplemented, "passkeys_unavailable", "passkeys need this server to be reached by a host name; ask the operator to set WARDEN_BASE_URL")
	case errors.Is(err, mfa.ErrTooManyPasskeys):
		return NewProblem(http.StatusConflict, "too_many_passkeys", "remove a passkey before adding another")
	case errors.Is(err, store.ErrConflict):
		return NewProblem(http.StatusConflict, "passkey_exists", "this passkey is registered already")
	}
	return accountProblem(err)
}

// errMFARequired asks for a fresh second factor before a sensitive action.
func errMFARequired() *Problem {
	return NewProblem(http.StatusForbidden, "mfa_required",
		"confirm it is you with your second factor first (POST /v1/step-up), then try again")
}

// requireStepUp refuses a sensitive action unless the session proved a
// second factor recently. It reads the session from the database, not the
// cache, so a step-up made on another node counts at once.
func (a *API) requireStepUp(r *http.Request, c caller) error {
	if !c.account.MFAEnabled {
		return nil
	}
	sess, err := a.Store.SessionByTokenHash(r.Context(), c.session.TokenHash)
	if err != nil {
		return err
	}
	if a.MFA.NeedsStepUp(c.account, sess) {
		return errMFARequired()
	}
	return nil
}

// codeAttempt guards every check of a code by the client's address; the
// account is guarded by its lockout lanes (login.Service.Guard), which
// cannot be turned against the owner's trusted devices.
func (a *API) codeAttempt(w http.ResponseWriter, r *http.Request) error {
	return a.rateLimit(w, r, ratelimit.Key{Bucket: ipBucket("login:ip:", r), Limit: a.Limits.LoginPerIP})
}

type challengeStarted struct {
	Status      string   `json:"status"`
	ChallengeID string   `json:"challenge_id"`
	Methods     []string `json:"methods"`
	// Reasons are the risk decision's; Requires what the login must prove
	// (email, second_factor) and Pending what is still missing.
	Reasons         []string        `json:"reasons"`
	Requires        []string        `json:"requires"`
	Pending         []string        `json:"pending"`
	ExpiresAt       time.Time       `json:"expires_at"`
	WebAuthnOptions json.RawMessage `json:"webauthn_options,omitempty"`
}

// proofRequest answers a challenge or a step-up: a code, or a passkey's
// PublicKeyCredential (as the browser serialises it) under "credential".
type proofRequest struct {
	Method      string          `json:"method"`
	Code        string          `json:"code"`
	Credential  json.RawMessage `json:"credential"`
	ChallengeID string          `json:"challenge_id"`
}

func (p proofRequest) validate() *Problem {
	var fe fieldErrors
	switch p.Method {
	case mfa.MethodTOTP, mfa.MethodRecoveryCode:
		if strings.TrimSpace(p.Code) == "" {
			fe.add("code", "required", "enter the code")
		} else if len(p.Code) > 64 {
			fe.add("code", "too_long", "a code is at most 64 characters")
		}
	case mfa.MethodWebAuthn:
	case "":
		fe.add("method", "required", "say which method answers: totp, recovery_code or webauthn")
	default:
		fe.add("method", "invalid", "one of totp, recovery_code, webauthn")
	}
	return fe.problem()
}

func (p proofRequest) proof() mfa.Proof {
	return mfa.Proof{Method: p.Method, Code: p.Code, Response: p.Credential}
}

// completeChallenge is a login's next step: a second factor, or
// {method:"email"} once the new-device email's link was followed (202 while
// it was not).
func (a *API) completeChallenge(w http.ResponseWriter, r *http.Request) error {
	var req proofRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	// {method:"email"} carries nothing to check; only a login challenge takes it.
	if p := req.validate(); p != nil && req.Method != mfa.MethodEmail {
		return p
	}
	if req.Method == mfa.MethodWebAuthn && len(req.Credential) == 0 {
		return errValidation(FieldError{Field: "credential", Code: "required", Detail: "send the passkey's answer (PublicKeyCredential JSON)"})
	}
	if err := a.rateLimit(w, r, ratelimit.Key{Bucket: ipBucket("login:ip:", r), Limit: a.Limits.LoginPerIP}); err != nil {
		return err
	}
	res, err := a.Login.Answer(r.Context(), r.PathValue("id"), req.proof(), a.sessionMeta(r))
	if errors.Is(err, mfa.ErrConfirmationPending) {
		return NewProblem(http.StatusConflict, "confirmation_pending",
			"open the link in the email we sent to confirm this device, then try again").With("pending", []string{mfa.RequireEmail})
	}
	if err != nil {
		return loginProblem(err)
	}
	return a.loginResult(w, res)
}

// confirmDevice follows the new-device email's link.
func (a *API) confirmDevice(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	if err := a.Login.ConfirmDevice(r.Context(), req.Token, a.sessionMeta(r)); err != nil {
		if errors.Is(err, mfa.ErrChallengeExpired) {
			return NewProblem(http.StatusBadRequest, "invalid_token", "this link is invalid, was already used, or has expired; log in again")
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"confirmed": true})
	return nil
}

// stepUp proves a second factor for the current session. A passkey takes
// two calls: {method:"webauthn"} returns options and a challenge id, then
// {method:"webauthn", challenge_id, credential} answers them.
func (a *API) stepUp(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	var req proofRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	if !c.account.MFAEnabled {
		return mfaProblem(mfa.ErrNotEnabled)
	}
	if req.Method == mfa.MethodWebAuthn && len(req.Credential) == 0 {
		st, err := a.MFA.StartChallenge(r.Context(), c.account, mfa.PurposeStepUp, c.session.ID)
		if err != nil {
			return mfaProblem(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"challenge_id": st.ID, "expires_at": st.ExpiresAt, "webauthn_options": json.RawMessage(st.WebAuthnOptions)})
		return nil
	}
	if err := a.codeAttempt(w, r); err != nil {
		return err
	}
	err := a.Login.Guard(r.Context(), c.account, a.sessionMeta(r), func() error {
		if req.Method == mfa.MethodWebAuthn {
			_, err := a.MFA.CompleteChallenge(r.Context(), req.ChallengeID, mfa.PurposeStepUp, c.session.ID, req.proof(), a.accountMeta(r))
			return err
		}
		return a.MFA.StepUp(r.Context(), c.account, c.session.ID, req.proof(), a.accountMeta(r))
	})
	if err != nil {
		return loginProblem(err)
	}
	a.Sessions.Forget([]string{c.session.TokenHash})
	writeJSON(w, http.StatusOK, map[string]any{"aal": session.AAL2, "valid_until": a.Now().UTC().Add(a.MFA.Policy.StepUpWindow)})
	return nil
}

type mfaState struct {
	TOTP struct {
		Enabled bool `json:"enabled"`
		Pending bool `json:"pending"`
	} `json:"totp"`
	Passkeys          []passkeyView `json:"passkeys"`
	RecoveryCodesLeft int           `json:"recovery_codes_left"`
}

type passkeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func viewPasskey(p mfa.Passkey) passkeyView {
	v := passkeyView{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt}
	if !p.LastUsedAt.IsZero() {
		v.LastUsedAt = &p.LastUsedAt
	}
	return v
}

// getMFA shows the account's second factors.
func (a *API) getMFA(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	f, err := a.MFA.FactorsOf(r.Context(), c.account.ID)
	if err != nil {
		return err
	}
	var out mfaState
	out.TOTP.Enabled, out.TOTP.Pending, out.RecoveryCodesLeft = f.TOTP, f.TOTPPending, f.RecoveryCodesLeft
	out.Passkeys = make([]passkeyView, 0, len(f.Passkeys))
	for _, p := range f.Passkeys {
		out.Passkeys = append(out.Passkeys, viewPasskey(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// beginTOTP starts an authenticator-app set-up. Adding a factor to an
// account that has one is sensitive, so it wants a fresh step-up.
func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	if err := a.requireStepUp(r, c); err != nil {
		return err
	}
	e, err := a.MFA.BeginTOTP(r.Context(), c.account)
	if err != nil {
		return mfaProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"secret": e.Secret, "otpauth_uri": e.URI, "qr_png": base64.StdEncoding.EncodeToString(e.QRPNG),
	})
	return nil
}

type codeRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

func (req codeRequest) validate(wantPassword bool) *Problem {
	var fe fieldErrors
	if strings.TrimSpace(req.Code) == "" {
		fe.add("code", "required", "enter the 6-digit code from your authenticator app")
	} else if len(req.Code) > 64 {
		fe.add("code", "too_long", "a code is at most 64 characters")
	}
	if wantPassword && req.Password == "" {
		fe.add("password", "required", "enter your password")
	} else if len(req.Password) > 1024 {
		fe.add("password", "too_long", "at most 128 characters")
	}
	return fe.problem()
}

// decodeCode reads {code[, password]} and, for sensitive actions, checks
// the step-up and the code budget first.
func (a *API) decodeCode(w http.ResponseWriter, r *http.Request, wantPassword, sensitive bool) (codeRequest, error) {
	c := currentCaller(r.Context())
	var req codeRequest
	if p := decodeJSON(r, &req); p != nil {
		return req, p
	}
	if p := req.validate(wantPassword); p != nil {
		return req, p
	}
	if sensitive {
		if err := a.requireStepUp(r, c); err != nil {
			return req, err
		}
	}
	return req, a.codeAttempt(w, r)
}

// confirmTOTP switches the app on with its first code.
func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	req, err := a.decodeCode(w, r, false, false)
	if err != nil {
		return err
	}
	var codes []string
	err = a.Login.Guard(r.Context(), c.account, a.sessionMeta(r), func() error {
		var err error
		codes, err = a.MFA.ConfirmTOTP(r.Context(), c.account, c.session.ID, req.Code, a.accountMeta(r))
		return err
	})
	if err != nil {
		return loginProblem(err)
	}
	a.Sessions.Forget([]string{c.session.TokenHash})
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
	return nil
}

// disableTOTP removes the app: password, a code and a recent step-up.
func (a *API) disableTOTP(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	req, err := a.decodeCode(w, r, true, true)
	if err != nil {
		return err
	}
	if err := a.Login.Guard(r.Context(), c.account, a.sessionMeta(r), func() error {
		return a.MFA.DisableTOTP(r.Context(), c.account, req.Password, req.Code, a.accountMeta(r))
	}); err != nil {
		return loginProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// regenerateRecoveryCodes replaces the set with a code and a recent step-up.
func (a *API) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	req, err := a.decodeCode(w, r, false, true)
	if err != nil {
		return err
	}
	var codes []string
	err = a.Login.Guard(r.Context(), c.account, a.sessionMeta(r), func() error {
		var err error
		codes, err = a.MFA.RegenerateRecoveryCodes(r.Context(), c.account, req.Code, a.accountMeta(r))
		return err
	})
	if err != nil {
		return loginProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
	return nil
}

// beginPasskeyRegistration returns options for navigator.credentials.create.
func (a *API) beginPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	if err := a.requireStepUp(r, c); err != nil {
		return err
	}
	reg, err := a.MFA.BeginPasskeyRegistration(r.Context(), c.account, c.session.ID)
	if err != nil {
		return mfaProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"registration_id": reg.ID, "options": json.RawMessage(reg.Options)})
	return nil
}

type passkeyFinish struct {
	RegistrationID string          `json:"registration_id"`
	Name           string          `json:"name"`
	Credential     json.RawMessage `json:"credential"`
}

// validPasskeyName checks a passkey's name: 1 to 60 characters of text.
func validPasskeyName(fe *fieldErrors, name string) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		fe.add("name", "required", "name the passkey, e.g. the device it lives on")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		fe.add("name", "invalid", "use ordinary text")
	case utf8.RuneCountInString(name) > 60:
		fe.add("name", "too_long", "at most 60 characters")
	}
	return name
}

// finishPasskeyRegistration stores the new passkey.
func (a *API) finishPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	var req passkeyFinish
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	req.Name = validPasskeyName(&fe, req.Name)
	if req.RegistrationID == "" {
		fe.add("registration_id", "required", "send the registration_id from the first step")
	}
	if len(req.Credential) == 0 {
		fe.add("credential", "required", "send the browser's PublicKeyCredential JSON")
	}
	if p := fe.problem(); p != nil {
		return p
	}
	reg, err := a.MFA.FinishPasskeyRegistration(r.Context(), c.account, c.session.ID, req.RegistrationID, req.Name, req.Credential, a.accountMeta(r))
	if err != nil {
		return mfaProblem(err)
	}
	a.Sessions.Forget([]string{c.session.TokenHash})
	out := map[string]any{"passkey": viewPasskey(reg.Passkey)}
	if reg.RecoveryCodes != nil {
		out["recovery_codes"] = reg.RecoveryCodes
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// renamePasskey changes a passkey's name.
func (a *API) renamePasskey(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	var req struct {
		Name string `json:"name"`
	}
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	name := validPasskeyName(&fe, req.Name)
	if p := fe.problem(); p != nil {
		return p
	}
	p, err := a.MFA.RenamePasskey(r.Context(), c.account, r.PathValue("id"), name)
	if err != nil {
		return mfaProblem(err)
	}
	writeJSON(w, http.StatusOK, viewPasskey(p))
	return nil
}

// removePasskey deletes a passkey after a recent step-up.
func (a *API) removePasskey(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	if err := a.requireStepUp(r, c); err != nil {
		return err
	}
	// The body is optional: {password} is needed only to remove the last
	// second factor.
	var req struct {
		Password string `json:"password"`
	}
	if r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return p
		}
	}
	if err := a.Login.Guard(r.Context(), c.account, a.sessionMeta(r), func() error {
		return a.MFA.RemovePasskey(r.Context(), c.account, r.PathValue("id"), req.Password, a.accountMeta(r))
	}); err != nil {
		return loginProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
