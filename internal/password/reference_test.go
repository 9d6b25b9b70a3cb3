package password

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Argon2id test vector of RFC 9106 §5.3 uses a secret and associated
// data, which x/crypto does not expose, so this package is checked
// against the reference implementation instead: the argon2 command of the
// Debian package "argon2" (github.com/P-H-C/phc-winner-argon2). Its
// outputs are kept in testdata so that the check runs everywhere; when the
// command is installed, TestReferenceLive also compares random inputs in
// both directions.

var updateVectors = flag.Bool("update-vectors", false,
	"regenerate testdata/argon2_reference.json with the argon2 command (apt-get install argon2)")

const vectorsFile = "testdata/argon2_reference.json"

type refVector struct {
	Name string `json:"name"`
	// Password is what the user types; the reference was given its NFKC
	// form, which is what this package hashes.
	Password    string `json:"password"`
	Salt        string `json:"salt"` // the command takes the salt as text
	MemoryKiB   uint32 `json:"m"`
	Iterations  uint32 `json:"t"`
	Parallelism uint8  `json:"p"`
	KeyLen      uint32 `json:"l"`
	PHC         string `json:"phc"` // the reference's output (-e)
}

// refInputs are the inputs of the committed vectors: the default
// parameters, the smallest memory, memory that is not a multiple of
// 4×lanes (both round it down the same way), several lanes, short and
// long tags, the shortest salt, and non-ASCII passwords, one of which
// differs from its NFKC form.
var refInputs = []refVector{
	{Name: "default params", Password: "password", Salt: "somesaltsomesalt", MemoryKiB: 19456, Iterations: 2, Parallelism: 1, KeyLen: 32},
	{Name: "passphrase", Password: "correct horse battery staple", Salt: "saltsaltsaltsalt", MemoryKiB: 64, Iterations: 1, Parallelism: 1, KeyLen: 32},
	{Name: "minimum memory, 8-byte salt", Password: "x", Salt: "12345678", MemoryKiB: 8, Iterations: 1, Parallelism: 1, KeyLen: 32},
	{Name: "memory rounded, 3 lanes", Password: "Tr0ub4dor&3", Salt: "0123456789abcdef", MemoryKiB: 100, Iterations: 4, Parallelism: 3, KeyLen: 16},
	{Name: "4 lanes, 64-byte tag", Password: "hunter2", Salt: "a much longer salt of 32 bytes!!", MemoryKiB: 256, Iterations: 3, Parallelism: 4, KeyLen: 64},
	{Name: "latin-1 letters", Password: "pässwörd Ünïcödé", Salt: "sel de mer 16 oc", MemoryKiB: 128, Iterations: 2, Parallelism: 1, KeyLen: 32},
	{Name: "japanese", Password: "日本語のパスワードです", Salt: "shio-shio-shio-1", MemoryKiB: 128, Iterations: 2, Parallelism: 2, KeyLen: 32},
	{Name: "emoji", Password: "🔐 vault 🔑 key", Salt: "saltysaltysalty!", MemoryKiB: 64, Iterations: 1, Parallelism: 1, KeyLen: 32},
	{Name: "ligature and full-width, NFKC differs", Password: "ﬁnance ｐａｓｓ", Salt: "normalisedsalt16", MemoryKiB: 64, Iterations: 1, Parallelism: 1, KeyLen: 32},
}

func TestReferenceVectors(t *testing.T) {
	if *updateVectors {
		writeVectors(t)
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vectors []refVector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) == 0 {
		t.Fatal("no vectors")
	}
	h := cheapHasher(t, Options{})
	ctx := context.Background()
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			parsed, err := ParsePHC(v.PHC)
			if err != nil {
				t.Fatalf("ParsePHC(reference output): %v", err)
			}
			want := Params{MemoryKiB: v.MemoryKiB, Iterations: v.Iterations, Parallelism: v.Parallelism,
				SaltLen: uint32(len(v.Salt)), KeyLen: v.KeyLen}
			if parsed.Params != want || string(parsed.Salt) != v.Salt {
				t.Fatalf("parsed %+v salt %q, want %+v salt %q", parsed.Params, parsed.Salt, want, v.Salt)
			}
			// Same inputs, same string: the encoding matches byte for byte.
			if got := h.derive(normalize(v.Password), []byte(v.Salt), want).String(); got != v.PHC {
				t.Fatalf("x/crypto: %s\nreference: %s", got, v.PHC)
			}
			if ok, _, err := h.Verify(ctx, v.PHC, v.Password); !ok || err != nil {
				t.Fatalf("Verify(reference hash, password) = %v, %v", ok, err)
			}
			if ok, _, err := h.Verify(ctx, v.PHC, v.Password+" "); ok || err != nil {
				t.Fatalf("Verify(reference hash, other password) = %v, %v", ok, err)
			}
		})
	}
}

// writeVectors runs the reference command on refInputs.
func writeVectors(t *testing.T) {
	if _, err := exec.LookPath("argon2"); err != nil {
		t.Fatal("-update-vectors needs the argon2 command: apt-get install -y argon2")
	}
	out := make([]refVector, len(refInputs))
	for i, v := range refInputs {
		v.PHC = runReference(t, []byte(normalize(v.Password)), []byte(v.Salt),
			Params{MemoryKiB: v.MemoryKiB, Iterations: v.Iterations, Parallelism: v.Parallelism, KeyLen: v.KeyLen})
		out[i] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReferenceLive compares this package with the reference command on
// random inputs, in both directions: the reference's PHC string verifies
// here and is what this package computes, and a hash made by Hasher.Hash
// (random binary salt) is what the reference computes.
func TestReferenceLive(t *testing.T) {
	if _, err := exec.LookPath("argon2"); err != nil {
		t.Skip("argon2 command not installed (apt-get install -y argon2); the committed vectors still ran")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	ctx := context.Background()
	h := cheapHasher(t, Options{})
	for i := range 6 {
		pw := []byte(normalize(randomPassword(rng)))
		if len(pw) == 0 {
			pw = []byte("x") // the command refuses an empty password
		}
		saltBytes := make([]byte, 12+rng.IntN(24))
		for j := range saltBytes {
			saltBytes[j] = byte(rng.Uint32())
		}
		salt := []byte(base64.RawStdEncoding.EncodeToString(saltBytes)) // the command needs text
		p := Params{Parallelism: uint8(1 + rng.IntN(4)), Iterations: uint32(1 + rng.IntN(3)), KeyLen: uint32(16 + rng.IntN(49))}
		p.MemoryKiB = 8*uint32(p.Parallelism) + uint32(rng.IntN(512))
		ref := runReference(t, pw, salt, p)
		p.SaltLen = uint32(len(salt))
		if got := h.derive(string(pw), salt, p).String(); got != ref {
			t.Errorf("case %d (%q): x/crypto %s\nreference %s", i, pw, got, ref)
		}
		if ok, _, err := h.Verify(ctx, ref, string(pw)); !ok || err != nil {
			t.Errorf("case %d: Verify(reference hash) = %v, %v", i, ok, err)
		}
	}
	for i := range 4 {
		pw := normalize(randomPassword(rng)) + "!"
		var phc string
		var parsed PHC
		for { // argv cannot carry a NUL byte; draw again (6% of 16-byte salts)
			var err error
			if phc, err = h.Hash(ctx, pw); err != nil {
				t.Fatal(err)
			}
			if parsed, err = ParsePHC(phc); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(parsed.Salt, []byte{0}) {
				break
			}
		}
		if ref := runReference(t, []byte(pw), parsed.Salt, parsed.Params); ref != phc {
			t.Errorf("case %d (%q): Hash %s\nreference %s", i, pw, phc, ref)
		}
	}
}

// runReference runs the reference command; it reads the password from
// stdin verbatim (no trailing newline is added here).
func runReference(t *testing.T, pw, salt []byte, p Params) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "argon2", string(salt), "-id",
		"-t", strconv.Itoa(int(p.Iterations)), "-k", strconv.Itoa(int(p.MemoryKiB)),
		"-p", strconv.Itoa(int(p.Parallelism)), "-l", strconv.Itoa(int(p.KeyLen)), "-e")
	cmd.Stdin = bytes.NewReader(pw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("argon2: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// randomPassword mixes ASCII with letters from other scripts and emoji.
func randomPassword(rng *rand.Rand) string {
	alphabets := []string{
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
		"äöüßéèêçñøåÆŒ", "日本語パスワード", "пароль", "🔐🔑🦊", "ﬁﬂｆｕｌｌ", // the last ones change under NFKC
	}
	var b strings.Builder
	for range 1 + rng.IntN(40) {
		a := []rune(alphabets[rng.IntN(len(alphabets))])
		b.WriteRune(a[rng.IntN(len(a))])
	}
	return b.String()
}
