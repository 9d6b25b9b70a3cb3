package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// User calls the user API (/v1) as one of the platform's users: it carries
// the user's session token (sent as a bearer token) and device token (sent
// as X-Warden-Device). Login and AnswerChallenge set them; a User made
// from stored tokens continues a session. A User is safe for concurrent use.
//
// Keep the device token with the user (a cookie of the platform's own, the
// app's storage): a login from a device Warden knows needs no new-device
// confirmation, and has its own lockout lane.
type User struct {
	c       *Client
	mu      sync.Mutex
	session string
	device  string
}

// User returns a User with the given tokens; both may be empty (a user not
// logged in, on a device Warden has not seen).
func (c *Client) User(sessionToken, deviceToken string) *User {
	return &User{c: c, session: sessionToken, device: deviceToken}
}

// SessionToken is the current session token ("" when logged out).
func (u *User) SessionToken() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.session
}

// DeviceToken is the device token Warden issued to this device.
func (u *User) DeviceToken() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.device
}

func (u *User) tokens() (session, device string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.session, u.device
}

// do sends a user API call with the user's tokens.
func (u *User) do(ctx context.Context, cl call, out any) (*response, error) {
	cl.token, cl.device = u.tokens()
	return u.c.do(ctx, cl, out)
}

// --- accounts and sessions ---

// Register signs up (POST /v1/registrations): the answer is the same
// whether or not the email has an account; a verification email is sent.
func (u *User) Register(ctx context.Context, email, password string) error {
	_, err := u.do(ctx, call{method: "POST", path: "/v1/registrations", body: map[string]string{"email": email, "password": password}}, nil)
	return err
}

// VerifyEmail spends the token of the verification email's link
// (POST /v1/email-verifications).
func (u *User) VerifyEmail(ctx context.Context, token string) error {
	_, err := u.do(ctx, call{method: "POST", path: "/v1/email-verifications", body: map[string]string{"token": token}}, nil)
	return err
}

// Login statuses.
const (
	LoginActive    = "active"
	LoginChallenge = "challenge"
)

// LoginResult is a login step's answer: a session (Status LoginActive), or
// a challenge to answer (Status LoginChallenge).
type LoginResult struct {
	Status string
	// With LoginActive. The User keeps the tokens too. ExpiresAt is when
	// the session ends unless used again (the idle timeout; each use moves
	// it, up to the session's lifetime).
	SessionToken string
	ExpiresAt    time.Time
	// DeviceToken is issued on a device's first login ("" otherwise).
	DeviceToken string
	// RecoveryCodesLeft is set when a recovery code was spent.
	RecoveryCodesLeft *int
	// Challenge is set with LoginChallenge.
	Challenge *Challenge
}

// Active says whether the login opened a session.
func (r *LoginResult) Active() bool { return r.Status == LoginActive }

// Challenge is what a login must still prove before a session starts.
type Challenge struct {
	ID string `json:"challenge_id"`
	// Methods may answer it: email, totp, webauthn, recovery_code.
	Methods []string `json:"methods"`
	// Requires is what the login must prove (email, second_factor);
	// Pending what of it is still missing.
	Requires []string `json:"requires"`
	Pending  []string `json:"pending"`
	// Reasons are the risk reasons that fired (new_device, new_ip, …, mfa_required).
	Reasons   []string  `json:"reasons"`
	ExpiresAt time.Time `json:"expires_at"`
	// WebAuthnOptions are for navigator.credentials.get, when passkeys may answer.
	WebAuthnOptions json.RawMessage `json:"webauthn_options"`
}

// Login logs in with a password (POST /v1/sessions). A 201 opens a session,
// kept by the User (with the device token of a first login); a 202 is a
// Challenge: confirm the new device from the email (ConfirmDevice, then
// AnswerChallenge with MethodEmail) and/or give a second factor
// (AnswerChallenge). Refusals are errors: invalid_credentials,
// email_not_verified, account_locked (RetryAfter), account_frozen,
// login_denied (Reasons), rate_limited.
func (u *User) Login(ctx context.Context, email, password string) (*LoginResult, error) {
	return u.loginStep(ctx, call{method: "POST", path: "/v1/sessions", body: map[string]string{"email": email, "password": password}})
}

// Second-factor and confirmation methods.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodWebAuthn     = "webauthn"
	MethodEmail        = "email"
)

// Proof answers a login challenge or a step-up.
type Proof struct {
	// Method is one of the Method… constants.
	Method string `json:"method"`
	// Code is the TOTP code or recovery code.
	Code string `json:"code,omitempty"`
	// Credential is a passkey's PublicKeyCredential JSON.
	Credential json.RawMessage `json:"credential,omitempty"`
	// ChallengeID answers a passkey step-up's challenge.
	ChallengeID string `json:"challenge_id,omitempty"`
}

// AnswerChallenge continues a login (POST /v1/sessions/challenges/{id}):
// an active result when every requirement is met, or the challenge again
// with what is still Pending. Before the new-device email's link is
// followed, MethodEmail answers confirmation_pending.
func (u *User) AnswerChallenge(ctx context.Context, challengeID string, proof Proof) (*LoginResult, error) {
	return u.loginStep(ctx, call{method: "POST", path: pathf("/v1/sessions/challenges/%s", challengeID), body: proof})
}

func (u *User) loginStep(ctx context.Context, cl call) (*LoginResult, error) {
	resp, err := u.do(ctx, cl, nil)
	if err != nil {
		return nil, err
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(resp.body, &status); err != nil {
		return nil, fmt.Errorf("warden: %s %s: decode answer: %w", cl.method, cl.path, err)
	}
	if status.Status == LoginChallenge {
		var ch Challenge
		if err := json.Unmarshal(resp.body, &ch); err != nil {
			return nil, fmt.Errorf("warden: %s %s: decode challenge: %w", cl.method, cl.path, err)
		}
		return &LoginResult{Status: LoginChallenge, Challenge: &ch}, nil
	}
	var s struct {
		SessionToken      string    `json:"session_token"`
		ExpiresAt         time.Time `json:"expires_at"`
		DeviceToken       string    `json:"device_token"`
		RecoveryCodesLeft *int      `json:"recovery_codes_left"`
	}
	if err := json.Unmarshal(resp.body, &s); err != nil || s.SessionToken == "" {
		return nil, fmt.Errorf("warden: %s %s: answer %d without a session (%s)", cl.method, cl.path, resp.status, resp.body)
	}
	u.mu.Lock()
	u.session = s.SessionToken
	if s.DeviceToken != "" {
		u.device = s.DeviceToken
	}
	u.mu.Unlock()
	return &LoginResult{Status: LoginActive, SessionToken: s.SessionToken, ExpiresAt: s.ExpiresAt,
		DeviceToken: s.DeviceToken, RecoveryCodesLeft: s.RecoveryCodesLeft}, nil
}

// ConfirmDevice confirms a login from a new device with the token of the
// new-device email's link (POST /v1/device-confirmations). The device that
// logged in then answers its challenge with MethodEmail.
func (u *User) ConfirmDevice(ctx context.Context, token string) error {
	_, err := u.do(ctx, call{method: "POST", path: "/v1/device-confirmations", body: map[string]string{"token": token}}, nil)
	return err
}

// Whoami is who is signed in (GET /v1/session).
type Whoami struct {
	User struct {
		ID               string `json:"id"`
		Email            string `json:"email"`
		MFAEnabled       bool   `json:"mfa_enabled"`
		VerificationTier int    `json:"verification_tier"`
		Frozen           bool   `json:"frozen"`
	} `json:"user"`
	Session struct {
		ID        string    `json:"id"`
		AAL       string    `json:"aal"`
		CreatedAt time.Time `json:"created_at"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"session"`
	Device struct {
		ID      string `json:"id"`
		Trusted bool   `json:"trusted"`
	} `json:"device"`
}

// Session shows who is signed in (GET /v1/session); unauthenticated when
// the session ended.
func (u *User) Session(ctx context.Context) (*Whoami, error) {
	var out Whoami
	if _, err := u.do(ctx, call{method: "GET", path: "/v1/session", retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout ends the session (DELETE /v1/session) and forgets its token.
func (u *User) Logout(ctx context.Context) error {
	if _, err := u.do(ctx, call{method: "DELETE", path: "/v1/session"}, nil); err != nil {
		return err
	}
	u.mu.Lock()
	u.session = ""
	u.mu.Unlock()
	return nil
}

// Freeze is "this wasn't me": every session ends and logins and withdrawals
// are blocked until staff unfreeze the account (POST /v1/account/freeze).
func (u *User) Freeze(ctx context.Context) error {
	_, err := u.do(ctx, call{method: "POST", path: "/v1/account/freeze"}, nil)
	return err
}

// --- second factor ---

// TOTPSetup is a new authenticator-app secret, shown once.
type TOTPSetup struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	// QRPNG is the base64 of a PNG QR code of OTPAuthURI.
	QRPNG string `json:"qr_png"`
}

// BeginTOTP starts setting up an authenticator app (POST /v1/mfa/totp).
func (u *User) BeginTOTP(ctx context.Context) (*TOTPSetup, error) {
	var out TOTPSetup
	if _, err := u.do(ctx, call{method: "POST", path: "/v1/mfa/totp"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmTOTP switches the app on with its first code and answers the 10
// recovery codes, shown once (POST /v1/mfa/totp/confirm).
func (u *User) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	var out struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	_, err := u.do(ctx, call{method: "POST", path: "/v1/mfa/totp/confirm", body: map[string]string{"code": code}}, &out)
	return out.RecoveryCodes, err
}

// StepUpResult is a step-up's answer: ValidUntil when stepped up, or a
// passkey challenge (ChallengeID, WebAuthnOptions) to answer.
type StepUpResult struct {
	AAL             string          `json:"aal"`
	ValidUntil      time.Time       `json:"valid_until"`
	ChallengeID     string          `json:"challenge_id"`
	ExpiresAt       time.Time       `json:"expires_at"`
	WebAuthnOptions json.RawMessage `json:"webauthn_options"`
}

// StepUp proves a second factor again before a sensitive action (POST /v1/step-up).
func (u *User) StepUp(ctx context.Context, proof Proof) (*StepUpResult, error) {
	var out StepUpResult
	if _, err := u.do(ctx, call{method: "POST", path: "/v1/step-up", body: proof}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- verification and limits ---

// PersonalInfo is the personal information of identity verification.
type PersonalInfo struct {
	LegalName string `json:"legal_name"`
	// DateOfBirth is YYYY-MM-DD.
	DateOfBirth string `json:"date_of_birth"`
	// Country is ISO 3166-1 alpha-2.
	Country string        `json:"country"`
	Address PostalAddress `json:"address"`
}

// PostalAddress is a postal address.
type PostalAddress struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code,omitempty"`
	Region     string `json:"region,omitempty"`
}

// Tier is a verification tier and its withdrawal limits (decimal strings
// in the reference currency; "0" allows none).
type Tier struct {
	Level          int      `json:"level"`
	Name           string   `json:"name"`
	Requires       []string `json:"requires"`
	PerTransaction string   `json:"per_transaction"`
	Rolling24h     string   `json:"rolling_24h"`
}

// VerificationOverview is where the user stands in identity verification.
type VerificationOverview struct {
	Tier int `json:"tier"`
	// Status: not_started, in_progress, pending_review, resubmission_requested, rejected.
	Status            string        `json:"status"`
	Requirements      []string      `json:"requirements"`
	NextTier          *Tier         `json:"next_tier"`
	PersonalInfoSaved bool          `json:"personal_info_saved"`
	PersonalInfo      *PersonalInfo `json:"personal_info"`
	Documents         []Document    `json:"documents"`
	Resubmit          []string      `json:"resubmit"`
	Reason            string        `json:"reason"`
	SubmittedAt       *time.Time    `json:"submitted_at"`
	MFAReset          *struct {
		ID          string     `json:"id"`
		Status      string     `json:"status"`
		EffectiveAt *time.Time `json:"effective_at"`
	} `json:"mfa_reset"`
}

// Verification shows the user's identity verification (GET /v1/verification).
func (u *User) Verification(ctx context.Context) (*VerificationOverview, error) {
	return u.overview(ctx, call{method: "GET", path: "/v1/verification", retry: true})
}

// SavePersonalInfo saves the personal information (PUT /v1/verification/personal-info).
func (u *User) SavePersonalInfo(ctx context.Context, info PersonalInfo) (*VerificationOverview, error) {
	return u.overview(ctx, call{method: "PUT", path: "/v1/verification/personal-info", body: info})
}

// SubmitVerification asks for review of what was sent; a tier of personal
// information alone is granted at once (POST /v1/verification/submit).
func (u *User) SubmitVerification(ctx context.Context) (*VerificationOverview, error) {
	return u.overview(ctx, call{method: "POST", path: "/v1/verification/submit"})
}

func (u *User) overview(ctx context.Context, cl call) (*VerificationOverview, error) {
	var out VerificationOverview
	if _, err := u.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Limits are the user's withdrawal limits and what is used of them,
// decimal strings in Currency.
type Limits struct {
	Tier           int    `json:"tier"`
	Currency       string `json:"currency"`
	PerTransaction string `json:"per_transaction"`
	Rolling24h     string `json:"rolling_24h"`
	Used24h        string `json:"used_24h"`
	Available24h   string `json:"available_24h"`
	Tiers          []Tier `json:"tiers"`
}

// Limits shows the user's withdrawal limits (GET /v1/limits).
func (u *User) Limits(ctx context.Context) (*Limits, error) {
	var out Limits
	if _, err := u.do(ctx, call{method: "GET", path: "/v1/limits", retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- address book ---

// Address statuses.
const (
	AddressPendingConfirmation = "pending_confirmation"
	AddressOnHold              = "on_hold"
	AddressActive              = "active"
)

// Address is an entry of the withdrawal address book.
type Address struct {
	ID      string `json:"id"`
	Asset   string `json:"asset"`
	Network string `json:"network"`
	// Address is normalized (Bech32 in lower case, EVM with its checksum, …).
	Address string `json:"address"`
	Memo    string `json:"memo"`
	Label   string `json:"label"`
	// Status is one of the Address… constants, at the time of the answer.
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmBy   *time.Time `json:"confirm_by"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	AvailableAt *time.Time `json:"available_at"`
}

// NewAddress is what AddAddress asks for.
type NewAddress struct {
	Asset   string `json:"asset"`
	Network string `json:"network"`
	Address string `json:"address"`
	Memo    string `json:"memo,omitempty"`
	Label   string `json:"label,omitempty"`
}

// Addresses lists the address book, oldest first (GET /v1/addresses).
func (u *User) Addresses(ctx context.Context) ([]Address, error) {
	var out struct {
		Addresses []Address `json:"addresses"`
	}
	_, err := u.do(ctx, call{method: "GET", path: "/v1/addresses", retry: true}, &out)
	return out.Addresses, err
}

// AddAddress adds an address, pending_confirmation until confirmed from its
// email with a code (POST /v1/addresses); it needs a recent second factor.
func (u *User) AddAddress(ctx context.Context, a NewAddress) (*Address, error) {
	var out Address
	if _, err := u.do(ctx, call{method: "POST", path: "/v1/addresses", body: a}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmAddress confirms an address with its email's token and a code
// from the authenticator app; it goes on_hold (POST /v1/addresses/{id}/confirm).
func (u *User) ConfirmAddress(ctx context.Context, id, token, code string) (*Address, error) {
	var out Address
	if _, err := u.do(ctx, call{method: "POST", path: pathf("/v1/addresses/%s/confirm", id),
		body: map[string]string{"token": token, "code": code}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAddress removes an address at once (DELETE /v1/addresses/{id}).
func (u *User) DeleteAddress(ctx context.Context, id string) error {
	_, err := u.do(ctx, call{method: "DELETE", path: pathf("/v1/addresses/%s", id)}, nil)
	return err
}

// --- withdrawals ---

// WithdrawalRequest asks for a withdrawal: to an address of the book
// (AddressID), or, with the allow-list off, to an Address (and Memo).
type WithdrawalRequest struct {
	Asset   string `json:"asset"`
	Network string `json:"network"`
	// Amount is a decimal string ("0.015"): never a float.
	Amount    string `json:"amount"`
	AddressID string `json:"address_id,omitempty"`
	Address   string `json:"address,omitempty"`
	Memo      string `json:"memo,omitempty"`
	// IdempotencyKey names this withdrawal: a repeat with the same key
	// answers the first result. Empty: RequestWithdrawal makes one (and
	// returns it in Withdrawal.IdempotencyKey). Give your own, stored with
	// the platform's withdrawal record before the call, to be safe across a
	// crash of your process too.
	IdempotencyKey string `json:"-"`
}

// RequestWithdrawal asks for a withdrawal (POST /v1/withdrawals). Warden
// values it with the platform's prices and decides it; an accepted request
// is awaiting_confirmation with its Required confirmations. It is sent with
// an Idempotency-Key and retried with the same key, so a dropped connection
// cannot make two withdrawals. Refusals are errors: mfa_required,
// withdrawals_locked (Reason, Until), verification_required,
// price_unavailable, limit_exceeded (Limits), address_not_allowed,
// address_on_hold (Until), invalid_amount, invalid_address,
// idempotency_key_reused.
func (u *User) RequestWithdrawal(ctx context.Context, req WithdrawalRequest) (*Withdrawal, error) {
	key := req.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	var out Withdrawal
	resp, err := u.do(ctx, call{method: "POST", path: "/v1/withdrawals", body: req, idempotencyKey: key, retry: true}, &out)
	if err != nil {
		return nil, err
	}
	out.IdempotencyKey = key
	out.Replayed = resp.header.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// ConfirmWithdrawal gives a withdrawal its second factor: a code from the
// authenticator app or a recovery code (POST /v1/withdrawals/{id}/confirm).
func (u *User) ConfirmWithdrawal(ctx context.Context, id, code string) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := u.do(ctx, call{method: "POST", path: pathf("/v1/withdrawals/%s/confirm", id),
		body: map[string]string{"code": code}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmWithdrawalEmail follows a withdrawal's email link with its token
// (POST /v1/withdrawal-confirmations). No session is needed; with one, a
// token of another account's withdrawal is invalid_token.
func (u *User) ConfirmWithdrawalEmail(ctx context.Context, token string) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := u.do(ctx, call{method: "POST", path: "/v1/withdrawal-confirmations",
		body: map[string]string{"token": token}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWithdrawals lists the user's withdrawals, newest first
// (GET /v1/withdrawals); UserID of the filter is ignored.
func (u *User) ListWithdrawals(ctx context.Context, f WithdrawalFilter) ([]Withdrawal, error) {
	var out struct {
		Withdrawals []Withdrawal `json:"withdrawals"`
	}
	_, err := u.do(ctx, call{method: "GET", path: "/v1/withdrawals", query: f.query(false), retry: true}, &out)
	return out.Withdrawals, err
}

// GetWithdrawal shows one of the user's withdrawals (GET /v1/withdrawals/{id}).
func (u *User) GetWithdrawal(ctx context.Context, id string) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := u.do(ctx, call{method: "GET", path: pathf("/v1/withdrawals/%s", id), retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelWithdrawal cancels a withdrawal awaiting confirmation or pending
// review; its limit is free again (DELETE /v1/withdrawals/{id}).
func (u *User) CancelWithdrawal(ctx context.Context, id string) (*Withdrawal, error) {
	var out Withdrawal
	if _, err := u.do(ctx, call{method: "DELETE", path: pathf("/v1/withdrawals/%s", id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
