package passkeytest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/passkey/passkeytest"
)

const origin = "http://localhost:8443"

// The authenticator's answers pass the real relying party, whether it is
// handed the options whole ({"publicKey":…}) or their inner object, and
// its hostile settings are refused.
func TestAnswersPassTheRelyingParty(t *testing.T) {
	rp, err := passkey.New(origin, "Warden")
	if err != nil {
		t.Fatal(err)
	}
	u := passkey.User{ID: "usr_alice0000000000000000000000", Email: "alice@example.com"}
	a := passkeytest.New(t, origin)

	options, state, err := rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rp.FinishRegistration(u, state, a.Create(inner(t, options)))
	if err != nil {
		t.Fatalf("registration from the inner options: %v", err)
	}
	if !bytes.Equal(c.ID, a.CredentialID()) || string(a.UserHandle) != u.ID {
		t.Fatalf("registered %q for handle %q, want %q for %q", c.ID, a.UserHandle, a.CredentialID(), u.ID)
	}
	u.Credentials = []passkey.Credential{c}

	login := func(a *passkeytest.Authenticator, unwrap bool) error {
		options, state, err := rp.BeginLogin(u)
		if err != nil {
			t.Fatal(err)
		}
		if unwrap {
			options = inner(t, options)
		}
		_, updated, err := rp.FinishLogin(u, state, a.Get(options))
		if err == nil {
			u.Credentials[0].Data = updated
		}
		return err
	}
	if err := login(a, false); err != nil {
		t.Fatalf("login with the options whole: %v", err)
	}
	if err := login(a, true); err != nil {
		t.Fatalf("login with the inner options: %v", err)
	}

	a.Origin = "http://localhost:8444"
	if err := login(a, false); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("login from another origin: %v, want ErrInvalidResponse", err)
	}
	a.Origin, a.RPID = origin, "evil.example"
	if err := login(a, false); !errors.Is(err, passkey.ErrInvalidResponse) {
		t.Fatalf("login for another rp id: %v, want ErrInvalidResponse", err)
	}
	a.RPID, a.FixedCounter, a.Counter = "", true, 2 // the count stored by the second login
	if err := login(a, false); !errors.Is(err, passkey.ErrCloned) {
		t.Fatalf("login with a counter that did not advance: %v, want ErrCloned", err)
	}
	if err := login(passkeytest.New(t, origin), false); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("login with another passkey: %v, want ErrUnknownCredential", err)
	}
}

// inner returns the publicKey member of options.
func inner(t *testing.T, options []byte) []byte {
	t.Helper()
	var o struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || len(o.PublicKey) == 0 {
		t.Fatalf("options without publicKey (%v): %s", err, options)
	}
	return o.PublicKey
}
