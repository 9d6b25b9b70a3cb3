package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// introspectFixture is Warden's whole HTTP handler (middleware, access log,
// metrics, admin authentication, session cache) on a seeded SQLite store.
type introspectFixture struct {
	handler  http.Handler
	adminKey string
	bodies   []string
}

func newIntrospectFixture(b *testing.B, sessions int, log slog.Handler) *introspectFixture {
	b.Helper()
	ctx := context.Background()
	secret := make([]byte, keyring.KeySize)
	_, _ = rand.Read(secret)
	keys, _ := keyring.New(secret)
	st := storetest.SQLite(b, store.WithKeyring(keys))
	mailer, err := notify.NewMailer("http://warden.test", "Warden")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	plainKey, key, err := adminkey.New("bench", []string{"sessions:introspect"}, now)
	if err != nil {
		b.Fatal(err)
	}
	policy := session.Policy{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour}
	f := &introspectFixture{adminKey: plainKey}
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAdminKey(ctx, key, adminkey.Hash(plainKey)); err != nil {
			return err
		}
		for range sessions {
			email, emailKey, _ := account.NormalizeEmail(id.New("u") + "@bench.example.com")
			a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: email, EmailKey: emailKey,
				EmailVerifiedAt: now, PasswordHash: "x", CreatedAt: now}
			if err := tx.InsertAccount(ctx, a); err != nil {
				return err
			}
			token, s := session.New(a, session.AAL1, "", "127.0.0.1", "bench", now, policy)
			if err := tx.InsertSession(ctx, s); err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"token": token})
			f.bodies = append(f.bodies, string(body))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	sessionsSvc := &session.Service{Lookup: st, Policy: policy, Now: time.Now, Cache: session.NewCache(30*time.Second, 100_000)}
	api := httpapi.New(httpapi.Deps{
		Store: st, Keys: keys, Mailer: mailer, Sessions: sessionsSvc,
		Log: slog.New(log),
	})
	f.handler = api.Handler()
	return f
}

// requests are reusable requests, one per body: reset rewinds a body.
type requests struct {
	reqs    []*http.Request
	readers []*strings.Reader
	bodies  []string
}

func (f *introspectFixture) requests(auth string) *requests {
	rs := &requests{bodies: f.bodies}
	for _, body := range f.bodies {
		rd := strings.NewReader(body)
		req := httptest.NewRequest("POST", "/admin/v1/sessions/introspect", rd)
		req.RemoteAddr = "127.0.0.1:40000"
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		req.Header.Set("Content-Type", "application/json")
		rs.reqs = append(rs.reqs, req)
		rs.readers = append(rs.readers, rd)
	}
	return rs
}

func (rs *requests) get(i int) *http.Request {
	i %= len(rs.reqs)
	rs.readers[i].Reset(rs.bodies[i])
	return rs.reqs[i]
}

// BenchmarkIntrospectHandler is one introspection through Warden's whole
// handler, in process: what a request costs the server besides the network.
// The sub-benchmarks differ only in where the access log goes: a JSON
// handler writing to a file (as `warden serve` writes to a redirected
// stderr), the same handler writing nowhere (formatting only), or no access
// log at all (level warn).
func BenchmarkIntrospectHandler(b *testing.B) {
	file, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	for _, bc := range []struct {
		name string
		log  slog.Handler
	}{
		{"log=file", slog.NewJSONHandler(file, nil)},
		{"log=discard", slog.NewJSONHandler(io.Discard, nil)},
		{"log=off", slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newIntrospectFixture(b, 1000, bc.log)
			rs := f.requests(f.adminKey)
			// Warm the caches, and check the answers.
			for i := range f.bodies {
				w := httptest.NewRecorder()
				f.handler.ServeHTTP(w, rs.get(i))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
					b.Fatalf("warm-up %d: %d %s", i, w.Code, w.Body)
				}
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				f.handler.ServeHTTP(w, rs.get(i))
			}
		})
	}
}

// BenchmarkIntrospectHandlerParallel is the same on every core at once: it
// shows contention in the caches (and, under -race, data races).
func BenchmarkIntrospectHandlerParallel(b *testing.B) {
	f := newIntrospectFixture(b, 1000, slog.NewJSONHandler(io.Discard, nil))
	warm := f.requests(f.adminKey)
	for i := range f.bodies {
		f.handler.ServeHTTP(httptest.NewRecorder(), warm.get(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rs := f.requests(f.adminKey)
		w := &discardWriter{h: http.Header{}}
		for i := 0; pb.Next(); i++ {
			clear(w.h)
			f.handler.ServeHTTP(w, rs.get(i))
			if w.status != http.StatusOK {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}

// BenchmarkBareHandler is the reference: decode {"token":…}, answer from a map.
func BenchmarkBareHandler(b *testing.B) {
	f := &introspectFixture{}
	known := map[string]bool{}
	for range 1000 {
		tok := id.Token(session.TokenPrefix)
		known[tok] = true
		body, _ := json.Marshal(map[string]string{"token": tok})
		f.bodies = append(f.bodies, string(body))
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]bool{"active": known[req.Token]})
	})
	rs := f.requests("")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, rs.get(i))
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks count the handler's allocations, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
