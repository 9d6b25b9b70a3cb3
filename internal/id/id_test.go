package id

import "testing"

func TestNewAndToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		v := New("usr")
		if !HasPrefix(v, "usr") || seen[v] {
			t.Fatalf("id %q: malformed or repeated", v)
		}
		seen[v] = true
	}
	if HasPrefix(New("usr"), "ses") || HasPrefix("usr_short", "usr") {
		t.Fatal("HasPrefix accepts what New did not make")
	}
	if tok := Token("wdn_"); len(tok) != len("wdn_")+52 {
		t.Fatalf("token %q does not carry 256 bits", tok)
	}
}
