package account

import "testing"

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, email, key string
	}{
		{"  Alice@Example.COM ", "Alice@example.com", "alice@example.com"},
		{"bob+tag@mail.example.org", "bob+tag@mail.example.org", "bob+tag@mail.example.org"},
		{"x@xn--bcher-kva.example", "x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
	} {
		email, key, err := NormalizeEmail(tc.in)
		if err != nil || email != tc.email || key != tc.key {
			t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want %q, %q", tc.in, email, key, err, tc.email, tc.key)
		}
	}
	for _, bad := range []string{
		"", "plain", "@example.com", "a@", "a@localhost", "a b@example.com", "Alice <a@example.com>",
		"a@example..com", "a@-x.com", "a@ex_ample.com", "a\n@example.com", "a@bücher.example", "\xff@example.com",
		"a,b@example.com", string(make([]byte, 300)) + "@example.com",
	} {
		if _, _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Alice@Example.com", "a@b.c", " x@y.z ", "a@@b.c", "\"a b\"@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		email, key, err := NormalizeEmail(in)
		if err != nil {
			return
		}
		again, againKey, err := NormalizeEmail(email)
		if err != nil || again != email || againKey != key {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", in, email, again, err)
		}
	})
}
