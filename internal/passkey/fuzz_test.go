package passkey_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/passkey/passkeytest"
)

// The seeds in testdata/fuzz/FuzzFinishLogin are answers to a login whose
// challenge and key are fixed, so that a valid seed stays valid and the
// fuzzer starts from an assertion that passes every check. Rewrite them
// after changing the authenticator with:
//
//	go test ./internal/passkey -run TestFuzzSeeds -update-fuzz-seeds
var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzFinishLogin")

// fuzzChallenge is the fixed login challenge, base64url as in clientDataJSON.
var fuzzChallenge = b64.EncodeToString([]byte("warden fuzz challenge, 32 bytes!"))

// fuzzLogin sets up a user with one passkey from the fixed authenticator and
// a login state bound to fuzzChallenge.
func fuzzLogin(t testing.TB) (rp *passkey.RP, u passkey.User, a *passkeytest.Authenticator, state []byte) {
	t.Helper()
	rp, err := passkey.New(origin, "Warden")
	if err != nil {
		t.Fatal(err)
	}
	scalar := sha256.Sum256([]byte("warden passkey fuzz key"))
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	if err != nil {
		t.Fatal(err)
	}
	a = passkeytest.NewWithKey(t, origin, key, []byte("fuzz-credential-id"))

	u = alice()
	options, regState := beginRegistration(t, rp, u)
	c, err := rp.FinishRegistration(u, regState, a.Create(options))
	if err != nil {
		t.Fatal(err)
	}
	u.Credentials = []passkey.Credential{c}

	_, state = beginLogin(t, rp, u)
	// Pin the challenge, and keep the state alive for long fuzzing runs.
	var s struct {
		Ceremony string         `json:"ceremony"`
		Session  map[string]any `json:"session"`
	}
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	s.Session["challenge"] = fuzzChallenge
	s.Session["expires"] = time.Now().Add(24 * time.Hour).Format(time.RFC3339Nano)
	state, err = json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return rp, u, a, state
}

func FuzzFinishLogin(f *testing.F) {
	rp, u, a, state := fuzzLogin(f)
	f.Fuzz(func(t *testing.T, response []byte) {
		id, updated, err := rp.FinishLogin(u, state, response)
		if err != nil {
			// The state and the stored passkey are sound, so whatever the
			// browser sends is the browser's fault.
			if !errors.Is(err, passkey.ErrInvalidResponse) && !errors.Is(err, passkey.ErrUnknownCredential) && !errors.Is(err, passkey.ErrCloned) {
				t.Fatalf("error outside the three kinds: %v", err)
			}
			return
		}
		if !bytes.Equal(id, a.CredentialID()) {
			t.Fatalf("login succeeded with credential %q, the user has only %q", id, a.CredentialID())
		}
		if signCount(t, passkey.Credential{ID: id, Data: updated}) == 0 {
			t.Fatal("login succeeded without advancing the sign count")
		}
	})
}

// fuzzSeeds are the starting points: a valid assertion and a few
// near-misses of it.
func fuzzSeeds(t testing.TB, a *passkeytest.Authenticator) map[string][]byte {
	a.Counter = 0
	valid := a.Assert("localhost", fuzzChallenge)

	var withoutHandle map[string]any
	if err := json.Unmarshal(valid, &withoutHandle); err != nil {
		t.Fatal(err)
	}
	delete(withoutHandle["response"].(map[string]any), "userHandle")
	noHandle, _ := json.Marshal(withoutHandle)

	return map[string][]byte{
		"valid_assertion":     valid,
		"valid_without_user":  noHandle,
		"truncated_assertion": valid[:len(valid)/2],
		"empty_object":        []byte("{}"),
		"wrong_challenge":     a.Assert("localhost", b64.EncodeToString([]byte("some other challenge, 32 bytes!!"))),
	}
}

// TestFuzzSeeds keeps the seed corpus honest: the valid seeds must still
// log in, or the fuzzer would only ever explore the parse errors.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzFinishLogin")
	if *updateFuzzSeeds {
		_, _, a, _ := fuzzLogin(t)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, seed := range fuzzSeeds(t, a) {
			corpus := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(corpus), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, name := range []string{"valid_assertion", "valid_without_user"} {
		rp, u, _, state := fuzzLogin(t)
		seed := readSeed(t, filepath.Join(dir, name))
		if _, _, err := rp.FinishLogin(u, state, seed); err != nil {
			t.Errorf("seed %s no longer logs in (rerun with -update-fuzz-seeds): %v", name, err)
		}
	}
}

// readSeed reads a corpus file holding a single []byte written with %q.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var quoted string
	if _, err := fmt.Sscanf(string(data), "go test fuzz v1\n[]byte(%q)\n", &quoted); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(quoted)
}
