package totp

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"
)

// rfcSecret is the RFC 6238 appendix B SHA-1 key "12345678901234567890" in base32.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// requireTool returns the path of an external tool, or skips the test when it
// is missing — except on CI (CI=true), where a missing tool must not quietly
// turn an independent cross-check into a pass.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required on CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// checkCode checks that the code of secret at now is want, and that Verify
// takes it at now's own step, undrifted.
func checkCode(t *testing.T, secret string, now time.Time, want string) {
	t.Helper()
	got, err := codeAt(secret, StepAt(now), otp.DigitsSix)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("secret %s at %v (unix %d): code %s, want %s", secret, now, now.Unix(), got, want)
	}
	res, err := Verify(secret, want, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Step != StepAt(now) || res.Drifted {
		t.Errorf("Verify(%s) at %v = %+v, want OK at step %d", want, now, res, StepAt(now))
	}
}

func TestRFC6238Vectors(t *testing.T) {
	// Appendix B, SHA-1 column. The RFC prints 8-digit codes; ours are 6,
	// which (RFC 4226 §5.3) are the same truncated value modulo 10^6.
	tests := []struct {
		unix int64
		want int64
	}{
		{59, 94287082},
		{1111111109, 7081804},
		{1111111111, 14050471},
		{1234567890, 89005924},
		{2000000000, 69279037},
		{20000000000, 65353130},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.unix), func(t *testing.T) {
			checkCode(t, rfcSecret, time.Unix(tt.unix, 0), fmt.Sprintf("%06d", tt.want%1_000_000))
		})
	}
}

// TestAgainstOathtool compares with an independent implementation (OATH
// Toolkit), for the RFC secret and freshly generated ones.
func TestAgainstOathtool(t *testing.T) {
	oathtool := requireTool(t, "oathtool")

	secrets := []string{rfcSecret}
	for range 3 {
		k, err := Generate("Warden", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, k.Secret)
	}
	times := []time.Time{
		time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 12, 0, 29, 0, time.UTC),
		time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
		time.Unix(1234567890, 0),
	}
	for _, secret := range secrets {
		for _, now := range times {
			out, err := exec.Command(oathtool, "--totp", "-b", secret,
				"-N", now.UTC().Format("2006-01-02 15:04:05 UTC")).Output()
			if err != nil {
				t.Fatalf("oathtool: %v", err)
			}
			checkCode(t, secret, now, strings.TrimSpace(string(out)))
		}
	}
}

func TestVerifyWindowAndDrift(t *testing.T) {
	// A few fixed instants (mid-step and on a step boundary) so the test is
	// deterministic: a chance collision between steps would fail every run,
	// not flake.
	instants := []time.Time{
		time.Date(2026, 11, 24, 12, 0, 7, 0, time.UTC),
		time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, now := range instants {
		current := StepAt(now)
		for off := int64(-23); off <= 23; off++ {
			t.Run(fmt.Sprintf("%s/%+d", now.Format(time.RFC3339), off), func(t *testing.T) {
				code, err := codeAt(rfcSecret, current+off, otp.DigitsSix)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Verify(rfcSecret, code, now)
				if err != nil {
					t.Fatal(err)
				}

				var want Result
				switch abs := max(off, -off); {
				case abs <= 1:
					want = Result{OK: true, Step: current + off}
				case abs <= 20:
					want = Result{Step: current + off, Drifted: true, DriftSeconds: off * 30}
				}
				if got != want {
					t.Fatalf("offset %+d steps: got %+v, want %+v", off, got, want)
				}
			})
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	good, err := codeAt(rfcSecret, StepAt(now), otp.DigitsSix)
	if err != nil {
		t.Fatal(err)
	}
	// Same code with the last digit bumped: a near miss, not a random one.
	wrong := good[:5] + string('0'+(good[5]-'0'+1)%10)

	tests := []struct {
		name    string
		secret  string
		code    string
		wantOK  bool
		wantErr error
	}{
		{"good", rfcSecret, good, true, nil},
		{"lower-case secret", strings.ToLower(rfcSecret), good, true, nil},
		{"padded secret", b32.EncodeToString([]byte("12345678901234567890")) + "====", good, true, nil},
		{"wrong last digit", rfcSecret, wrong, false, nil},
		{"not normalized", rfcSecret, good[:3] + " " + good[3:], false, nil},
		{"five digits", rfcSecret, good[:5], false, nil},
		{"empty code", rfcSecret, "", false, nil},
		{"empty secret", "", good, false, ErrMalformedSecret},
		{"not base32", "not base32 at all!", good, false, ErrMalformedSecret},
		{"80-bit secret", "JBSWY3DPEHPK3PXP", good, false, ErrMalformedSecret},
		{"malformed secret wins over bad code", "1", "x", false, ErrMalformedSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(tt.secret, tt.code, now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if res.OK != tt.wantOK {
				t.Fatalf("OK = %v, want %v (%+v)", res.OK, tt.wantOK, res)
			}
			if !tt.wantOK && res != (Result{}) {
				t.Fatalf("rejected code should carry no step or drift, got %+v", res)
			}
		})
	}
}

func TestStepAt(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0},
		{29, 0},
		{30, 1},
		{59, 1},
		{1234567890, 41152263},
		{-1, -1}, // floor, not truncation towards zero
		{-30, -1},
		{-31, -2},
	}
	for _, tt := range tests {
		if got := StepAt(time.Unix(tt.unix, 999_999_999)); got != tt.want {
			t.Errorf("StepAt(%d) = %d, want %d", tt.unix, got, tt.want)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"123456", "123456", false},
		{"123 456", "123456", false},
		{"123-456", "123456", false},
		{" 123456 ", "123456", false},
		{"\t123456\n", "123456", false},
		{"1 2 3 4 5 6", "123456", false},
		{"123\u00a0456", "123456", false},                         // no-break space
		{"123\u2013456", "123456", false},                         // en dash
		{"123\u2212456", "123456", false},                         // minus sign
		{"１２３４５６", "123456", false},                               // full-width digits
		{"１２３\u3000４５６", "123456", false},                         // with ideographic space
		{"\u0661\u0662\u0663\u0664\u0665\u0666", "123456", false}, // Arabic-Indic
		{"000000", "000000", false},
		{"", "", true},
		{"   ", "", true},
		{"12345", "", true},
		{"1234567", "", true},
		{"12345a", "", true},
		{"abcdef", "", true},
		{"123.456", "", true},
		{"123_456", "", true},
		{"+123456", "", true},
		{"12345\u00bd", "", true},  // ½ is a number but not a decimal digit
		{"12345\u2466", "", true},  // circled 7
		{"123\u200b456", "", true}, // zero-width space is not white space
		{"12345\xff", "", true},    // invalid UTF-8
		{"١٢٣٤٥٦٧", "", true},      // seven Arabic-Indic digits
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := NormalizeCode(tt.in)
			if tt.err {
				if !errors.Is(err, ErrMalformedCode) || got != "" {
					t.Fatalf("NormalizeCode(%q) = %q, %v; want ErrMalformedCode", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeCode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestDigitValueTable checks the assumption digitValue rests on: every range
// of the Unicode Nd table is whole runs of ten, so (r-Lo)%10 is the value.
func TestDigitValueTable(t *testing.T) {
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %#x-%#x stride %d is not whole runs of ten", lo, hi, stride)
		}
		for r := rune(lo); r <= rune(hi); r++ {
			d, ok := digitValue(r)
			if !ok || d != byte((r-rune(lo))%10) {
				t.Errorf("digitValue(%U) = %d, %v", r, d, ok)
			}
		}
	}
	for _, rg := range unicode.Nd.R16 {
		check(uint32(rg.Lo), uint32(rg.Hi), uint32(rg.Stride))
	}
	for _, rg := range unicode.Nd.R32 {
		check(rg.Lo, rg.Hi, rg.Stride)
	}
}

func FuzzNormalizeCode(f *testing.F) {
	// More seeds, including past findings, live in testdata/fuzz/FuzzNormalizeCode.
	for _, s := range []string{"123456", "123 456", "123-456", "１２３４５６", "", "1234567", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeCode(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedCode) || got != "" {
				t.Fatalf("NormalizeCode(%q) = %q, %v", in, got, err)
			}
			return
		}
		if !isSixDigits(got) {
			t.Fatalf("NormalizeCode(%q) = %q, not 6 ASCII digits", in, got)
		}
		if again, err := NormalizeCode(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

func TestGenerate(t *testing.T) {
	a, err := Generate("Warden", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate("Warden", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{a, b} {
		if len(k.Secret) != 32 || strings.ContainsAny(k.Secret, "=") {
			t.Errorf("secret %q: want 32 base32 chars without padding", k.Secret)
		}
		raw, err := b32.DecodeString(k.Secret)
		if err != nil || len(raw) != 20 {
			t.Errorf("secret %q decodes to %d bytes (%v), want 20", k.Secret, len(raw), err)
		}
	}
	if a.Secret == b.Secret || a.URI == b.URI {
		t.Errorf("two calls gave the same key: %+v", a)
	}
}

func TestGenerateRejectsBadLabels(t *testing.T) {
	tests := []struct{ issuer, account string }{
		{"", "alice@example.com"},
		{"Warden", ""},
		{"  ", "alice@example.com"},
		{"Warden:EU", "alice@example.com"},
		{"Warden", "alice:x@example.com"},
	}
	for _, tt := range tests {
		if k, err := Generate(tt.issuer, tt.account); err == nil {
			t.Errorf("Generate(%q, %q) = %+v, want error", tt.issuer, tt.account, k)
		}
	}
}

func TestGenerateURI(t *testing.T) {
	tests := []struct{ issuer, account string }{
		{"Warden", "alice@example.com"},
		{"Warden Cloud", "bob+totp@example.com"},
		{"R&D=Team?#/%", "o'brien@example.com"},
		{"Wärden", "ünïcode@exämple.com"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			k, err := Generate(tt.issuer, tt.account)
			if err != nil {
				t.Fatal(err)
			}
			// Apps disagree on whether '+' means space, and the QR code carries
			// no charset: the raw URI must avoid both.
			if strings.ContainsAny(k.URI, " +") {
				t.Errorf("URI %q has a raw space or '+'", k.URI)
			}
			for _, r := range k.URI {
				if r > unicode.MaxASCII {
					t.Fatalf("URI %q is not ASCII", k.URI)
				}
			}

			u, err := url.Parse(k.URI)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Errorf("scheme/type = %s/%s, want otpauth/totp", u.Scheme, u.Host)
			}
			if want := "/" + tt.issuer + ":" + tt.account; u.Path != want {
				t.Errorf("label = %q, want %q", u.Path, want)
			}
			q := u.Query()
			want := map[string]string{
				"secret":    k.Secret,
				"issuer":    tt.issuer,
				"algorithm": "SHA1",
				"digits":    "6",
				"period":    "30",
			}
			for name, v := range want {
				if got := q[name]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want [%q]", name, got, v)
				}
			}
			if len(q) != len(want) {
				t.Errorf("unexpected parameters in %v", q)
			}

			// pquerna/otp's own parser (what most Go consumers use) agrees.
			key, err := otp.NewKeyFromURL(k.URI)
			if err != nil {
				t.Fatal(err)
			}
			if key.Issuer() != tt.issuer || key.AccountName() != tt.account || key.Secret() != k.Secret ||
				key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
				t.Errorf("otp.Key = issuer %q account %q secret %q period %d digits %d algorithm %v",
					key.Issuer(), key.AccountName(), key.Secret(), key.Period(), key.Digits(), key.Algorithm())
			}
		})
	}
}

func qrTestURIs(t *testing.T) []string {
	t.Helper()
	uris := []string{"otpauth://totp/A:b?secret=" + rfcSecret}
	for _, acct := range []string{"alice@example.com", strings.Repeat("very.long.name", 10) + "@example.com"} {
		k, err := Generate("Warden Cloud & Co", acct)
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, k.URI)
	}
	return uris
}

// qrImage is the QR code of uri, decoded from the PNG that QRCode makes.
func qrImage(t *testing.T, uri string) image.Image {
	t.Helper()
	pngData, err := QRCode(uri)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestQRCodeGozxing(t *testing.T) {
	for _, uri := range qrTestURIs(t) {
		img := qrImage(t, uri)
		if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Errorf("image is %v, want 256×256", b)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("gozxing cannot read the QR code for %q: %v", uri, err)
		}
		if res.GetText() != uri {
			t.Errorf("QR code says %q, want %q", res.GetText(), uri)
		}
		if ec := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != "M" {
			t.Errorf("error correction level = %v, want M", ec)
		}
	}
}

func TestQRCodeZbarimg(t *testing.T) {
	zbarimg := requireTool(t, "zbarimg")
	for i, uri := range qrTestURIs(t) {
		pngData, err := QRCode(uri)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), fmt.Sprintf("qr%d.png", i))
		if err := os.WriteFile(file, pngData, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbarimg, "--quiet", "--raw", file).Output()
		if err != nil {
			t.Fatalf("zbarimg cannot read the QR code for %q: %v", uri, err)
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != uri {
			t.Errorf("zbarimg says %q, want %q", got, uri)
		}
	}
}

func TestQRCodeEmpty(t *testing.T) {
	if _, err := QRCode(""); err == nil {
		t.Error("QRCode(\"\") succeeded")
	}
}

// TestQRCodeQuietZone checks the white border of at least 4 modules the QR
// spec requires: our decoders cope without it, but phone cameras scanning a
// code on a dark page often do not.
func TestQRCodeQuietZone(t *testing.T) {
	for _, uri := range qrTestURIs(t) {
		img := qrImage(t, uri)
		dark := func(x, y int) bool {
			l, _, _, _ := img.At(x, y).RGBA()
			return l < 0x8000
		}
		b := img.Bounds()
		// The top-left finder pattern's top edge is the first dark run and
		// is 7 modules wide, which gives the module size in pixels.
		top, left, width := -1, -1, 0
		for y := b.Min.Y; y < b.Max.Y && top < 0; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if dark(x, y) {
					top, left = y, x
					for width = 0; x+width < b.Max.X && dark(x+width, y); width++ {
					}
					break
				}
			}
		}
		if top < 0 || width%7 != 0 {
			t.Fatalf("no finder pattern found (top %d, width %d)", top, width)
		}
		module := width / 7
		// Every side: the outermost dark pixel must be at least 4 modules in.
		minX, minY, maxX, maxY := b.Max.X, b.Max.Y, b.Min.X, b.Min.Y
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if dark(x, y) {
					minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
				}
			}
		}
		if minX != left || minY != top {
			t.Errorf("finder pattern at (%d,%d) is not the top-left corner (%d,%d)", left, top, minX, minY)
		}
		for side, margin := range map[string]int{
			"left": minX - b.Min.X, "top": minY - b.Min.Y,
			"right": b.Max.X - 1 - maxX, "bottom": b.Max.Y - 1 - maxY,
		} {
			if margin < 4*module {
				t.Errorf("%s quiet zone is %d px, want at least %d (4 modules of %d px)", side, margin, 4*module, module)
			}
		}
	}
}
