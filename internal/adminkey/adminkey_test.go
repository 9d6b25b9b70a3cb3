package adminkey

import (
	"testing"
	"time"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	plain, k, err := New("payouts", []string{"withdrawals:read", "sessions:introspect", "withdrawals:read"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !LooksLikeKey(plain) {
		t.Fatalf("key %q does not look like a key", plain)
	}
	if len(k.Scopes) != 2 || !k.Allows("withdrawals:read") || k.Allows("users:write") {
		t.Fatalf("scopes = %v", k.Scopes)
	}
	if Hash(plain) == Hash(plain+"x") || len(Hash(plain)) != 64 {
		t.Fatal("hash is not a SHA-256 of the key")
	}
}

func TestValidateScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scopes []string
		ok     bool
	}{
		{[]string{"audit:read"}, true},
		{Scopes, true},
		{nil, false},
		{[]string{"audit:write"}, false},
		{[]string{"audit:read", ""}, false},
	} {
		if err := ValidateScopes(tc.scopes); (err == nil) != tc.ok {
			t.Errorf("ValidateScopes(%v) = %v, want ok=%v", tc.scopes, err, tc.ok)
		}
	}
	if _, _, err := New("  ", []string{"audit:read"}, time.Now()); err == nil {
		t.Error("blank name accepted")
	}
}
