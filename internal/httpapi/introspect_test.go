package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// The fast path of the introspection body must accept only bodies that
// encoding/json (through decodeJSONBytes) decodes without error into the
// same token.
func FuzzCanonicalTokenBody(f *testing.F) {
	tok := "wss_" + strings.Repeat("a", 52)
	for _, s := range []string{
		`{"token":"` + tok + `"}`,
		` { "token" : "` + tok + `" } ` + "\n",
		"{\t\"token\":\r\n\"" + tok + "\"}",
		`{"token":""}`,
		`{"token":"a<b>&c"}`,
		`{"token":"\u0077ss_x"}`,
		`{"token":"x","token":"y"}`,
		`{"TOKEN":"x"}`,
		`{"token":"x"}{}`,
		`{"token":"x"`,
		`{"token":"x",}`,
		`{"token":"é"}`,
		`{"token":"x\ty"}`,
		`{"token":"x"} x`,
		`{"tokens":"x"}`,
		`{"token":1}`,
		`[{"token":"x"}]`,
		`{"token":"x\u007f"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := canonicalTokenBody(body)
		if !ok {
			return
		}
		var req introspectRequest
		if p := decodeJSONBytes(body, &req); p != nil {
			t.Fatalf("fast path accepted %q, decodeJSONBytes refused it: %v", body, p)
		}
		if req.Token != string(fast) {
			t.Fatalf("fast path read %q from %q, encoding/json %q", fast, body, req.Token)
		}
	})
}

func TestCanonicalTokenBodyTakesTheUsualForms(t *testing.T) {
	t.Parallel()
	tok := "wss_" + strings.Repeat("b", 52)
	for _, body := range []string{
		`{"token":"` + tok + `"}`,              // JSON.stringify, Go
		`{"token": "` + tok + `"}`,             // Python's json.dumps
		"{\n  \"token\": \"" + tok + "\"\n}\n", // pretty-printed
	} {
		got, ok := canonicalTokenBody([]byte(body))
		if !ok || string(got) != tok {
			t.Errorf("%q: fast path %v %q", body, ok, got)
		}
	}
}

// appendIntrospection must write what writeJSON wrote: json.Marshal's bytes and a newline.
func TestAppendIntrospectionIsJSONMarshal(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 11, 24, 18, 30, 0, 0, time.UTC)
	for _, v := range []introspection{
		{Active: false, Restrictions: []string{}},
		{Active: false},
		{Active: true, UserID: "usr_abc", SessionID: "ses_def", AAL: "aal1", Restrictions: []string{}},
		{Active: true, UserID: "usr_abc", SessionID: "ses_def", AAL: "aal2", DeviceID: "dev_x", Frozen: true,
			Restrictions: []string{"withdrawals", `odd "one" <b>&`, "é\u2028\x01"}},
		{Active: true, UserID: "a\"b\\c\n", SessionID: "<script>", AAL: "\xff", Restrictions: []string{}},
	} {
		for _, at := range []time.Time{{}, expires, expires.In(time.FixedZone("x", 3600))} {
			want := v
			if !at.IsZero() {
				want.ExpiresAt = at.Format(time.RFC3339)
			}
			wantJSON, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got := appendIntrospection(nil, &v, at)
			if string(got) != string(wantJSON)+"\n" {
				t.Errorf("appendIntrospection(%+v, %v)\n got %s\nwant %s", v, at, got, wantJSON)
			}
		}
	}
}

// introspectAPI is an API on a SQLite store with one live session, one stored
// admin key with the sessions:introspect scope and one with another scope.
type introspectAPI struct {
	api                       *API
	srv                       *httptest.Server
	token, introKey, otherKey string
	sessionID, accountID      string
}

func newIntrospectAPI(t *testing.T) *introspectAPI {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	policy := session.Policy{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour}
	f := &introspectAPI{}
	introPlain, introKey, _ := adminkey.New("intro", []string{"sessions:introspect"}, now)
	otherPlain, otherKey, _ := adminkey.New("other", []string{"users:read"}, now)
	f.introKey, f.otherKey = introPlain, otherPlain
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAdminKey(ctx, introKey, adminkey.Hash(introPlain)); err != nil {
			return err
		}
		if err := tx.InsertAdminKey(ctx, otherKey, adminkey.Hash(otherPlain)); err != nil {
			return err
		}
		a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: "a@example.com", EmailKey: "a@example.com",
			EmailVerifiedAt: now, PasswordHash: "x", CreatedAt: now}
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		token, s := session.New(a, session.AAL1, "dev_1", "192.0.2.1", "test", now, policy)
		f.token, f.sessionID, f.accountID = token, s.ID, a.ID
		return tx.InsertSession(ctx, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	f.api = New(Deps{Store: st, BootstrapAdminKey: "bootstrap-key-for-tests-0123456789abcdef",
		Sessions: &session.Service{Lookup: st, Policy: policy, Now: time.Now, Cache: session.NewCache(time.Minute, 100)}})
	f.srv = httptest.NewServer(f.api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *introspectAPI) post(t *testing.T, key, contentType string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/admin/v1/sessions/introspect", body)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every way of sending the body — fast path or not — gets the same answer.
func TestIntrospectBodiesFastAndSlow(t *testing.T) {
	t.Parallel()
	f := newIntrospectAPI(t)
	s, _, _ := f.api.Sessions.Resolve(context.Background(), f.token)
	want, _ := json.Marshal(introspection{Active: true, UserID: f.accountID, SessionID: f.sessionID, AAL: "aal1",
		DeviceID: "dev_1", Restrictions: []string{}, ExpiresAt: s.IdleExpiry(f.api.Sessions.Policy).Format(time.RFC3339)})
	escaped := `{"token":"\u0077` + f.token[1:] + `"}`
	long := `{"token":"` + f.token + `"}` + strings.Repeat(" ", 300)
	for _, tc := range []struct {
		name, contentType string
		body              io.Reader
		status            int
		want              string // the whole answer, or a substring of a problem
	}{
		{"canonical", "application/json", strings.NewReader(`{"token":"` + f.token + `"}`), 200, string(want) + "\n"},
		{"spaces", "application/json", strings.NewReader(`{ "token": "` + f.token + `" }`), 200, string(want) + "\n"},
		{"charset", "application/json; charset=utf-8", strings.NewReader(`{"token":"` + f.token + `"}`), 200, string(want) + "\n"},
		{"chunked", "application/json", io.MultiReader(strings.NewReader(`{"token":"` + f.token + `"}`)), 200, string(want) + "\n"},
		{"escaped", "application/json", strings.NewReader(escaped), 200, string(want) + "\n"},
		{"upper-case member", "application/json", strings.NewReader(`{"TOKEN":"` + f.token + `"}`), 200, string(want) + "\n"},
		{"longer than the fast buffer", "application/json", strings.NewReader(long), 200, string(want) + "\n"},
		{"unknown token", "application/json", strings.NewReader(`{"token":"wss_` + strings.Repeat("c", 52) + `"}`), 200,
			`{"active":false,"frozen":false,"restrictions":[]}` + "\n"},
		{"unknown member", "application/json", strings.NewReader(`{"token":"` + f.token + `","x":1}`), 400, `"unknown_field"`},
		{"empty token", "application/json", strings.NewReader(`{"token":""}`), 400, `"validation_failed"`},
		{"no body", "application/json", strings.NewReader(""), 400, `"invalid_json"`},
		{"two values", "application/json", strings.NewReader(`{"token":"x"}{}`), 400, `"invalid_json"`},
		{"not JSON", "text/plain", strings.NewReader(`{"token":"` + f.token + `"}`), 415, `"unsupported_media_type"`},
		{"invalid UTF-8", "application/json", bytes.NewReader([]byte("{\"token\":\"\xff\"}")), 400, `"invalid_json"`},
	} {
		status, body := f.post(t, f.introKey, tc.contentType, tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, body)
			continue
		}
		if (status == 200 && body != tc.want) || (status != 200 && !strings.Contains(body, tc.want)) {
			t.Errorf("%s: answer %s, want %s", tc.name, body, tc.want)
		}
	}
}

func TestAdminKeysAreCachedOnlyWhenKnown(t *testing.T) {
	t.Parallel()
	f := newIntrospectAPI(t)
	body := func() io.Reader { return strings.NewReader(`{"token":"` + f.token + `"}`) }
	cached := func() int {
		if m := f.api.adminKeys.entries.Load(); m != nil {
			return len(*m)
		}
		return 0
	}
	if status, b := f.post(t, f.introKey, "application/json", body()); status != 200 {
		t.Fatalf("stored key: %d %s", status, b)
	}
	if status, b := f.post(t, f.introKey, "application/json", body()); status != 200 || cached() != 1 {
		t.Fatalf("stored key again: %d %s, %d cached", status, b, cached())
	}
	// A key of the right shape that does not exist: refused, and not remembered.
	for range 5 {
		if status, _ := f.post(t, adminkey.Prefix+strings.Repeat("z", 52), "application/json", body()); status != 401 {
			t.Fatalf("unknown key: %d", status)
		}
	}
	if cached() != 1 {
		t.Fatalf("%d keys cached after unknown ones, want 1", cached())
	}
	// A cached key still has only its own scopes.
	if status, b := f.post(t, f.otherKey, "application/json", body()); status != 403 || !strings.Contains(b, "insufficient_scope") {
		t.Fatalf("key without the scope: %d %s", status, b)
	}
	if status, b := f.post(t, f.otherKey, "application/json", body()); status != 403 || cached() != 2 {
		t.Fatalf("key without the scope, cached: %d %s, %d cached", status, b, cached())
	}
	if status, _ := f.post(t, f.api.BootstrapAdminKey, "application/json", body()); status != 200 {
		t.Fatalf("bootstrap key: %d", status)
	}
	if status, _ := f.post(t, f.api.BootstrapAdminKey+"x", "application/json", body()); status != 401 {
		t.Fatalf("bootstrap key with a character more: %d", status)
	}
	f.api.forgetAdminKeys()
	if cached() != 0 {
		t.Fatalf("%d keys cached after forgetAdminKeys", cached())
	}
}

func TestAdminKeyCacheExpiresAndIsBounded(t *testing.T) {
	t.Parallel()
	var c adminKeyCache
	t0 := time.Now()
	d := sha256Of("wdn_one")
	c.put(&d, adminkey.Key{ID: "key_one"}, t0)
	if k, ok := c.get(&d, t0.Add(adminKeyCacheTTL-time.Millisecond)); !ok || k.ID != "key_one" {
		t.Fatalf("fresh entry: %v %v", k, ok)
	}
	if _, ok := c.get(&d, t0.Add(adminKeyCacheTTL)); ok {
		t.Fatal("an entry as old as the TTL was served")
	}
	for i := range adminKeyCacheMax + 50 {
		d := sha256Of(fmt.Sprint("wdn_", i))
		c.put(&d, adminkey.Key{ID: fmt.Sprint(i)}, t0)
	}
	if n := len(*c.entries.Load()); n > adminKeyCacheMax {
		t.Fatalf("%d entries, bound %d", n, adminKeyCacheMax)
	}
	// Expired entries go first when the cache is written.
	d2 := sha256Of("wdn_late")
	c.put(&d2, adminkey.Key{ID: "late"}, t0.Add(adminKeyCacheTTL))
	if n := len(*c.entries.Load()); n != 1 {
		t.Fatalf("%d entries after every other expired, want 1", n)
	}
}
