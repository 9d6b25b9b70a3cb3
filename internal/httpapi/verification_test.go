package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/document/documenttest"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/totp/rfc6238"
	"github.com/wardenhq/warden/internal/verification"
)

// These tests run the whole server (server.New, as `warden serve` does) on a
// real database, with mail sent to an in-process SMTP server.

const (
	kycAdminKey = "test-admin-key-for-verification-tests-0123456789"
	kycPassword = "correct horse battery staple"
)

var providerSecret = bytes.Repeat([]byte{7}, 32)

// kycNode is a running Warden (servertest) that keeps the device token of
// each account's first login, so that its later logins come from a known
// device.
type kycNode struct {
	*servertest.Node
	store *store.Store
	mu    sync.Mutex
	devs  map[string]string // email → device token
}

func newKYCNode(n *servertest.Node) *kycNode {
	return &kycNode{Node: n, store: n.Server.Store(), devs: map[string]string{}}
}

func startKYCNode(t *testing.T, dbURL string) *kycNode {
	t.Helper()
	n := servertest.Start(t, dbURL, kycAdminKey, nil, map[string]string{
		"WARDEN_KYC_PROVIDERS":  "acme=" + base64.StdEncoding.EncodeToString(providerSecret),
		"WARDEN_MFA_RESET_WAIT": "2s", // the server's duties run every 100 ms
	})
	return newKYCNode(n)
}

type kycResp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r kycResp) expect(t *testing.T, status int, code string) kycResp {
	t.Helper()
	if r.status != status || (code != "" && r.body["code"] != code) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	if code != "" && r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a %s problem as %q", code, r.header.Get("Content-Type"))
	}
	return r
}

func (r kycResp) field(t *testing.T, name string) map[string]any {
	t.Helper()
	for _, e := range asList(r.body["errors"]) {
		if m := e.(map[string]any); m["field"] == name {
			return m
		}
	}
	t.Fatalf("no error for field %s in %s", name, r.raw)
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, x.(string))
	}
	return out
}

func (n *kycNode) send(t *testing.T, req *http.Request, headers ...string) kycResp {
	t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := kycResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// call sends body as JSON; headers are name/value pairs.
func (n *kycNode) call(t *testing.T, method, path string, body any, headers ...string) kycResp {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.Base+path, rdr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return n.send(t, req, headers...)
}

func (n *kycNode) admin(t *testing.T, method, path string, body any) kycResp {
	t.Helper()
	return n.call(t, method, path, body, "Authorization", "Bearer "+kycAdminKey)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// filePart is one file in a multipart upload, with the name and type the
// client claims (the server must ignore both).
type filePart struct {
	name, contentType string
	data              []byte
}

func multipartBody(t *testing.T, fields map[string]string, file *filePart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, file.name))
		h.Set("Content-Type", file.contentType)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(file.data)
	}
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func (n *kycNode) upload(t *testing.T, path string, fields map[string]string, file *filePart, headers ...string) kycResp {
	t.Helper()
	body, ct := multipartBody(t, fields, file)
	req, _ := http.NewRequest("POST", n.Base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return n.send(t, req, headers...)
}

// --- accounts and mail ---

// signUp signs an account up (servertest.Node.SignUp) and keeps its
// device token for its later logins.
func (n *kycNode) signUp(t *testing.T, email string) string {
	t.Helper()
	session, device := n.SignUp(t, email, kycPassword)
	n.mu.Lock()
	n.devs[email] = device
	n.mu.Unlock()
	return session
}

// device is the device token of the account's first login ("" before it).
func (n *kycNode) device(email string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.devs[email]
}

// login sends the password from the account's known device.
func (n *kycNode) login(t *testing.T, email string) kycResp {
	t.Helper()
	return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": kycPassword}, "X-Warden-Device", n.device(email))
}

func (n *kycNode) enrolTOTP(t *testing.T, session string) {
	t.Helper()
	begin := n.call(t, "POST", "/v1/mfa/totp", nil, bearer(session)...).expect(t, 200, "")
	code, err := rfc6238.Code(begin.body["secret"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n.call(t, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": code}, bearer(session)...).expect(t, 200, "")
}

// --- files ---

func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 4), B: 0x80, A: 0xFF})
		}
	}
	return img
}

func jpegOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gpsMarker is in the EXIF of the test photo; the stored copy must not hold it.
const gpsMarker = "home-of-the-owner"

// withEXIF inserts an APP1 EXIF segment after the SOI marker: a big-endian
// TIFF with an ImageDescription and a GPS IFD (latitude reference N).
func withEXIF(jpg []byte) []byte {
	var tiff bytes.Buffer
	w16 := func(v uint16) { _ = binary.Write(&tiff, binary.BigEndian, v) }
	w32 := func(v uint32) { _ = binary.Write(&tiff, binary.BigEndian, v) }
	desc := []byte(gpsMarker + "\x00") // 18 bytes: offsets stay even
	const ifd0Size = 2 + 12*2 + 4
	descOff := 8 + ifd0Size
	gpsOff := descOff + len(desc)
	tiff.WriteString("MM")
	w16(42)
	w32(8)
	w16(2)
	w16(0x010E) // ImageDescription, ASCII
	w16(2)
	w32(uint32(len(desc)))
	w32(uint32(descOff))
	w16(0x8825) // GPS IFD pointer, LONG
	w16(4)
	w32(1)
	w32(uint32(gpsOff))
	w32(0)
	tiff.Write(desc)
	w16(1)
	w16(0x0001) // GPSLatitudeRef, ASCII "N"
	w16(2)
	w32(2)
	tiff.Write([]byte{'N', 0, 0, 0})
	w32(0)
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func pngChunkOf(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngBombHeader declares a w×h image it does not contain: decoding it would
// allocate the pixels first.
func pngBombHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunkOf("IHDR", ihdr)...)
	return append(out, pngChunkOf("IEND", nil)...)
}

// documentIDs lists the ids of the current documents GET /v1/verification shows.
func (n *kycNode) documentIDs(t *testing.T, session string) []string {
	t.Helper()
	var ids []string
	for _, d := range asList(n.call(t, "GET", "/v1/verification", nil, bearer(session)...).expect(t, 200, "").body["documents"]) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

// --- the flows ---

func TestVerificationFlow(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { verificationFlow(t, startKYCNode(t, dbURL)) })
}

func verificationFlow(t *testing.T, n *kycNode) {
	const email = "ada@example.com"
	platform := newWebhookReceiver(t)
	platform.register(t, n, "verification.approved")

	session := n.signUp(t, email)
	auth := bearer(session)

	// A new account: tier 0, no withdrawals; the next tier wants personal
	// information, and the highest everything.
	ov := n.call(t, "GET", "/v1/verification", nil, auth...).expect(t, 200, "").body
	next, _ := ov["next_tier"].(map[string]any)
	if ov["tier"] != 0.0 || ov["status"] != "not_started" || !slices.Equal(asStrings(ov["requirements"]), []string{"personal_info", "id_document", "selfie"}) ||
		next["level"] != 1.0 || next["per_transaction"] != "1000.00" || ov["personal_info_saved"] != false {
		t.Fatalf("a new account's verification: %v", ov)
	}
	limits := n.call(t, "GET", "/v1/limits", nil, auth...).expect(t, 200, "").body
	if limits["tier"] != 0.0 || limits["currency"] != "USD" || limits["per_transaction"] != "0.00" || limits["available_24h"] != "0.00" ||
		limits["used_24h"] != "0.00" || len(asList(limits["tiers"])) != 3 {
		t.Fatalf("tier 0 limits: %v", limits)
	}

	// Nothing to submit yet.
	inc := n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 409, "verification_incomplete")
	if !slices.Contains(asStrings(inc.body["missing"]), "personal_info") {
		t.Fatalf("incomplete does not say what is missing: %s", inc.raw)
	}

	// Personal information: each bad field is named, and nothing is saved.
	tomorrow := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	bad := n.call(t, "PUT", "/v1/verification/personal-info", map[string]any{
		"legal_name": "R2-D2", "date_of_birth": tomorrow, "country": "XX",
		"address": map[string]string{"line1": "1 Main St", "city": "Berlin"},
	}, auth...).expect(t, 400, "validation_failed")
	for field, code := range map[string]string{"legal_name": "invalid", "date_of_birth": "in_future", "country": "unknown_country"} {
		if got := bad.field(t, field)["code"]; got != code {
			t.Errorf("%s: code %v, want %s", field, got, code)
		}
	}
	if ov := n.call(t, "GET", "/v1/verification", nil, auth...).body; ov["personal_info_saved"] != false || ov["status"] != "not_started" {
		t.Fatalf("a refused form changed the verification: %v", ov)
	}
	n.call(t, "PUT", "/v1/verification/personal-info", map[string]any{"legal_name": "Ada Lovelace", "extra": 1}, auth...).expect(t, 400, "validation_failed")
	info := map[string]any{"legal_name": " Ada  King-Lovelace ", "date_of_birth": "1985-12-10", "country": "gb",
		"address": map[string]string{"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH"}}
	saved := n.call(t, "PUT", "/v1/verification/personal-info", info, auth...).expect(t, 200, "").body
	pi, _ := saved["personal_info"].(map[string]any)
	if saved["personal_info_saved"] != true || saved["status"] != "in_progress" || pi["legal_name"] != "Ada King-Lovelace" || pi["country"] != "GB" {
		t.Fatalf("saved personal info: %v", saved)
	}

	// Documents. A photo with EXIF and GPS: sent with a path for a name it
	// is refused (issue 6, bad input), and nothing is stored; sent with a
	// misleading name and type, the content alone decides.
	passport := withEXIF(jpegOf(t, photo(64, 48)))
	if !bytes.Contains(passport, []byte("Exif")) || !bytes.Contains(passport, []byte(gpsMarker)) {
		t.Fatal("the test photo lacks its EXIF")
	}
	for _, name := range []string{"../../../etc/passwd", `C:\Users\ada\passport.jpg`, "/tmp/passport.jpg"} {
		refused := n.upload(t, "/v1/verification/documents", map[string]string{"kind": "passport"},
			&filePart{name: name, contentType: "image/jpeg", data: passport}, auth...).expect(t, 400, "validation_failed")
		if !bytes.Contains(refused.raw, []byte(`"invalid_name"`)) {
			t.Fatalf("a path for a name (%q): %s", name, refused.raw)
		}
	}
	if ids := n.documentIDs(t, session); len(ids) != 0 {
		t.Fatalf("a refused upload was stored: %v", ids)
	}
	doc := n.upload(t, "/v1/verification/documents", map[string]string{"kind": "passport"},
		&filePart{name: "passwd", contentType: "application/x-sh", data: passport}, auth...).expect(t, 201, "")
	if doc.body["kind"] != "passport" || doc.body["side"] != "front" || doc.body["media_type"] != "image/jpeg" ||
		doc.body["size"] == 0.0 || len(doc.body["sha256"].(string)) != 64 || bytes.Contains(doc.raw, []byte("passwd")) {
		t.Fatalf("document answer: %s", doc.raw)
	}
	passportID := doc.body["id"].(string)
	before := n.documentIDs(t, session)
	if !slices.Equal(before, []string{passportID}) {
		t.Fatalf("documents %v, want the passport", before)
	}

	// Refusals: each answers its problem and stores nothing.
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 200)...)
	full := jpegOf(t, photo(64, 48))
	for _, tc := range []struct {
		name   string
		path   string
		fields map[string]string
		file   *filePart
		status int
		code   string
	}{
		{"renamed executable", "/v1/verification/documents", map[string]string{"kind": "id_card", "side": "front"}, &filePart{"photo.jpg", "image/jpeg", elf}, 415, "unsupported_file"},
		{"truncated jpeg", "/v1/verification/documents", map[string]string{"kind": "id_card", "side": "back"}, &filePart{"id.jpg", "image/jpeg", full[:len(full)/2]}, 415, "unsupported_file"},
		{"pdf with javascript", "/v1/verification/documents", map[string]string{"kind": "drivers_license", "side": "front"}, &filePart{"scan.pdf", "application/pdf", documenttest.PDF(true)}, 415, "unsupported_file"},
		{"decompression bomb", "/v1/verification/selfie", nil, &filePart{"me.png", "image/png", pngBombHeader(10000, 10000)}, 415, "unsupported_file"},
		{"pdf as selfie", "/v1/verification/selfie", nil, &filePart{"me.png", "image/png", documenttest.PDF(true)}, 415, "unsupported_file"},
		{"unknown kind", "/v1/verification/documents", map[string]string{"kind": "library_card"}, &filePart{"a.jpg", "image/jpeg", full}, 400, "validation_failed"},
		{"selfie as a document", "/v1/verification/documents", map[string]string{"kind": "selfie"}, &filePart{"a.jpg", "image/jpeg", full}, 400, "validation_failed"},
		{"id card without side", "/v1/verification/documents", map[string]string{"kind": "id_card"}, &filePart{"a.jpg", "image/jpeg", full}, 400, "validation_failed"},
		{"passport back", "/v1/verification/documents", map[string]string{"kind": "passport", "side": "back"}, &filePart{"a.jpg", "image/jpeg", full}, 400, "validation_failed"},
		{"no file", "/v1/verification/selfie", nil, nil, 400, "validation_failed"},
		{"unknown field", "/v1/verification/selfie", map[string]string{"admin": "1"}, &filePart{"a.jpg", "image/jpeg", full}, 400, "validation_failed"},
	} {
		r := n.upload(t, tc.path, tc.fields, tc.file, auth...).expect(t, tc.status, tc.code)
		if tc.code == "unsupported_file" && (r.body["detail"] == "" || r.body["reason"] == nil) {
			t.Errorf("%s: the refusal gives no reason: %s", tc.name, r.raw)
		}
		if got := n.documentIDs(t, session); !slices.Equal(got, before) {
			t.Fatalf("%s: documents %v after a refusal, want %v", tc.name, got, before)
		}
	}
	// Two files in one request.
	{
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for range 2 {
			w, _ := mw.CreateFormFile("file", "a.jpg")
			w.Write(full)
		}
		mw.Close()
		req, _ := http.NewRequest("POST", n.Base+"/v1/verification/selfie", &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		n.send(t, req, auth...).expect(t, 400, "validation_failed")
	}
	// Not multipart at all.
	n.call(t, "POST", "/v1/verification/selfie", map[string]string{"file": "x"}, auth...).expect(t, 415, "unsupported_media_type")
	// 20 MB, with its length announced, and streamed without one.
	huge := bytes.Repeat([]byte{0xFF}, 20<<20)
	n.upload(t, "/v1/verification/selfie", nil, &filePart{"big.jpg", "image/jpeg", huge}, auth...).expect(t, 413, "payload_too_large")
	{
		body, ct := multipartBody(t, nil, &filePart{"big.jpg", "image/jpeg", huge})
		req, _ := http.NewRequest("POST", n.Base+"/v1/verification/selfie", io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Content-Type", ct)
		if req.ContentLength != 0 {
			t.Fatal("the streamed upload has a length")
		}
		n.send(t, req, auth...).expect(t, 413, "payload_too_large")
	}
	if got := n.documentIDs(t, session); !slices.Equal(got, before) {
		t.Fatalf("documents %v after the large uploads, want %v", got, before)
	}

	// A selfie, as a PNG with a made-up name.
	selfie := n.upload(t, "/v1/verification/selfie", nil, &filePart{"selfie.exe", "application/octet-stream", pngOf(t, photo(40, 40))}, auth...).expect(t, 201, "")
	if selfie.body["kind"] != "selfie" || selfie.body["media_type"] != "image/png" {
		t.Fatalf("selfie answer: %s", selfie.raw)
	}

	// Submit: information, passport and selfie reach tier 2, which a person reviews.
	sub := n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 200, "").body
	if sub["status"] != "pending_review" || sub["submitted_at"] == nil {
		t.Fatalf("submitted: %v", sub)
	}
	n.Email(t, email, "We received your verification")
	n.upload(t, "/v1/verification/selfie", nil, &filePart{"a.jpg", "image/jpeg", full}, auth...).expect(t, 409, "verification_locked")
	n.call(t, "PUT", "/v1/verification/personal-info", info, auth...).expect(t, 409, "verification_locked")
	n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 409, "verification_locked")

	// The review queue, for a key with the scope only.
	plain := adminKeyWith(t, n.store, "audit:read")
	for _, path := range []string{"/admin/v1/verifications", "/admin/v1/verifications/x", "/admin/v1/verifications/x/documents/y"} {
		p := n.call(t, "GET", path, nil, bearer(plain)...).expect(t, 403, "insufficient_scope")
		if p.body["required_scope"] != "verifications:review" {
			t.Fatalf("%s: %s", path, p.raw)
		}
	}
	n.call(t, "POST", "/admin/v1/verifications/x/approve", nil, bearer(plain)...).expect(t, 403, "insufficient_scope")
	n.call(t, "GET", "/admin/v1/verifications", nil).expect(t, 401, "unauthenticated")

	queue := asList(n.admin(t, "GET", "/admin/v1/verifications", nil).expect(t, 200, "").body["verifications"])
	if len(queue) != 1 {
		t.Fatalf("queue: %v", queue)
	}
	item := queue[0].(map[string]any)
	vid := item["id"].(string)
	if item["status"] != "pending_review" || item["purpose"] != "tier" || item["target_tier"] != 2.0 || item["user_id"] == "" {
		t.Fatalf("queue item: %v", item)
	}
	n.admin(t, "GET", "/admin/v1/verifications?status=bogus", nil).expect(t, 400, "validation_failed")
	if l := asList(n.admin(t, "GET", "/admin/v1/verifications?status=approved", nil).body["verifications"]); len(l) != 0 {
		t.Fatalf("approved before any approval: %v", l)
	}

	review := n.admin(t, "GET", "/admin/v1/verifications/"+vid, nil).expect(t, 200, "").body
	user, _ := review["user"].(map[string]any)
	rpi, _ := review["personal_info"].(map[string]any)
	docs := asList(review["documents"])
	if user["email"] != email || user["tier"] != 0.0 || rpi["legal_name"] != "Ada King-Lovelace" || len(docs) != 2 {
		t.Fatalf("review: %v", review)
	}
	n.admin(t, "GET", "/admin/v1/verifications/ver_nothing", nil).expect(t, 404, "not_found")

	// Opening the passport: the cleaned bytes, no EXIF, the view audited.
	var passportDoc map[string]any
	for _, d := range docs {
		if d.(map[string]any)["id"] == passportID {
			passportDoc = d.(map[string]any)
		}
	}
	if passportDoc == nil || passportDoc["content_url"] != "/admin/v1/verifications/"+vid+"/documents/"+passportID {
		t.Fatalf("passport in the review: %v", docs)
	}
	got := n.admin(t, "GET", passportDoc["content_url"].(string), nil).expect(t, 200, "")
	sum := sha256.Sum256(got.raw)
	for h, want := range map[string]string{
		"Content-Type": "image/jpeg", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
	} {
		if got.header.Get(h) != want {
			t.Errorf("%s: %q, want %q", h, got.header.Get(h), want)
		}
	}
	if !strings.HasPrefix(got.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("Content-Disposition %q", got.header.Get("Content-Disposition"))
	}
	if bytes.Contains(got.raw, []byte("Exif")) || bytes.Contains(got.raw, []byte(gpsMarker)) ||
		hex.EncodeToString(sum[:]) != passportDoc["sha256"] || !bytes.HasPrefix(got.raw, []byte{0xFF, 0xD8}) {
		t.Fatalf("downloaded passport: %d bytes, EXIF %v, sha256 %x (document says %v)", len(got.raw), bytes.Contains(got.raw, []byte("Exif")), sum, passportDoc["sha256"])
	}
	if _, err := jpeg.Decode(bytes.NewReader(got.raw)); err != nil {
		t.Fatalf("the stored passport is not a JPEG: %v", err)
	}
	n.admin(t, "GET", "/admin/v1/verifications/"+vid+"/documents/doc_nothing", nil).expect(t, 404, "not_found")
	viewed := asList(n.admin(t, "GET", "/admin/v1/audit?type=verification.document_viewed", nil).expect(t, 200, "").body["records"])
	if len(viewed) != 1 {
		t.Fatalf("document views audited: %v", viewed)
	}
	rec := viewed[0].(map[string]any)
	data, _ := rec["data"].(map[string]any)
	if rec["actor"] != "admin_key:key_bootstrap" || data["document_id"] != passportID || rec["user_id"] != item["user_id"] {
		t.Fatalf("audit of the view: %v", rec)
	}

	// Approve: tier 2 everywhere, a webhook and an email.
	n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "") // the session is cached with tier 0
	appr := n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/approve", map[string]string{"note": "photo matches"}).expect(t, 200, "").body
	if appr["status"] != "approved" || appr["reviewer"] != "admin_key:key_bootstrap" || appr["decided_at"] == nil {
		t.Fatalf("approved: %v", appr)
	}
	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/approve", nil).expect(t, 409, "verification_decided")
	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/reject", map[string]any{"reason": "late"}).expect(t, 409, "verification_decided")
	ov = n.call(t, "GET", "/v1/verification", nil, auth...).expect(t, 200, "").body
	if ov["tier"] != 2.0 || ov["next_tier"] != nil || len(asList(ov["requirements"])) != 0 || ov["reason"] != "" {
		t.Fatalf("after approval: %v", ov)
	}
	who := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "").body
	if who["user"].(map[string]any)["verification_tier"] != 2.0 {
		t.Fatalf("session after approval: %v", who)
	}
	// The device the user logged in with passed every check: it is trusted.
	if dev := who["device"].(map[string]any); dev["id"] == "" || dev["trusted"] != true {
		t.Fatalf("session's device: %v", dev)
	}
	limits = n.call(t, "GET", "/v1/limits", nil, auth...).expect(t, 200, "").body
	if limits["tier"] != 2.0 || limits["per_transaction"] != "50000.00" || limits["rolling_24h"] != "100000.00" ||
		limits["used_24h"] != "0.00" || limits["available_24h"] != "100000.00" {
		t.Fatalf("tier 2 limits: %v", limits)
	}
	body := platform.next(t, "verification.approved")
	if d, _ := body["data"].(map[string]any); d["user_id"] != item["user_id"] || d["tier"] != 2.0 {
		t.Fatalf("webhook: %v", body)
	}
	if text := n.Email(t, email, "Your identity is verified"); !strings.Contains(text, "tier 2") {
		t.Fatalf("approval email: %s", text)
	}
	if l := asList(n.admin(t, "GET", "/admin/v1/verifications", nil).body["verifications"]); len(l) != 0 {
		t.Fatalf("the queue still holds the approved verification: %v", l)
	}
}

// provider posts body to the provider-result endpoint as the provider name
// would, signed with secret at ts.
func (n *kycNode) provider(t *testing.T, vid string, body []byte, ts time.Time, secret []byte, name string) kycResp {
	t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req, _ := http.NewRequest("POST", n.Base+"/admin/v1/verifications/"+vid+"/provider-result", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return n.send(t, req, "X-Warden-Provider", name, "X-Warden-Timestamp", stamp,
		"X-Warden-Signature", verification.Sign(secret, stamp, body))
}

// readyForReview gives a signed-up user personal information, a passport
// and a selfie, and submits; it returns the verification's id.
func (n *kycNode) readyForReview(t *testing.T, session string) string {
	t.Helper()
	auth := bearer(session)
	n.call(t, "PUT", "/v1/verification/personal-info", map[string]any{"legal_name": "Grace Hopper", "date_of_birth": "1976-12-09",
		"country": "US", "address": map[string]string{"line1": "1 Navy Way", "city": "Arlington"}}, auth...).expect(t, 200, "")
	n.upload(t, "/v1/verification/documents", map[string]string{"kind": "passport", "side": "front"}, &filePart{"p.jpg", "image/jpeg", jpegOf(t, photo(32, 32))}, auth...).expect(t, 201, "")
	n.upload(t, "/v1/verification/selfie", nil, &filePart{"s.png", "image/png", pngOf(t, photo(24, 24))}, auth...).expect(t, 201, "")
	n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 200, "")
	return n.currentID(t)
}

// currentID is the id of the oldest verification pending review.
func (n *kycNode) currentID(t *testing.T) string {
	t.Helper()
	queue := asList(n.admin(t, "GET", "/admin/v1/verifications", nil).expect(t, 200, "").body["verifications"])
	if len(queue) == 0 {
		t.Fatal("nothing pending review")
	}
	return queue[0].(map[string]any)["id"].(string)
}

func TestVerificationResubmissionAndProviderResults(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := startKYCNode(t, dbURL)
	const email = "grace@example.com"
	session := n.signUp(t, email)
	auth := bearer(session)
	vid := n.readyForReview(t, session)

	// A rejection needs a reason; resubmit names known items only.
	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/reject", map[string]any{"resubmit": []string{"selfie"}}).expect(t, 400, "validation_failed")
	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/reject", map[string]any{"reason": "x", "resubmit": []string{"tattoo"}}).expect(t, 400, "validation_failed")
	n.admin(t, "POST", "/admin/v1/verifications/ver_nothing/reject", map[string]any{"reason": "x"}).expect(t, 404, "not_found")

	// Asking for a new selfie: it leaves the current documents, and a new one continues.
	r := n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/reject", map[string]any{"reason": "The selfie is blurred.", "resubmit": []string{"selfie"}}).expect(t, 200, "").body
	if r["status"] != "resubmission_requested" || !slices.Equal(asStrings(r["resubmit"]), []string{"selfie"}) {
		t.Fatalf("resubmission: %v", r)
	}
	ov := n.call(t, "GET", "/v1/verification", nil, auth...).expect(t, 200, "").body
	if ov["status"] != "resubmission_requested" || !slices.Equal(asStrings(ov["resubmit"]), []string{"selfie"}) || ov["reason"] != "The selfie is blurred." {
		t.Fatalf("user's view of the resubmission: %v", ov)
	}
	for _, d := range asList(ov["documents"]) {
		if d.(map[string]any)["kind"] == "selfie" {
			t.Fatalf("the selfie asked again is still current: %v", ov["documents"])
		}
	}
	if len(asList(ov["documents"])) != 1 {
		t.Fatalf("documents after the resubmission request: %v", ov["documents"])
	}
	n.Email(t, email, "Your verification needs another look")
	n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 409, "verification_incomplete")
	n.upload(t, "/v1/verification/selfie", nil, &filePart{"s2.jpg", "image/jpeg", jpegOf(t, photo(30, 30))}, auth...).expect(t, 201, "")
	ov = n.call(t, "GET", "/v1/verification", nil, auth...).body
	if ov["status"] != "in_progress" || len(asList(ov["resubmit"])) != 0 || len(asList(ov["documents"])) != 2 {
		t.Fatalf("after the new selfie: %v", ov)
	}
	n.call(t, "POST", "/v1/verification/submit", nil, auth...).expect(t, 200, "")

	// The provider's results: signed, fresh, taken once.
	status := func() string {
		return n.admin(t, "GET", "/admin/v1/verifications/"+vid, nil).body["verification"].(map[string]any)["status"].(string)
	}
	msg := []byte(`{"id":"msg-1","verification_id":"` + vid + `","reference":"acme-42","status":"approved"}`)
	now := time.Now()
	n.provider(t, vid, msg, now, bytes.Repeat([]byte{8}, 32), "acme").expect(t, 401, "invalid_signature")
	n.provider(t, vid, msg, now, providerSecret, "other").expect(t, 401, "invalid_signature")
	n.provider(t, vid, msg, now, providerSecret, "").expect(t, 401, "invalid_signature")
	{ // a body changed after signing
		stamp := strconv.FormatInt(now.Unix(), 10)
		req, _ := http.NewRequest("POST", n.Base+"/admin/v1/verifications/"+vid+"/provider-result", bytes.NewReader([]byte(`{"id":"msg-1","verification_id":"`+vid+`","status":"rejected","reason":"x"}`)))
		n.send(t, req, "X-Warden-Provider", "acme", "X-Warden-Timestamp", stamp, "X-Warden-Signature", verification.Sign(providerSecret, stamp, msg)).
			expect(t, 401, "invalid_signature")
	}
	n.provider(t, vid, msg, now.Add(-10*time.Minute), providerSecret, "acme").expect(t, 401, "stale_signature")
	n.provider(t, vid, []byte(`{"id":"msg-0","verification_id":"`+vid+`","status":"maybe"}`), now, providerSecret, "acme").expect(t, 400, "validation_failed")
	n.provider(t, vid, []byte(`{"id":"msg-9","verification_id":"ver_other","status":"approved"}`), now, providerSecret, "acme").expect(t, 400, "validation_failed")
	if s := status(); s != "pending_review" {
		t.Fatalf("refused provider results changed the verification: %s", s)
	}
	ok := n.provider(t, vid, msg, now, providerSecret, "acme").expect(t, 200, "").body
	if ok["status"] != "approved" || ok["reviewer"] != "provider:acme" || ok["provider_ref"] != "acme-42" {
		t.Fatalf("provider approval: %v", ok)
	}
	n.provider(t, vid, msg, now, providerSecret, "acme").expect(t, 409, "replayed")
	n.provider(t, vid, []byte(`{"id":"msg-2","verification_id":"`+vid+`","status":"rejected"}`), now, providerSecret, "acme").expect(t, 409, "verification_decided")
	if ov := n.call(t, "GET", "/v1/verification", nil, auth...).body; ov["tier"] != 2.0 {
		t.Fatalf("provider approval did not reach the tier: %v", ov)
	}
}

func TestMFAReset(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { mfaResetFlow(t, startKYCNode(t, dbURL)) })
}

// resetFor enrols an authenticator app for a new account, logs in again to
// reach the second-factor challenge, and asks for a reset from it.
func (n *kycNode) resetFor(t *testing.T, email string) (session, token string) {
	t.Helper()
	session = n.signUp(t, email)
	n.enrolTOTP(t, session)
	ch := n.login(t, email).expect(t, 202, "")
	r := n.call(t, "POST", "/v1/mfa-resets", map[string]string{"challenge_id": ch.body["challenge_id"].(string)}).expect(t, 201, "")
	if r.body["reset_token"] == "" || r.body["id"] == "" || !slices.Equal(asStrings(r.body["requires"]), []string{"id_document", "selfie"}) {
		t.Fatalf("reset requested: %s", r.raw)
	}
	n.Email(t, email, "Someone asked to remove two-factor authentication")
	return session, r.body["reset_token"].(string)
}

func mfaResetFlow(t *testing.T, n *kycNode) {
	// Only an open login challenge opens a reset, and only for an account with a factor.
	n.call(t, "POST", "/v1/mfa-resets", map[string]string{"challenge_id": "wch_nothing"}).expect(t, 410, "challenge_expired")
	n.call(t, "POST", "/v1/mfa-resets", map[string]string{}).expect(t, 400, "validation_failed")
	n.signUp(t, "nomfa@example.com")
	newDevice := n.call(t, "POST", "/v1/sessions", map[string]string{"email": "nomfa@example.com", "password": kycPassword}).expect(t, 202, "")
	n.call(t, "POST", "/v1/mfa-resets", map[string]string{"challenge_id": newDevice.body["challenge_id"].(string)}).expect(t, 409, "mfa_not_enabled")

	const email = "carol@example.com"
	session, token := n.resetFor(t, email)
	tok := []string{"X-Warden-Reset-Token", token}

	cur := n.call(t, "GET", "/v1/mfa-resets/current?reset_token="+url.QueryEscape(token), nil).expect(t, 200, "").body
	if cur["status"] != "not_started" || !slices.Equal(asStrings(cur["missing"]), []string{"id_document", "selfie"}) {
		t.Fatalf("reset before the selfie: %v", cur)
	}
	n.call(t, "GET", "/v1/mfa-resets/current", nil).expect(t, 400, "invalid_token")
	n.call(t, "GET", "/v1/mfa-resets/current", nil, "X-Warden-Reset-Token", "nope").expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/mfa-resets/submit", map[string]string{"reset_token": token}).expect(t, 409, "verification_incomplete")

	selfie := &filePart{"me.jpg", "image/jpeg", jpegOf(t, photo(32, 32))}
	n.upload(t, "/v1/mfa-resets/selfie", nil, selfie, "X-Warden-Reset-Token", "wrong").expect(t, 400, "invalid_token")
	n.upload(t, "/v1/mfa-resets/selfie", map[string]string{"reset_token": "wrong"}, selfie).expect(t, 400, "invalid_token")
	n.upload(t, "/v1/mfa-resets/selfie", nil, &filePart{"me.jpg", "image/jpeg", []byte("MZ\x90\x00 not a photo")}, tok...).expect(t, 415, "unsupported_file")
	n.upload(t, "/v1/mfa-resets/selfie", map[string]string{"reset_token": token}, selfie).expect(t, 201, "")
	n.call(t, "POST", "/v1/mfa-resets/submit", nil, tok...).expect(t, 409, "verification_incomplete") // the ID too, always
	n.upload(t, "/v1/mfa-resets/documents", map[string]string{"kind": "passport"}, &filePart{"p.jpg", "image/jpeg", jpegOf(t, photo(40, 30))}, tok...).expect(t, 201, "")
	if cur := n.call(t, "GET", "/v1/mfa-resets/current", nil, tok...).body; cur["status"] != "in_progress" || len(asList(cur["missing"])) != 0 || len(asList(cur["documents"])) != 2 {
		t.Fatalf("reset with its selfie: %v", cur)
	}
	// The reset is not the tier verification.
	if ov := n.call(t, "GET", "/v1/verification", nil, bearer(session)...).body; len(asList(ov["documents"])) != 0 || ov["mfa_reset"] == nil {
		t.Fatalf("the reset's selfie leaked into the tier verification, or the reset is not shown: %v", ov)
	}
	sub := n.call(t, "POST", "/v1/mfa-resets/submit", nil, tok...).expect(t, 200, "").body
	if sub["status"] != "pending_review" {
		t.Fatalf("reset submitted: %v", sub)
	}
	n.upload(t, "/v1/mfa-resets/selfie", nil, selfie, tok...).expect(t, 409, "verification_locked")

	rid := n.currentID(t)
	review := n.admin(t, "GET", "/admin/v1/verifications/"+rid, nil).expect(t, 200, "").body
	if review["verification"].(map[string]any)["purpose"] != "mfa_reset" || review["user"].(map[string]any)["mfa_enabled"] != true || len(asList(review["documents"])) != 2 {
		t.Fatalf("reset review: %v", review)
	}
	appr := n.admin(t, "POST", "/admin/v1/verifications/"+rid+"/approve", nil).expect(t, 200, "").body
	if appr["status"] != "approved" || appr["effective_at"] == nil {
		t.Fatalf("reset approved: %v", appr)
	}
	n.Email(t, email, "Your two-factor reset was approved")

	// After the waiting period the server's duties remove the factor and end every session.
	deadline := time.Now().Add(20 * time.Second)
	for n.call(t, "GET", "/v1/session", nil, bearer(session)...).status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the reset did not take effect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Email(t, email, "Two-factor authentication was removed")
	fresh := n.login(t, email).expect(t, 201, "")
	who := n.call(t, "GET", "/v1/session", nil, bearer(fresh.body["session_token"].(string))...).expect(t, 200, "").body
	if who["user"].(map[string]any)["mfa_enabled"] != false {
		t.Fatalf("2FA still on after the reset: %v", who)
	}
	n.call(t, "GET", "/v1/mfa-resets/current", nil, tok...).expect(t, 400, "invalid_token")

	// The owner, who still has the factor, cancels an approved reset: it never takes effect.
	const owner = "dave@example.com"
	daveSession, daveToken := n.resetFor(t, owner)
	n.call(t, "DELETE", "/v1/mfa-reset", nil).expect(t, 401, "unauthenticated")
	n.upload(t, "/v1/mfa-resets/selfie", nil, selfie, "X-Warden-Reset-Token", daveToken).expect(t, 201, "")
	n.upload(t, "/v1/mfa-resets/documents", map[string]string{"kind": "passport"}, &filePart{"p.jpg", "image/jpeg", jpegOf(t, photo(40, 30))},
		"X-Warden-Reset-Token", daveToken).expect(t, 201, "")
	n.call(t, "POST", "/v1/mfa-resets/submit", map[string]string{"reset_token": daveToken}).expect(t, 200, "")
	did := n.currentID(t)
	n.admin(t, "POST", "/admin/v1/verifications/"+did+"/approve", nil).expect(t, 200, "")
	n.call(t, "DELETE", "/v1/mfa-reset", nil, bearer(daveSession)...).expect(t, 204, "")
	n.call(t, "DELETE", "/v1/mfa-reset", nil, bearer(daveSession)...).expect(t, 404, "not_found")
	n.Email(t, owner, "The two-factor reset was cancelled")
	time.Sleep(3 * time.Second) // past WARDEN_MFA_RESET_WAIT, with the duties running every 100 ms
	who = n.call(t, "GET", "/v1/session", nil, bearer(daveSession)...).expect(t, 200, "").body
	if who["user"].(map[string]any)["mfa_enabled"] != true {
		t.Fatalf("a cancelled reset removed 2FA: %v", who)
	}
	n.login(t, owner).expect(t, 202, "")
	n.call(t, "GET", "/v1/mfa-resets/current", nil, "X-Warden-Reset-Token", daveToken).expect(t, 400, "invalid_token")
}
