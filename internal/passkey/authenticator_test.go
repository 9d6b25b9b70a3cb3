package passkey_test

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

// softAuthenticator is a passkey authenticator, and the browser in front of
// it, in software: it answers navigator.credentials.create and .get options
// the way a browser with a platform authenticator would, byte for byte,
// with an ECDSA P-256 key, "none" attestation and a signature counter.
//
// Its fields are what a test changes to play a broken or hostile client.
type softAuthenticator struct {
	t   testing.TB
	key *ecdsa.PrivateKey
	id  []byte // credential id

	// origin is where the browser says the ceremony ran (clientDataJSON).
	origin string
	// rpID, when set, replaces the relying party id from the options in
	// the authenticator data's rpIdHash, as a phishing site's would.
	rpID string
	// counter is the signature counter; each assertion adds one to it
	// first, unless fixedCounter is set.
	counter      uint32
	fixedCounter bool
	// userHandle is the account the passkey was made for, learnt at
	// registration and returned with each assertion as passkeys do.
	userHandle []byte
}

func newSoftAuthenticator(t testing.TB, origin string) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &softAuthenticator{t: t, key: key, id: []byte(rand.Text()), origin: origin}
}

// ceremonyOptions is what the browser reads from either ceremony's options.
type ceremonyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"` // create
		RPID string `json:"rpId"` // get
		User struct {
			ID string `json:"id"`
		} `json:"user"` // create
	} `json:"publicKey"`
}

func (a *softAuthenticator) readOptions(options []byte) ceremonyOptions {
	a.t.Helper()
	var o ceremonyOptions
	if err := json.Unmarshal(options, &o); err != nil {
		a.t.Fatalf("options are not JSON: %v", err)
	}
	return o
}

// create answers navigator.credentials.create(options): the
// PublicKeyCredential JSON the browser posts back.
func (a *softAuthenticator) create(options []byte) []byte {
	a.t.Helper()
	o := a.readOptions(options)
	userHandle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		a.t.Fatalf("user.id: %v", err)
	}
	a.userHandle = userHandle

	clientData := a.clientData("webauthn.create", o.PublicKey.Challenge)

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
	authData := a.authData(o.PublicKey.RP.ID, flagUserPresent|flagUserVerified|flagAttestedData, a.counter)
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
		"id":                      b64.EncodeToString(a.id),
		"rawId":                   b64.EncodeToString(a.id),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"attestationObject": b64.EncodeToString(attestationObject),
			"transports":        []string{"internal", "hybrid"},
		},
	})
}

// get answers navigator.credentials.get(options) with this passkey.
func (a *softAuthenticator) get(options []byte) []byte {
	a.t.Helper()
	o := a.readOptions(options)
	return a.assert(o.PublicKey.RPID, o.PublicKey.Challenge)
}

// assert signs an assertion for rpID and a challenge (base64url).
func (a *softAuthenticator) assert(rpID, challenge string) []byte {
	a.t.Helper()
	if !a.fixedCounter {
		a.counter++
	}
	clientData := a.clientData("webauthn.get", challenge)
	authData := a.authData(rpID, flagUserPresent|flagUserVerified, a.counter)

	// The signature covers authenticatorData || SHA-256(clientDataJSON),
	// ASN.1 DER encoded as WebAuthn requires for ES256.
	clientDataHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(authData, clientDataHash[:]...))
	signature, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return a.marshal(map[string]any{
		"id":                      b64.EncodeToString(a.id),
		"rawId":                   b64.EncodeToString(a.id),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(signature),
			"userHandle":        b64.EncodeToString(a.userHandle),
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
func (a *softAuthenticator) authData(rpID string, flags byte, counter uint32) []byte {
	if a.rpID != "" {
		rpID = a.rpID
	}
	rpIDHash := sha256.Sum256([]byte(rpID))
	data := append(rpIDHash[:], flags)
	return binary.BigEndian.AppendUint32(data, counter)
}

func (a *softAuthenticator) clientData(ceremony, challenge string) []byte {
	return a.marshal(map[string]any{
		"type":        ceremony,
		"challenge":   challenge,
		"origin":      a.origin,
		"crossOrigin": false,
	})
}

func (a *softAuthenticator) cbor(v any) []byte {
	a.t.Helper()
	b, err := webauthncbor.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func (a *softAuthenticator) marshal(v any) []byte {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

// b64 is WebAuthn's JSON encoding of binary: base64url without padding.
var b64 = base64.RawURLEncoding
