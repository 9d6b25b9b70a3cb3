// Package passkey is Warden's WebAuthn relying party: it starts and finishes
// the two passkey ceremonies, registration and login, on top of
// github.com/go-webauthn/webauthn.
//
// It speaks neither HTTP nor SQL. Every call takes and returns byte slices:
// the options go to the browser as they are, the state must be kept
// server-side (never in a place the client can edit) until the matching
// Finish call and then thrown away, and the credentials come from and go to
// whatever store the caller uses.
//
// Two rules are the caller's because they need the store:
//   - a credential id must be unique across all accounts (WebAuthn §7.1:
//     "verify that the credentialId is not yet registered for any user"):
//     a unique index on it, with a failed insert refusing the passkey;
//   - a ceremony state is used once: delete it when Finish is called, whatever
//     the outcome, so a captured browser answer cannot be replayed.
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

var (
	// ErrInvalidResponse is a browser answer that is malformed or fails
	// verification: wrong origin, challenge, relying party id, signature,
	// flags, user, or a ceremony that has expired.
	ErrInvalidResponse = errors.New("invalid passkey response")

	// ErrUnknownCredential is an assertion made with a credential the user
	// does not have, such as another account's passkey or one since removed.
	ErrUnknownCredential = errors.New("unknown passkey")

	// ErrCloned is an assertion whose signature counter did not advance past
	// the stored one: two copies of the private key may be in use.
	ErrCloned = errors.New("passkey signature counter went backwards: possible cloned authenticator")
)

// ceremonyTimeout is how long the browser may wait for the user, and how
// long the server accepts an answer for; five minutes is WebAuthn's
// recommended upper bound for ceremonies with user verification.
const ceremonyTimeout = 5 * time.Minute

// RP is the relying party: the site passkeys are bound to.
type RP struct {
	webauthn *webauthn.WebAuthn
}

// New returns the relying party for the site at baseURL. Its id is the host
// name of baseURL without the port (passkeys are bound to a domain, not to
// a port), the only origin accepted is baseURL's scheme://host[:port], and
// displayName is what the browser shows as the site's name.
//
// An IP address is not a valid relying party id: for local use, give
// http://localhost:PORT, which browsers treat as a secure context.
func New(baseURL, displayName string) (*RP, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("passkey: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("passkey: base URL %q is not http or https", baseURL)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("passkey: base URL %q has no host", baseURL)
	}
	if displayName == "" {
		return nil, errors.New("passkey: empty display name")
	}

	// Browsers hash the lower-case host name into rpIdHash, and url.Parse
	// keeps the case it was given.
	host := strings.ToLower(u.Host)
	config := &webauthn.Config{
		RPID:          strings.ToLower(u.Hostname()),
		RPDisplayName: displayName,
		RPOrigins:     []string{u.Scheme + "://" + host},

		// The site does not verify attestation, so asking for it would only
		// reveal the authenticator's make to us and cost the user a prompt.
		AttestationPreference: protocol.PreferNoAttestation,

		// A passkey is a discoverable credential, which is what lets a later
		// login start without a user name. User verification (PIN,
		// biometrics) is preferred, not required, so that security keys
		// without a PIN still work; a passkey is one factor either way.
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},

		// Enforce makes Finish refuse a state older than the timeout the
		// browser was given, whatever the caller's store does.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout},
		},
	}
	w, err := webauthn.New(config)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &RP{webauthn: w}, nil
}

// User is an account as WebAuthn sees it.
type User struct {
	ID          string // account id; its bytes are the WebAuthn user handle
	Email       string // shown by the browser as the account's name
	Credentials []Credential
}

// Credential is a registered passkey as stored.
type Credential struct {
	ID   []byte // credential id (raw bytes), unique across all accounts
	Data []byte // JSON of webauthn.Credential: public key, sign count, flags, AAGUID, transports
}

// credentialParameters are the signature algorithms accepted for a new
// passkey, most preferred first: ES256 is what nearly every authenticator
// uses, EdDSA is offered by some security keys, RS256 by Windows Hello.
var credentialParameters = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// BeginRegistration starts adding a passkey to u. It returns the JSON options
// for navigator.credentials.create ({"publicKey":{…}}, challenge and ids in
// base64url) and the state to keep server-side until FinishRegistration.
// The user's existing passkeys are excluded so the same authenticator is
// not registered twice.
func (rp *RP) BeginRegistration(u User) (options, state []byte, err error) {
	wu, err := newWebAuthnUser(u)
	if err != nil {
		return nil, nil, err
	}
	creation, session, err := rp.webauthn.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.credentials).CredentialDescriptors()),
		webauthn.WithCredentialParameters(credentialParameters),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return encodeCeremony(registration, creation, session)
}

// FinishRegistration verifies the browser's answer to BeginRegistration's
// options (the PublicKeyCredential as JSON: id, rawId, type and response
// with clientDataJSON, attestationObject and transports, in base64url)
// against state, and returns the new passkey to store.
func (rp *RP) FinishRegistration(u User, state, response []byte) (Credential, error) {
	wu, err := newWebAuthnUser(u)
	if err != nil {
		return Credential{}, err
	}
	session, err := decodeState(registration, state)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, invalid(err)
	}
	created, err := rp.webauthn.CreateCredential(wu, session, parsed)
	if err != nil {
		return Credential{}, invalid(err)
	}

	// excludeCredentials only asks the browser not to do this; a
	// misbehaving client could still register the same passkey twice.
	if wu.credential(created.ID) != nil {
		return Credential{}, fmt.Errorf("%w: passkey already registered", ErrInvalidResponse)
	}

	data, err := json.Marshal(created)
	if err != nil {
		return Credential{}, fmt.Errorf("passkey: encode credential: %w", err)
	}
	return Credential{ID: created.ID, Data: data}, nil
}

// BeginLogin starts a login by u with one of their passkeys. It returns the
// JSON options for navigator.credentials.get ({"publicKey":{…}}, with
// allowCredentials listing the user's passkeys) and the state to keep
// server-side until FinishLogin. A user without passkeys cannot log in
// with one: check len(u.Credentials) first to say so plainly.
func (rp *RP) BeginLogin(u User) (options, state []byte, err error) {
	wu, err := newWebAuthnUser(u)
	if err != nil {
		return nil, nil, err
	}
	assertion, session, err := rp.webauthn.BeginLogin(wu,
		webauthn.WithUserVerification(protocol.VerificationPreferred),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return encodeCeremony(login, assertion, session)
}

// FinishLogin verifies the browser's answer to BeginLogin's options (the
// PublicKeyCredential as JSON: id, rawId, type and response with
// clientDataJSON, authenticatorData, signature and userHandle, in
// base64url) against state and u's passkeys. It returns the id of the
// passkey used and that passkey's new Data (sign count, flags), which the
// caller must store in place of the old, or the next login is judged
// against a stale counter.
func (rp *RP) FinishLogin(u User, state, response []byte) (credentialID, updated []byte, err error) {
	wu, err := newWebAuthnUser(u)
	if err != nil {
		return nil, nil, err
	}
	session, err := decodeState(login, state)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, nil, invalid(err)
	}

	// Say which passkey is unknown before anything else, so the caller can
	// tell a removed or foreign passkey apart from a forged answer.
	stored := wu.credential(parsed.RawID)
	if stored == nil {
		return nil, nil, ErrUnknownCredential
	}
	// The user handle names the account the passkey was made for (§7.2,
	// identifying the user). The library checks it too; this keeps the rule
	// visible here.
	if handle := parsed.Response.UserHandle; len(handle) > 0 && !bytes.Equal(handle, wu.WebAuthnID()) {
		return nil, nil, fmt.Errorf("%w: user handle is not this user's", ErrInvalidResponse)
	}

	// Origin, challenge, rp id hash, flags and signature.
	used, err := rp.webauthn.ValidateLogin(wu, session, parsed)
	if err != nil {
		if _, ok := errors.AsType[*protocol.ErrorUnknownCredential](err); ok {
			return nil, nil, fmt.Errorf("%w: %w", ErrUnknownCredential, err)
		}
		return nil, nil, invalid(err)
	}

	// WebAuthn §7.2's signCount step: a counter that is not greater than the stored one, when
	// either is non-zero, means another copy of the key has signed since.
	// The library only flags this (CloneWarning) and leaves the decision to
	// us: we refuse, because a passkey is the whole login. The check comes
	// after the signature so that only the key's holder can trigger it.
	// Authenticators without a counter (synced passkeys) always send 0.
	previous, current := stored.Authenticator.SignCount, parsed.Response.AuthenticatorData.Counter
	if (previous != 0 || current != 0) && current <= previous {
		return nil, nil, fmt.Errorf("%w (stored %d, received %d)", ErrCloned, previous, current)
	}

	updated, err = json.Marshal(used)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: encode credential: %w", err)
	}
	return used.ID, updated, nil
}

// invalid turns a library error into ErrInvalidResponse, keeping the
// library's own explanation (details and debug info) for the logs.
func invalid(err error) error {
	if e, ok := errors.AsType[*protocol.Error](err); ok && e.DevInfo != "" {
		return fmt.Errorf("%w: %w (%s)", ErrInvalidResponse, err, e.DevInfo)
	}
	return fmt.Errorf("%w: %w", ErrInvalidResponse, err)
}

// ceremony names what a state was made for. The library's session data
// does not say, and it would finish a login against a registration's state
// (same user, a fresh challenge): the state carries its kind so that it
// can only finish the ceremony that began it.
type ceremony string

const (
	registration ceremony = "registration"
	login        ceremony = "login"
)

// state is what the caller keeps between Begin and Finish.
type ceremonyState struct {
	Ceremony ceremony             `json:"ceremony"`
	Session  webauthn.SessionData `json:"session"`
}

// encodeCeremony serialises what Begin* returns: the options for the
// browser and the state to keep.
func encodeCeremony(kind ceremony, options any, session *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: encode options: %w", err)
	}
	s, err := json.Marshal(ceremonyState{Ceremony: kind, Session: *session})
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: encode state: %w", err)
	}
	return o, s, nil
}

// decodeState reads what encodeCeremony wrote. An unreadable state is the
// server's fault, not the browser's, so it is not ErrInvalidResponse; the
// state of another kind of ceremony is a replay attempt, so it is.
func decodeState(kind ceremony, data []byte) (webauthn.SessionData, error) {
	var s ceremonyState
	if err := json.Unmarshal(data, &s); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("passkey: unreadable ceremony state: %w", err)
	}
	if s.Ceremony != kind {
		return webauthn.SessionData{}, fmt.Errorf("%w: state is for a %s, not a %s", ErrInvalidResponse, s.Ceremony, kind)
	}
	return s.Session, nil
}

// webAuthnUser adapts User to the library's webauthn.User, with the stored
// credentials decoded once.
type webAuthnUser struct {
	user        User
	credentials []webauthn.Credential
}

func newWebAuthnUser(u User) (*webAuthnUser, error) {
	wu := &webAuthnUser{user: u, credentials: make([]webauthn.Credential, 0, len(u.Credentials))}
	for _, c := range u.Credentials {
		var decoded webauthn.Credential
		if err := json.Unmarshal(c.Data, &decoded); err != nil {
			return nil, fmt.Errorf("passkey: stored credential %x: %w", c.ID, err)
		}
		// The id is stored twice, as the key and inside Data; if they
		// disagree the store is corrupt, and guessing which is right could
		// let one passkey log in as another.
		if !bytes.Equal(decoded.ID, c.ID) {
			return nil, fmt.Errorf("passkey: stored credential %x: data is for credential %x", c.ID, decoded.ID)
		}
		wu.credentials = append(wu.credentials, decoded)
	}
	return wu, nil
}

// credential returns the user's credential with this id, or nil.
func (wu *webAuthnUser) credential(id []byte) *webauthn.Credential {
	for i := range wu.credentials {
		if bytes.Equal(wu.credentials[i].ID, id) {
			return &wu.credentials[i]
		}
	}
	return nil
}

func (wu *webAuthnUser) WebAuthnID() []byte                         { return []byte(wu.user.ID) }
func (wu *webAuthnUser) WebAuthnName() string                       { return wu.user.Email }
func (wu *webAuthnUser) WebAuthnDisplayName() string                { return wu.user.Email }
func (wu *webAuthnUser) WebAuthnCredentials() []webauthn.Credential { return wu.credentials }
