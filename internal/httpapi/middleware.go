package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/id"
)

type (
	requestIDCtx    struct{} // value: string
	clientIPCtx     struct{} // value: netip.Addr
	requestStateCtx struct{} // value: *requestState
	adminKeyCtx     struct{}
)

// requestState is what withRequestContext knows of a request. It is the
// request's context too, and holds the recorder the response is wrapped in:
// the middleware makes one allocation for all three instead of one per
// context value, boxed value and recorder.
type requestState struct {
	context.Context // the incoming request's
	rec             statusRecorder
	id              string
	ip              netip.Addr
	// idHeader backs the X-Request-Id header value, so that setting it
	// allocates no slice of its own.
	idHeader [1]string
}

// Value answers the request's own keys and defers every other to the parent.
func (st *requestState) Value(key any) any {
	switch key.(type) {
	case requestStateCtx:
		return st
	case requestIDCtx:
		return st.id
	case clientIPCtx:
		return st.ip
	}
	return st.Context.Value(key)
}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateCtx{}).(*requestState)
	return st
}

// requestID returns the id of the request being served.
func requestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// clientIP returns the caller's address as Warden believes it.
func clientIP(ctx context.Context) string {
	st := stateOf(ctx)
	if st == nil || !st.ip.IsValid() {
		return ""
	}
	return st.ip.String()
}

// statusRecorder remembers what a handler answered, for the log and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestContext gives every request an id and its client IP, and writes
// one access-log line and the request metrics when it ends. The log holds the
// path but never the query string or headers: tokens travel there.
func (a *API) withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !validRequestID(rid) {
			rid = id.New("req")
		}
		st := &requestState{Context: r.Context(), rec: statusRecorder{ResponseWriter: w}, id: rid, ip: a.clientAddr(r)}
		st.idHeader[0] = rid
		w.Header()["X-Request-Id"] = st.idHeader[:1:1]
		ctx := context.Context(st)
		rec, ip := &st.rec, st.ip
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)

		route := r.Pattern // set by the mux on this request
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		a.Metrics.observeRequest(r.Method, route, status, elapsed)
		a.Log.LogAttrs(ctx, logLevelFor(status), "request",
			slog.String("request_id", rid), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("route", route), slog.Int("status", status), slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", elapsed), slog.String("ip", clientIPString(ip)))
	})
}

// recoverPanics turns a panic into a 500 problem that reveals nothing; the
// stack goes to the log with the request id.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.Log.ErrorContext(r.Context(), "panic serving request", "request_id", requestID(r.Context()),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeProblem(w, errInternal())
		}()
		next.ServeHTTP(w, r)
	})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// clientAddr is the connection's peer, or — only when that peer is a trusted
// proxy — the right-most address in X-Forwarded-For that is not itself a
// trusted proxy. Left-most entries are whatever the client chose to send.
func (a *API) clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !a.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain: trust nothing in it
		}
		hop = hop.Unmap()
		if !a.trusted(hop) {
			return hop
		}
	}
	return peer
}

func (a *API) trusted(ip netip.Addr) bool {
	for _, p := range a.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func clientIPString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}
