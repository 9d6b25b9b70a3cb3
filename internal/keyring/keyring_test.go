package keyring

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	ring, err := New(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("JBSWY3DPEHPK3PXP")
	sealed, err := ring.Seal(secret, Binding("mfa_totp", "secret", "usr_1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := ring.Open(sealed, Binding("mfa_totp", "secret", "usr_1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, binding := range map[string][]byte{
		"other row":    Binding("mfa_totp", "secret", "usr_2"),
		"other column": Binding("mfa_totp", "other", "usr_1"),
		"other table":  Binding("webhooks", "secret", "usr_1"),
	} {
		if _, err := ring.Open(sealed, binding); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("%s: Open err = %v, want ErrCannotOpen", name, err)
		}
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	if _, err := ring.Open(flipped, Binding("mfa_totp", "secret", "usr_1")); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("tampered: err = %v", err)
	}
}

func TestRotationOpensOldValues(t *testing.T) {
	t.Parallel()
	oldKey, newKeyBytes := newKey(t), newKey(t)
	oldRing, _ := New(oldKey)
	sealed, err := oldRing.Seal([]byte("s"), Binding("t", "c", "r"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := New(newKeyBytes, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed, Binding("t", "c", "r")); err != nil || string(got) != "s" {
		t.Fatalf("rotated Open = %q, %v", got, err)
	}
	resealed, _ := rotated.Seal([]byte("s"), Binding("t", "c", "r"))
	if _, err := oldRing.Open(resealed, Binding("t", "c", "r")); !errors.Is(err, ErrCannotOpen) {
		t.Fatalf("value sealed under the new key opened with only the old one")
	}
}

func TestRejectsShortKeysAndGarbage(t *testing.T) {
	t.Parallel()
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
	ring, _ := New(newKey(t))
	for _, garbage := range [][]byte{nil, {1}, {1, 200}, {2, 0}, {1, 0, 1, 2, 3}} {
		if _, err := ring.Open(garbage, nil); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("Open(%v) err = %v", garbage, err)
		}
	}
}
