package passkey_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/passkey/passkeytest"
)

// b64 is WebAuthn's JSON encoding of binary: base64url without padding.
var b64 = passkeytest.B64

// The browser test will run against Chromium at http://localhost:PORT, so
// the unit tests use the same kind of relying party.
const origin = "http://localhost:8443"

func newRP(t *testing.T) *passkey.RP {
	t.Helper()
	rp, err := passkey.New(origin+"/", "Warden")
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func alice() passkey.User {
	return passkey.User{ID: "usr_alice0000000000000000000000", Email: "alice@example.com"}
}
func bob() passkey.User {
	return passkey.User{ID: "usr_bob000000000000000000000000", Email: "bob@example.com"}
}

// beginRegistration starts a registration for u; it must start.
func beginRegistration(t testing.TB, rp *passkey.RP, u passkey.User) (options, state []byte) {
	t.Helper()
	options, state, err := rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	return options, state
}

// beginLogin starts a login for u; it must start.
func beginLogin(t testing.TB, rp *passkey.RP, u passkey.User) (options, state []byte) {
	t.Helper()
	options, state, err := rp.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	return options, state
}

// aliceWithPasskey is the relying party of origin and Alice, with one
// passkey registered from the authenticator it returns.
func aliceWithPasskey(t *testing.T) (*passkey.RP, passkey.User, *passkeytest.Authenticator) {
	t.Helper()
	rp, u, a := newRP(t), alice(), passkeytest.New(t, origin)
	register(t, rp, &u, a)
	return rp, u, a
}

// register runs a whole registration of a's passkey for u and adds the
// stored credential to u.
func register(t *testing.T, rp *passkey.RP, u *passkey.User, a *passkeytest.Authenticator) passkey.Credential {
	t.Helper()
	options, state := beginRegistration(t, rp, *u)
	c, err := rp.FinishRegistration(*u, state, a.Create(options))
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	if !bytes.Equal(c.ID, a.CredentialID()) {
		t.Fatalf("credential id %q, authenticator's is %q", c.ID, a.CredentialID())
	}
	u.Credentials = append(u.Credentials, c)
	return c
}

// login runs a whole login by u with a and stores the updated credential.
func login(t *testing.T, rp *passkey.RP, u *passkey.User, a *passkeytest.Authenticator) error {
	t.Helper()
	options, state := beginLogin(t, rp, *u)
	id, updated, err := rp.FinishLogin(*u, state, a.Get(options))
	if err != nil {
		return err
	}
	if !bytes.Equal(id, a.CredentialID()) {
		t.Fatalf("login reports credential %q, authenticator used %q", id, a.CredentialID())
	}
	for i := range u.Credentials {
		if bytes.Equal(u.Credentials[i].ID, id) {
			u.Credentials[i].Data = updated
		}
	}
	return nil
}

func signCount(t *testing.T, c passkey.Credential) uint32 {
	t.Helper()
	var stored webauthn.Credential
	if err := json.Unmarshal(c.Data, &stored); err != nil {
		t.Fatal(err)
	}
	return stored.Authenticator.SignCount
}

func TestNewDerivesIDAndOriginFromBaseURL(t *testing.T) {
	rp, err := passkey.New("https://Auth.Example.com:8443/warden/", "Warden")
	if err != nil {
		t.Fatal(err)
	}
	u := alice()
	options, _ := beginRegistration(t, rp, u)
	var o struct {
		PublicKey struct {
			RP struct{ ID, Name string } `json:"rp"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.RP.ID != "auth.example.com" || o.PublicKey.RP.Name != "Warden" {
		t.Fatalf("rp = %+v, want id auth.example.com (no port, lower case) and name Warden", o.PublicKey.RP)
	}

	// The origin keeps the port: the same host on another port is another
	// origin and must not be accepted.
	a := passkeytest.New(t, "https://auth.example.com:8443")
	register(t, rp, &u, a)
	a.Origin = "https://auth.example.com"
	if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("login from another port: %v, want ErrInvalidResponse", err)
	}

	for _, bad := range []struct{ baseURL, name string }{
		{"", "Warden"},
		{"/relative/path", "Warden"},
		{"localhost:8080", "Warden"}, // parses as scheme "localhost"
		{"https://", "Warden"},
		{"ftp://example.com", "Warden"},
		{"http://127.0.0.1:8080", "Warden"}, // an IP address is not a valid rp id
		{"https://example.com", ""},
	} {
		if _, err := passkey.New(bad.baseURL, bad.name); err == nil {
			t.Errorf("New(%q, %q) succeeded", bad.baseURL, bad.name)
		}
	}
}

func TestRegistrationOptions(t *testing.T) {
	rp, u, existing := aliceWithPasskey(t)

	options, _ := beginRegistration(t, rp, u)
	var o struct {
		PublicKey struct {
			Challenge string
			RP        struct{ ID, Name string }
			User      struct {
				ID, Name, DisplayName string
			}
			PubKeyCredParams       []struct{ Alg int }
			ExcludeCredentials     []struct{ Type, ID string }
			AuthenticatorSelection struct {
				ResidentKey        string
				RequireResidentKey bool
				UserVerification   string
			}
			Attestation string
			Timeout     int
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	pk := o.PublicKey
	if pk.RP.ID != "localhost" || pk.RP.Name != "Warden" {
		t.Errorf("rp = %+v", pk.RP)
	}
	if handle, _ := b64.DecodeString(pk.User.ID); string(handle) != u.ID {
		t.Errorf("user.id %q decodes to %q, want the account id %q", pk.User.ID, handle, u.ID)
	}
	if pk.User.Name != u.Email || pk.User.DisplayName != u.Email {
		t.Errorf("user = %+v, want the email as name and display name", pk.User)
	}
	if challenge, err := b64.DecodeString(pk.Challenge); err != nil || len(challenge) < 16 {
		t.Errorf("challenge %q: %d bytes, %v; want at least 16", pk.Challenge, len(challenge), err)
	}
	if len(pk.ExcludeCredentials) != 1 || pk.ExcludeCredentials[0].ID != b64.EncodeToString(existing.CredentialID()) || pk.ExcludeCredentials[0].Type != "public-key" {
		t.Errorf("excludeCredentials = %+v, want the existing passkey %q", pk.ExcludeCredentials, b64.EncodeToString(existing.CredentialID()))
	}
	var algs []int
	for _, p := range pk.PubKeyCredParams {
		algs = append(algs, p.Alg)
	}
	for _, want := range []int{-7, -257, -8} { // ES256, RS256, EdDSA
		if !slices.Contains(algs, want) {
			t.Errorf("pubKeyCredParams algorithms %v lack %d", algs, want)
		}
	}
	sel := pk.AuthenticatorSelection
	if sel.ResidentKey != "required" || !sel.RequireResidentKey || sel.UserVerification != "preferred" {
		t.Errorf("authenticatorSelection = %+v, want a discoverable credential, user verification preferred", sel)
	}
	if pk.Attestation != "none" {
		t.Errorf("attestation = %q, want none", pk.Attestation)
	}
	if pk.Timeout != 300000 {
		t.Errorf("timeout = %d ms, want 5 minutes", pk.Timeout)
	}
}

func TestLoginOptions(t *testing.T) {
	rp := newRP(t)
	u := alice()
	a1, a2 := passkeytest.New(t, origin), passkeytest.New(t, origin)
	register(t, rp, &u, a1)
	register(t, rp, &u, a2)

	options, _ := beginLogin(t, rp, u)
	var o struct {
		PublicKey struct {
			Challenge        string
			RPID             string `json:"rpId"`
			AllowCredentials []struct {
				ID         string
				Transports []string
			}
			UserVerification string
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	pk := o.PublicKey
	if pk.RPID != "localhost" {
		t.Errorf("rpId = %q", pk.RPID)
	}
	if challenge, err := b64.DecodeString(pk.Challenge); err != nil || len(challenge) < 16 {
		t.Errorf("challenge %q: %d bytes, %v; want at least 16", pk.Challenge, len(challenge), err)
	}
	var allowed []string
	for _, c := range pk.AllowCredentials {
		allowed = append(allowed, c.ID)
	}
	if want := []string{b64.EncodeToString(a1.CredentialID()), b64.EncodeToString(a2.CredentialID())}; !slices.Equal(allowed, want) {
		t.Errorf("allowCredentials = %v, want %v", allowed, want)
	}
	if len(pk.AllowCredentials) > 0 && !slices.Contains(pk.AllowCredentials[0].Transports, "internal") {
		t.Errorf("allowCredentials lost the transports reported at registration: %+v", pk.AllowCredentials[0])
	}
	if pk.UserVerification != "preferred" {
		t.Errorf("userVerification = %q", pk.UserVerification)
	}

	if _, _, err := rp.BeginLogin(bob()); err == nil {
		t.Error("BeginLogin for a user without passkeys succeeded")
	}
}

func TestRegisterThenLogIn(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)
	if n := signCount(t, u.Credentials[0]); n != 0 {
		t.Fatalf("sign count after registration = %d", n)
	}

	for want := uint32(1); want <= 3; want++ {
		if err := login(t, rp, &u, a); err != nil {
			t.Fatalf("login %d: %v", want, err)
		}
		if n := signCount(t, u.Credentials[0]); n != want {
			t.Fatalf("sign count after login %d = %d", want, n)
		}
	}
}

func TestTwoPasskeysForOneUser(t *testing.T) {
	rp := newRP(t)
	u := alice()
	laptop, phone := passkeytest.New(t, origin), passkeytest.New(t, origin)
	register(t, rp, &u, laptop)
	register(t, rp, &u, phone)

	for _, a := range []*passkeytest.Authenticator{laptop, phone, laptop} {
		if err := login(t, rp, &u, a); err != nil {
			t.Fatalf("login with %q: %v", a.CredentialID(), err)
		}
	}
	if signCount(t, u.Credentials[0]) != 2 || signCount(t, u.Credentials[1]) != 1 {
		t.Fatalf("each passkey keeps its own counter: got %d and %d", signCount(t, u.Credentials[0]), signCount(t, u.Credentials[1]))
	}
}

func TestRegisteringTheSamePasskeyTwiceIsRefused(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)

	// A client that ignores excludeCredentials.
	options, state := beginRegistration(t, rp, u)
	if _, err := rp.FinishRegistration(u, state, a.Create(options)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("second registration of the same passkey: %v, want ErrInvalidResponse", err)
	}
}

func TestAnotherUsersPasskeyIsUnknown(t *testing.T) {
	rp := newRP(t)
	a, b := alice(), bob()
	alicesKey, bobsKey := passkeytest.New(t, origin), passkeytest.New(t, origin)
	register(t, rp, &a, alicesKey)
	register(t, rp, &b, bobsKey)

	// Bob answers Alice's login with his own (valid) passkey.
	options, state := beginLogin(t, rp, a)
	if _, _, err := rp.FinishLogin(a, state, bobsKey.Get(options)); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("Bob's passkey in Alice's login: %v, want ErrUnknownCredential", err)
	}

	// Bob's passkey copied under Alice's user handle: still Bob's key.
	bobsKey.UserHandle = []byte(a.ID)
	if _, _, err := rp.FinishLogin(a, state, bobsKey.Get(options)); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("Bob's passkey with Alice's handle: %v, want ErrUnknownCredential", err)
	}
}

func TestUserHandleOfAnotherUserIsRefused(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)

	a.UserHandle = []byte(bob().ID)
	if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("assertion naming another user: %v, want ErrInvalidResponse", err)
	}
}

// An answer made for another origin, or signed for another relying party
// id, is refused, in a registration and in a login.
func TestWrongOriginOrRPIDIsRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(a *passkeytest.Authenticator)
	}{
		{"origin https://evil.example", func(a *passkeytest.Authenticator) { a.Origin = "https://evil.example" }},
		{"origin https://localhost:8443", func(a *passkeytest.Authenticator) { a.Origin = "https://localhost:8443" }},
		{"origin http://localhost:8444", func(a *passkeytest.Authenticator) { a.Origin = "http://localhost:8444" }},
		{"origin http://localhost", func(a *passkeytest.Authenticator) { a.Origin = "http://localhost" }},
		{"no origin", func(a *passkeytest.Authenticator) { a.Origin = "" }},
		{"rp id evil.example", func(a *passkeytest.Authenticator) { a.RPID = "evil.example" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rp, u := newRP(t), alice()
			spoilt := passkeytest.New(t, origin)
			c.spoil(spoilt)
			options, state := beginRegistration(t, rp, u)
			if _, err := rp.FinishRegistration(u, state, spoilt.Create(options)); !errors.Is(err, passkey.ErrInvalidResponse) {
				t.Errorf("registration: %v, want ErrInvalidResponse", err)
			}

			a := passkeytest.New(t, origin)
			register(t, rp, &u, a)
			c.spoil(a)
			if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrInvalidResponse) {
				t.Errorf("login: %v, want ErrInvalidResponse", err)
			}
		})
	}
}

func TestAnswerToAnotherCeremonyIsRefused(t *testing.T) {
	rp := newRP(t)
	u := alice()
	a := passkeytest.New(t, origin)

	// Registration: the answer to one ceremony, finished with another's state.
	options1, _ := beginRegistration(t, rp, u)
	_, state2 := beginRegistration(t, rp, u)
	if _, err := rp.FinishRegistration(u, state2, a.Create(options1)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("registration answer replayed into another ceremony: %v, want ErrInvalidResponse", err)
	}

	// Login: a captured answer that already logged in once is replayed into
	// a new ceremony.
	register(t, rp, &u, a)
	options, state := beginLogin(t, rp, u)
	answer := a.Get(options)
	if _, _, err := rp.FinishLogin(u, state, answer); err != nil {
		t.Fatal(err)
	}
	_, nextState := beginLogin(t, rp, u)
	if _, _, err := rp.FinishLogin(u, nextState, answer); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("login answer replayed into another ceremony: %v, want ErrInvalidResponse", err)
	}

	// A login answer does not complete a registration, nor the reverse.
	regOptions, regState := beginRegistration(t, rp, u)
	a.RPID = "localhost" // registration options name the rp id elsewhere
	if _, _, err := rp.FinishLogin(u, regState, a.Get(regOptions)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("assertion against a registration state: %v, want ErrInvalidResponse", err)
	}

	loginOptions, loginState := beginLogin(t, rp, u)
	if _, err := rp.FinishRegistration(u, loginState, passkeytest.New(t, origin).Create(loginOptions)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("registration against a login state: %v, want ErrInvalidResponse", err)
	}

	// Another user's state.
	b := bob()
	_, bobsState := beginRegistration(t, rp, b)
	options, _ = beginRegistration(t, rp, u)
	if _, err := rp.FinishRegistration(u, bobsState, passkeytest.New(t, origin).Create(options)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("registration finished with another user's state: %v, want ErrInvalidResponse", err)
	}
}

func TestExpiredStateIsRefused(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)

	options, state := beginLogin(t, rp, u)
	// The state is the caller's to keep but ours to read: age it past the
	// five minutes the browser was given.
	var s struct {
		Ceremony string
		Session  map[string]any
	}
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	expires, err := time.Parse(time.RFC3339Nano, s.Session["expires"].(string))
	if err != nil {
		t.Fatalf("state carries no expiry: %v", err)
	}
	if left := time.Until(expires); left < 4*time.Minute || left > 5*time.Minute {
		t.Fatalf("state expires in %v, want 5 minutes", left)
	}
	s.Session["expires"] = time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	aged, _ := json.Marshal(s)
	if _, _, err := rp.FinishLogin(u, aged, a.Get(options)); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("login with an expired state: %v, want ErrInvalidResponse", err)
	}
}

func TestSignCountGoingBackwardsIsRefused(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)

	a.Counter = 4 // the next assertion carries 5
	if err := login(t, rp, &u, a); err != nil {
		t.Fatal(err)
	}
	if n := signCount(t, u.Credentials[0]); n != 5 {
		t.Fatalf("stored sign count = %d, want 5", n)
	}

	// A clone of the key that has signed less often than the original.
	a.Counter, a.FixedCounter = 3, true
	if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrCloned) {
		t.Fatalf("sign count 3 after 5: %v, want ErrCloned", err)
	}
	// Not advancing is the same signal (§7.2: "less than or equal").
	a.Counter = 5
	if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrCloned) {
		t.Fatalf("sign count 5 after 5: %v, want ErrCloned", err)
	}
	// Dropping to zero too: only a counter that has always been zero means
	// "this authenticator has no counter".
	a.Counter = 0
	if err := login(t, rp, &u, a); !errors.Is(err, passkey.ErrCloned) {
		t.Fatalf("sign count 0 after 5: %v, want ErrCloned", err)
	}
	if n := signCount(t, u.Credentials[0]); n != 5 {
		t.Fatalf("stored sign count = %d after refused logins, want 5", n)
	}
}

func TestAuthenticatorWithoutCounterLogsIn(t *testing.T) {
	rp := newRP(t)
	u := alice()
	a := passkeytest.New(t, origin)
	a.FixedCounter = true // always 0, like synced passkeys
	register(t, rp, &u, a)
	for range 3 {
		if err := login(t, rp, &u, a); err != nil {
			t.Fatalf("login with a counter that stays 0: %v", err)
		}
	}
}

func TestMalformedResponsesAreInvalid(t *testing.T) {
	rp := newRP(t)
	u := alice()
	a := passkeytest.New(t, origin)

	regOptions, regState := beginRegistration(t, rp, u)
	validRegistration := a.Create(regOptions)

	register(t, rp, &u, a)
	loginOptions, loginState := beginLogin(t, rp, u)
	validAssertion := a.Get(loginOptions)

	malformed := func(valid []byte) map[string][]byte {
		var broken map[string]any
		if err := json.Unmarshal(valid, &broken); err != nil {
			t.Fatal(err)
		}
		response := broken["response"].(map[string]any)
		for field, value := range response {
			if s, ok := value.(string); ok && len(s) > 8 {
				response[field] = s[:len(s)/2] // truncated binary
			}
		}
		truncated, _ := json.Marshal(broken)
		return map[string][]byte{
			"nil":              nil,
			"empty":            {},
			"null":             []byte("null"),
			"array":            []byte("[]"),
			"unterminated":     valid[:len(valid)-1],
			"trailing data":    append(slices.Clone(valid), []byte(" {}")...),
			"no response":      []byte(`{"id":"` + b64.EncodeToString(a.CredentialID()) + `","rawId":"` + b64.EncodeToString(a.CredentialID()) + `","type":"public-key"}`),
			"not base64":       bytes.ReplaceAll(valid, []byte(`"clientDataJSON":"`), []byte(`"clientDataJSON":"!!`)),
			"wrong type":       bytes.Replace(valid, []byte(`"public-key"`), []byte(`"password"`), 1),
			"id is not rawId":  bytes.Replace(valid, []byte(`"id":"`), []byte(`"id":"AA`), 1),
			"truncated binary": truncated,
		}
	}

	for name, response := range malformed(validRegistration) {
		if _, err := rp.FinishRegistration(u, regState, response); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Errorf("registration, %s: %v, want ErrInvalidResponse", name, err)
		}
	}
	for name, response := range malformed(validAssertion) {
		if _, _, err := rp.FinishLogin(u, loginState, response); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Errorf("login, %s: %v, want ErrInvalidResponse", name, err)
		}
	}

	// A signature that does not verify.
	var forged map[string]any
	_ = json.Unmarshal(validAssertion, &forged)
	response := forged["response"].(map[string]any)
	signature, _ := b64.DecodeString(response["signature"].(string))
	signature[len(signature)-1] ^= 1
	response["signature"] = b64.EncodeToString(signature)
	forgedAssertion, _ := json.Marshal(forged)
	if _, _, err := rp.FinishLogin(u, loginState, forgedAssertion); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Errorf("forged signature: %v, want ErrInvalidResponse", err)
	}

	// The valid answers still pass, so the failures above are the damage's.
	if _, _, err := rp.FinishLogin(u, loginState, validAssertion); err != nil {
		t.Errorf("valid assertion: %v", err)
	}
}

func TestUnreadableStoredDataIsNotTheClientsFault(t *testing.T) {
	rp, u, a := aliceWithPasskey(t)
	options, state := beginLogin(t, rp, u)
	answer := a.Get(options)

	if _, _, err := rp.FinishLogin(u, []byte("not json"), answer); err == nil || errors.Is(err, passkey.ErrInvalidResponse) {
		t.Errorf("unreadable state: %v, want a plain (server) error", err)
	}

	corrupt := u
	corrupt.Credentials = []passkey.Credential{{ID: a.CredentialID(), Data: []byte("{")}}
	if _, _, err := rp.FinishLogin(corrupt, state, answer); err == nil || errors.Is(err, passkey.ErrInvalidResponse) {
		t.Errorf("unreadable credential: %v, want a plain (server) error", err)
	}

	// Data that belongs to another credential id must not be trusted.
	other := passkeytest.New(t, origin)
	b := bob()
	bobs := register(t, rp, &b, other)
	swapped := u
	swapped.Credentials = []passkey.Credential{{ID: a.CredentialID(), Data: bobs.Data}}
	if _, _, err := rp.FinishLogin(swapped, state, answer); err == nil || !strings.Contains(err.Error(), "data is for credential") {
		t.Errorf("credential whose data names another id: %v", err)
	}
}
