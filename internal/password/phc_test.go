package password

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A hash of "password" with salt "somesaltsomesalt" at the default
// parameters, made by the reference argon2 command (see testdata).
const refPHC = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE"

func TestParsePHC(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE"
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"reference output", refPHC, true},
		{"legacy weak params still parse", with("m=8,t=1,p=1"), true},
		{"largest params", with("m=4194304,t=1,p=16"), true},
		{"8-byte salt", "$argon2id$v=19$m=64,t=1,p=1$MTIzNDU2Nzg$" + key, true},
		{"64-byte salt and key", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 86) + "$" + strings.Repeat("A", 86), true},

		{"empty", "", false},
		{"argon2i", strings.Replace(refPHC, "argon2id", "argon2i", 1), false},
		{"argon2d", strings.Replace(refPHC, "argon2id", "argon2d", 1), false},
		{"upper case", strings.Replace(refPHC, "argon2id", "ARGON2ID", 1), false},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", false},
		{"no version (0x10 implied)", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"version 16", strings.Replace(refPHC, "v=19", "v=16", 1), false},
		{"params out of order", with("t=2,m=19456,p=1"), false},
		{"missing param", with("m=19456,t=2"), false},
		{"extra param", with("m=19456,t=2,p=1,keyid=abc"), false},
		{"data field", with("m=19456,t=2,p=1,data=abc"), false},
		{"leading zero", with("m=019456,t=2,p=1"), false},
		{"plus sign", with("m=+19456,t=2,p=1"), false},
		{"minus sign", with("m=-19456,t=2,p=1"), false},
		{"space", with("m=19456, t=2,p=1"), false},
		{"hex", with("m=0x4c00,t=2,p=1"), false},
		{"huge number", with("m=99999999999999999999,t=2,p=1"), false},
		{"uint32 overflow", with("m=4294967296,t=2,p=1"), false},
		{"memory over ceiling", with("m=4194305,t=1,p=1"), false},
		{"cost over ceiling", with("m=4194304,t=2,p=1"), false},
		{"zero iterations", with("m=19456,t=0,p=1"), false},
		{"iterations over ceiling", with("m=64,t=101,p=1"), false},
		{"zero lanes", with("m=19456,t=2,p=0"), false},
		{"17 lanes", with("m=19456,t=2,p=17"), false},
		{"memory below 8 KiB per lane", with("m=31,t=1,p=4"), false},
		{"missing hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt, false},
		{"empty hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$", false},
		{"trailing $", refPHC + "$", false},
		{"extra field", refPHC + "$AAAA", false},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, false},
		{"padded hash", refPHC + "=", false},
		{"newline in salt", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRz\nb21lc2FsdA$" + key, false},
		{"CR at end", refPHC + "\r", false},
		{"URL alphabet", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$0y-LSOuP6lmqTl-ttYfyKXqtD4_qiAz0A_tkiK_NsBg", false},
		{"non-zero trailing bits", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdB$" + key, false},
		{"impossible base64 length", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "AAA$" + key, false},
		{"7-byte salt", "$argon2id$v=19$m=64,t=1,p=1$MTIzNDU2Nw$" + key, false},
		{"65-byte salt", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 87) + "$" + key, false},
		{"15-byte key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 20), false},
		{"65-byte key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 87), false},
		{"too long", refPHC + strings.Repeat("A", 300), false},
		{"leading space", " " + refPHC, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParsePHC(tt.in)
			if !tt.ok {
				if !errors.Is(err, ErrInvalidHash) {
					t.Fatalf("ParsePHC(%q) err = %v, want ErrInvalidHash", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePHC(%q): %v", tt.in, err)
			}
			if h.String() != tt.in {
				t.Fatalf("String() = %q", h.String())
			}
		})
	}

	h, _ := ParsePHC(refPHC)
	want := Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if h.Params != want || string(h.Salt) != "somesaltsomesalt" {
		t.Fatalf("ParsePHC(refPHC) = %+v %q", h.Params, h.Salt)
	}
}

func TestNeedsRehash(t *testing.T) {
	cur := DefaultParams()
	mk := func(m, t uint32, p uint8, saltLen, keyLen int) string {
		return PHC{Params: Params{MemoryKiB: m, Iterations: t, Parallelism: p},
			Salt: make([]byte, saltLen), Key: make([]byte, keyLen)}.String()
	}
	tests := []struct {
		name string
		phc  string
		want bool
	}{
		{"current", mk(19456, 2, 1, 16, 32), false},
		{"stronger in every way", mk(65536, 3, 2, 32, 64), false},
		{"more memory fewer passes", mk(47104, 1, 1, 16, 32), true},
		{"less memory", mk(12288, 2, 1, 16, 32), true},
		{"fewer passes", mk(19456, 1, 1, 16, 32), true},
		{"shorter salt", mk(19456, 2, 1, 8, 32), true},
		{"shorter key", mk(19456, 2, 1, 16, 16), true},
		{"test params", mk(64, 1, 1, 16, 32), true},
		{"malformed", "$2b$10$whatever", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRehash(tt.phc, cur); got != tt.want {
				t.Fatalf("NeedsRehash(%s) = %v", tt.phc, got)
			}
		})
	}
	more := cur
	more.Parallelism = 2
	if !NeedsRehash(mk(19456, 2, 1, 16, 32), more) {
		t.Error("raising the lanes does not ask for rehash")
	}
}

// FuzzParsePHC checks that ParsePHC never panics, accepts only the
// canonical spelling (what it accepts, String gives back unchanged), and
// keeps every accepted value within the bounds Verify relies on.
func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		refPHC,
		"$argon2id$v=19$m=8,t=1,p=1$MTIzNDU2Nzg$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
		"$argon2id$v=19$m=4194304,t=1,p=16$" + strings.Repeat("A", 86) + "$" + strings.Repeat("A", 86),
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA==$0y+LSOuP6lmqTl",
		"$argon2id$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA",
		"$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1,keyid=x$c29tZXNhbHQ$aGFzaA",
		"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("error %v does not wrap ErrInvalidHash", err)
			}
			return
		}
		if got := h.String(); got != s {
			t.Fatalf("accepted a non-canonical spelling: %q re-encodes as %q", s, got)
		}
		p := h.Params
		if p.Parallelism < 1 || p.Parallelism > maxParallelism || p.Iterations < 1 || p.Iterations > maxIterations ||
			p.MemoryKiB < 8*uint32(p.Parallelism) || uint64(p.MemoryKiB)*uint64(p.Iterations) > maxCost ||
			len(h.Salt) < minStoredSaltLen || len(h.Salt) > maxSaltLen ||
			len(h.Key) < minStoredKeyLen || len(h.Key) > maxKeyLen ||
			int(p.SaltLen) != len(h.Salt) || int(p.KeyLen) != len(h.Key) {
			t.Fatalf("accepted out-of-bounds %q: %+v", s, p)
		}
		again, err := ParsePHC(h.String())
		if err != nil || again.Params != h.Params || !bytes.Equal(again.Salt, h.Salt) || !bytes.Equal(again.Key, h.Key) {
			t.Fatalf("round trip of %q failed: %v", s, err)
		}
	})
}
