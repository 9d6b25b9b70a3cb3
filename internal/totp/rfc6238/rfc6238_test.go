package rfc6238

import (
	"encoding/base32"
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 rows: the 8-digit values' last six digits.
func TestAppendixB(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for unix, want := range map[int64]string{
		59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924", 2000000000: "279037", 20000000000: "353130",
	} {
		got, err := Code(secret, time.Unix(unix, 0))
		if err != nil || got != want {
			t.Errorf("T=%d: %q, %v; want %q", unix, got, err, want)
		}
	}
	if _, err := Code("not base32!", time.Now()); err == nil {
		t.Error("a bad secret gave a code")
	}
}
