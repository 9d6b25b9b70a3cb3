// Package totp is the time-based one-time password domain (RFC 6238): it
// makes authenticator secrets and their enrolment QR codes, normalises what
// users type, and checks codes. It knows nothing about HTTP or storage;
// callers persist the secret and the last used step (for replay protection).
package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

const (
	// Digits, Period and SHA-1 are the only parameters every authenticator
	// app honours; Google Authenticator silently ignores the others.
	Digits = 6
	Period = 30 * time.Second
	// DriftLimit is how far a phone's clock may be off for Verify to still
	// say by how much, so the user can be told to fix their clock.
	DriftLimit = 10 * time.Minute
)

// secretBytes is the secret length RFC 4226 §4 recommends (160 bits), the
// output size of HMAC-SHA-1: a longer key adds nothing.
const secretBytes = 20

// minSecretBytes is RFC 4226 §4 R6's floor (128 bits). Our own secrets are
// longer; this only rejects truncated or corrupted stored values.
const minSecretBytes = 16

var (
	// ErrMalformedCode means the input is not 6 digits after normalising.
	ErrMalformedCode = errors.New("totp: code must be 6 digits")
	// ErrMalformedSecret means a stored secret is not base32 or too short.
	ErrMalformedSecret = errors.New("totp: malformed secret")
)

// b32 is how secrets are written: authenticator apps expect unpadded,
// upper-case RFC 4648 base32.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key is a new authenticator secret: 160 random bits, base32 without padding
// (32 chars), and the otpauth:// URI that carries it to the app.
type Key struct {
	Secret string
	URI    string
}

// Generate makes a fresh secret and its otpauth:// URI. issuer is the
// platform name, accountName the user's email.
//
// The URI follows Google's Key Uri Format: the issuer appears both as the
// label prefix ("Issuer:email", for older apps) and as the issuer= parameter
// (which newer apps prefer). Both parts must be free of ':' because apps split
// the label on the first colon even when it is percent-encoded.
func Generate(issuer, accountName string) (Key, error) {
	if err := checkLabelPart("issuer", issuer); err != nil {
		return Key{}, err
	}
	if err := checkLabelPart("account name", accountName); err != nil {
		return Key{}, err
	}

	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, fmt.Errorf("totp: reading random secret: %w", err)
	}
	secret := b32.EncodeToString(raw)

	// Built by hand rather than with otp/totp.Generate: that escapes values
	// with url.PathEscape, which leaves '&', '=' and '+' as they are, so an
	// issuer like "R&D" would break the query and "+" would turn into a space.
	uri := "otpauth://totp/" + escape(issuer) + ":" + escape(accountName) +
		"?secret=" + secret +
		"&issuer=" + escape(issuer) +
		"&algorithm=SHA1" +
		"&digits=" + strconv.Itoa(Digits) +
		"&period=" + strconv.Itoa(int(Period/time.Second))
	return Key{Secret: secret, URI: uri}, nil
}

func checkLabelPart(what, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("totp: empty %s", what)
	case strings.ContainsRune(s, ':'):
		return fmt.Errorf("totp: %s %q contains ':', which authenticator apps read as the issuer separator", what, s)
	}
	return nil
}

// escape percent-encodes everything except RFC 3986 unreserved characters and
// '@'. That is stricter than net/url needs, on purpose: apps differ in how
// they decode '+' (space or plus) and reserved characters, while %XX is read
// the same way by all of them. It also keeps the URI pure ASCII, so the QR
// code needs no character-set hint.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// QR code rendering parameters: 256 px is comfortably scannable from a
// screen; medium error correction (15%) survives glare and moiré without
// making the code denser than needed.
const (
	qrSize       = 256
	qrQuietZone  = 4 // modules of white border the QR spec requires; scanners fail without it
	qrErrorLevel = qr.M
)

// QRCode renders uri as a 256×256 PNG QR code with medium error correction.
// A URI too long for 256 px at one pixel per module gets a larger image.
func QRCode(uri string) ([]byte, error) {
	if uri == "" {
		return nil, errors.New("totp: empty URI")
	}
	code, err := qr.Encode(uri, qrErrorLevel, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("totp: encoding QR code: %w", err)
	}

	// boombuler/barcode draws the symbol without a quiet zone and its Scale
	// only pads with the rounding remainder, so draw it ourselves: whole
	// pixels per module, centred, with at least the required white border.
	modules := code.Bounds().Dx()
	size := max(qrSize, modules+2*qrQuietZone)
	scale := size / (modules + 2*qrQuietZone)
	offset := (size - scale*modules) / 2

	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	// Palette index 0 is white, so the image starts out all white.
	for y := range modules {
		for x := range modules {
			if lum, _, _, _ := code.At(x, y).RGBA(); lum > 0x7fff {
				continue // light module
			}
			r := image.Rect(offset+x*scale, offset+y*scale, offset+(x+1)*scale, offset+(y+1)*scale)
			for py := r.Min.Y; py < r.Max.Y; py++ {
				for px := r.Min.X; px < r.Max.X; px++ {
					img.SetColorIndex(px, py, 1)
				}
			}
		}
	}

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// NormalizeCode turns what a user typed into the 6 ASCII digits Verify
// expects. It drops white space (including no-break and ideographic spaces)
// and dashes, which apps display and people copy ("123 456", "123-456"), and
// maps any Unicode decimal digit to its ASCII value, so full-width digits
// from a CJK input method or Arabic-Indic digits from a phone keyboard work.
// Anything else, or a digit count other than 6, is ErrMalformedCode.
func NormalizeCode(input string) (string, error) {
	var out [Digits]byte
	n := 0
	for _, r := range input {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '\u2212' {
			continue // U+2212 MINUS SIGN is Sm, but looks like a dash
		}
		d, ok := digitValue(r)
		if !ok || n == Digits {
			return "", ErrMalformedCode
		}
		out[n] = '0' + d
		n++
	}
	if n != Digits {
		return "", ErrMalformedCode
	}
	return string(out[:]), nil
}

// digitValue returns the value of a Unicode decimal digit (category Nd).
// Unicode guarantees that Nd characters come in contiguous, ascending runs
// of ten starting at zero, and the unicode.Nd table merges adjacent runs into
// single ranges, so a digit's value is its distance from its range's start,
// modulo ten.
func digitValue(r rune) (byte, bool) {
	if r <= unicode.MaxASCII {
		if '0' <= r && r <= '9' {
			return byte(r - '0'), true
		}
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) && rg.Stride == 1 {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) && rg.Stride == 1 {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	return 0, false
}

// StepAt is the RFC 6238 time step of t: Unix seconds divided by 30, rounded
// down (also for instants before 1970, where Go's division would round up).
func StepAt(t time.Time) int64 {
	sec := t.Unix()
	period := int64(Period / time.Second)
	step := sec / period
	if sec%period < 0 {
		step--
	}
	return step
}

// Result of checking a code.
type Result struct {
	OK bool
	// Step is the time step the code belongs to, when OK or when a drift was
	// found. Callers store it to refuse a second use of the same step.
	Step int64
	// DriftSeconds is set when !OK but the code matches a step within
	// DriftLimit outside the window: how far the phone's clock is off,
	// signed (positive: the phone is ahead), a multiple of 30.
	DriftSeconds int64
	Drifted      bool
}

// window is how many steps on each side of now are accepted: one step covers
// a code typed just before it rolled over and small clock differences, as
// RFC 6238 §5.2 recommends.
const window = 1

// driftSteps is how many steps on each side are searched for a drifted clock.
const driftSteps = int64(DriftLimit / Period)

// Verify checks a normalized code against secret at now. The current step and
// one on each side are accepted (OK, Step set). Otherwise steps up to
// ±DriftLimit are searched and, if one matches, Drifted, DriftSeconds and Step
// are set with OK false, so the caller can tell the user their phone's clock
// is off instead of just "wrong code". A code that is not 6 ASCII digits is
// simply not OK. The error is only for a malformed secret.
//
// Replay protection (a step used once per user) is the caller's job, using
// Result.Step.
func Verify(secret, code string, now time.Time) (Result, error) {
	secret, err := canonicalSecret(secret)
	if err != nil {
		return Result{}, err
	}
	if !isSixDigits(code) {
		return Result{}, nil
	}

	current := StepAt(now)

	// Try every step of the window, without stopping at the first match, so
	// the time taken does not reveal which step matched. On the
	// (one-in-a-million) chance two steps share a code, the current one wins,
	// then the earlier one, so a caller's replay record moves forward as
	// little as possible.
	matched, found := int64(0), false
	for _, off := range []int64{0, -1, 1} {
		ok, err := matches(secret, code, current+off)
		if err != nil {
			return Result{}, err
		}
		if ok && !found {
			matched, found = current+off, true
		}
	}
	if found {
		return Result{OK: true, Step: matched}, nil
	}

	// Nearest steps first: a clock is more likely off by a little than a lot.
	// Early return is fine here: the result is a rejection either way.
	for dist := int64(window + 1); dist <= driftSteps; dist++ {
		for _, off := range []int64{dist, -dist} {
			ok, err := matches(secret, code, current+off)
			if err != nil {
				return Result{}, err
			}
			if ok {
				return Result{
					Step:         current + off,
					Drifted:      true,
					DriftSeconds: off * int64(Period/time.Second),
				}, nil
			}
		}
	}
	return Result{}, nil
}

// canonicalSecret checks that secret is base32 of at least 128 bits and
// returns it upper-cased and unpadded, the form hotp expects. Lower case and
// padding are tolerated because people and other tools write secrets that way.
func canonicalSecret(secret string) (string, error) {
	s := strings.ToUpper(strings.TrimRight(secret, "="))
	raw, err := b32.DecodeString(s)
	if err != nil {
		return "", ErrMalformedSecret
	}
	if len(raw) < minSecretBytes {
		return "", fmt.Errorf("%w: %d bits, want at least %d", ErrMalformedSecret, len(raw)*8, minSecretBytes*8)
	}
	return s, nil
}

func isSixDigits(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// matches reports in constant time whether code is the 6-digit code of step.
func matches(secret, code string, step int64) (bool, error) {
	want, err := codeAt(secret, step, otp.DigitsSix)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1, nil
}

// codeAt is the HOTP value (RFC 4226, HMAC-SHA-1) of secret at counter step;
// TOTP is HOTP with the time step as counter. Steps before 1970 do not exist
// for a live clock; they would wrap to huge counters, which is harmless.
func codeAt(secret string, step int64, digits otp.Digits) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits:    digits,
		Algorithm: otp.AlgorithmSHA1,
	})
}
