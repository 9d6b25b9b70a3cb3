// Package passkeytest is a passkey authenticator, and the browser in front of
// it, in software, for tests: it answers the options of
// navigator.credentials.create and .get (as internal/passkey's
// BeginRegistration and BeginLogin return them, and as Warden's API passes
// them on) with the PublicKeyCredential JSON a browser would post back,
// byte for byte, using an ECDSA P-256 key (ES256), "none" attestation and a
// signature counter.
//
// It is deliberately not a well-behaved browser: it answers whatever it is
// asked, ignoring allowCredentials and excludeCredentials, and its exported
// fields let a test play a broken or hostile client (another origin, a
// phishing site's relying party id, a counter that does not advance).
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// B64 is WebAuthn's JSON encoding of binary: base64url without padding.
var B64 = base64.RawURLEncoding

// Authenticator holds one passkey. Its methods report problems with t.Fatal,
// so call them from the test's goroutine.
type Authenticator struct {
	// Origin is where the browser says the ceremony ran (clientDataJSON),
	// such as "http://localhost:8443".
	Origin string
	// RPID, when set, replaces the relying party id from the options in
	// the authenticator data's rpIdHash, as a phishing site's would.
	RPID string
	// Counter is the signature counter; each assertion adds one to it
	// first, unless FixedCounter is set.
	Counter      uint32
	FixedCounter bool
	// UserHandle is the account the passkey was made for, learnt at
	// registration (user.id) and returned with each assertion as passkeys do.
	UserHandle []byte

	t   testing.TB
	key *ecdsa.PrivateKey
	id  []byte
}

// New makes an authenticator with a fresh key and a random credential id,
// whose ceremonies run at origin.
func New(t testing.TB, origin string) *Authenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return NewWithKey(t, origin, key, []byte(rand.Text()))
}

// NewWithKey makes an authenticator with a given key and credential id, for
// tests that need the same passkey every run (fuzz seeds).
func NewWithKey(t testing.TB, origin string, key *ecdsa.PrivateKey, credentialID []byte) *Authenticator {
	return &Authenticator{t: t, key: key, id: credentialID, Origin: origin}
}

// CredentialID is the passkey's credential id (raw bytes).
func (a *Authenticator) CredentialID() []byte { return a.id }

// options is what the browser reads from either ceremony's options.
type options struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"` // create
	RPID string `json:"rpId"` // get
	User struct {
		ID string `json:"id"`
	} `json:"user"` // create
}

// readOptions accepts the options as navigator.credentials takes them,
// {"publicKey":{…}}, or the inner object alone (as
// PublicKeyCredential.parseCreationOptionsFromJSON does).
func (a *Authenticator) readOptions(raw []byte) options {
	a.t.Helper()
	var wrapped struct {
		PublicKey *options `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		a.t.Fatalf("passkeytest: options are not a JSON object: %v: %s", err, raw)
	}
	if wrapped.PublicKey != nil {
		return *wrapped.PublicKey
	}
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		a.t.Fatalf("passkeytest: options: %v", err)
	}
	return o
}

// Create answers navigator.credentials.create(options): the
// PublicKeyCredential JSON the browser posts back, with the authenticator's
// public key, and remembers user.id as the passkey's user handle.
func (a *Authenticator) Create(options []byte) []byte {
	a.t.Helper()
	o := a.readOptions(options)
	userHandle, err := B64.DecodeString(o.User.ID)
	if err != nil {
		a.t.Fatalf("passkeytest: user.id: %v", err)
	}
	a.UserHandle = userHandle

	clientData := a.clientData("webauthn.create", o.Challenge)

	// Attested credential data: AAGUID (zero, as with "none" attestation),
	// credential id length and id, then the public key as a COSE_Key.
	point, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		a.t.Fatal(err)
	}
	coseKey := a.cbor(map[int]any{
		1:  2,           // kty: EC2
		3:  -7,          // alg: ES256
		-1: 1,           // crv: P-256
		-2: point[1:33], // x
		-3: point[33:],  // y
	})
	authData := a.authData(o.RP.ID, flagUserPresent|flagUserVerified|flagAttestedData, a.Counter)
	authData = append(authData, make([]byte, 16)...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(a.id)))
	authData = append(authData, a.id...)
	authData = append(authData, coseKey...)

	attestationObject := a.cbor(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
	return a.marshal(map[string]any{
		"id":                      B64.EncodeToString(a.id),
		"rawId":                   B64.EncodeToString(a.id),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    B64.EncodeToString(clientData),
			"attestationObject": B64.EncodeToString(attestationObject),
			"transports":        []string{"internal", "hybrid"},
		},
	})
}

// Get answers navigator.credentials.get(options) with this passkey.
func (a *Authenticator) Get(options []byte) []byte {
	a.t.Helper()
	o := a.readOptions(options)
	return a.Assert(o.RPID, o.Challenge)
}

// Assert signs an assertion for rpID and a challenge (base64url, as in the
// options).
func (a *Authenticator) Assert(rpID, challenge string) []byte {
	a.t.Helper()
	if !a.FixedCounter {
		a.Counter++
	}
	clientData := a.clientData("webauthn.get", challenge)
	authData := a.authData(rpID, flagUserPresent|flagUserVerified, a.Counter)

	// The signature covers authenticatorData || SHA-256(clientDataJSON),
	// ASN.1 DER encoded as WebAuthn requires for ES256.
	clientDataHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(authData, clientDataHash[:]...))
	signature, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return a.marshal(map[string]any{
		"id":                      B64.EncodeToString(a.id),
		"rawId":                   B64.EncodeToString(a.id),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    B64.EncodeToString(clientData),
			"authenticatorData": B64.EncodeToString(authData),
			"signature":         B64.EncodeToString(signature),
			"userHandle":        B64.EncodeToString(a.UserHandle),
		},
	})
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUserPresent  = 0x01
	flagUserVerified = 0x04
	flagAttestedData = 0x40
)

// authData is the fixed head of authenticator data: rpIdHash, flags and
// the big-endian signature counter.
func (a *Authenticator) authData(rpID string, flags byte, counter uint32) []byte {
	if a.RPID != "" {
		rpID = a.RPID
	}
	rpIDHash := sha256.Sum256([]byte(rpID))
	data := append(rpIDHash[:], flags)
	return binary.BigEndian.AppendUint32(data, counter)
}

func (a *Authenticator) clientData(ceremony, challenge string) []byte {
	return a.marshal(map[string]any{
		"type":        ceremony,
		"challenge":   challenge,
		"origin":      a.Origin,
		"crossOrigin": false,
	})
}

func (a *Authenticator) cbor(v any) []byte {
	a.t.Helper()
	b, err := webauthncbor.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func (a *Authenticator) marshal(v any) []byte {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}
