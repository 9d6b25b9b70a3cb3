package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

type introspectRequest struct {
	Token string `json:"token"`
}

type introspection struct {
	Active       bool     `json:"active"`
	UserID       string   `json:"user_id,omitempty"`
	SessionID    string   `json:"session_id,omitempty"`
	AAL          string   `json:"aal,omitempty"`
	DeviceID     string   `json:"device_id,omitempty"`
	Frozen       bool     `json:"frozen"`
	Restrictions []string `json:"restrictions"`
	ExpiresAt    string   `json:"expires_at,omitempty"`
}

// introspect tells the platform whether a session token is live and whose it
// is. It is the hot path — platforms call it on every request they serve —
// so it answers from the session cache when it can, and reads its body and
// writes its answer without encoding/json in the usual case (see
// decodeIntrospectRequest and writeIntrospection; both fall back to the
// general path, so the contract is the same as every other handler's).
func (a *API) introspect(w http.ResponseWriter, r *http.Request) error {
	var req introspectRequest
	if p := decodeIntrospectRequest(r, &req); p != nil {
		return p
	}
	if req.Token == "" || len(req.Token) > 200 {
		return errValidation(FieldError{Field: "token", Code: "required", Detail: "the session token to check"})
	}
	sess, acct, err := a.Sessions.Resolve(r.Context(), req.Token)
	if errors.Is(err, session.ErrNoSession) || (err == nil && sess.Realm != account.RealmUser) {
		writeIntrospection(w, &introspection{Active: false, Restrictions: []string{}}, time.Time{})
		return nil
	}
	if err != nil {
		return err
	}
	writeIntrospection(w, &introspection{
		Active: true, UserID: acct.ID, SessionID: sess.ID, AAL: sess.AAL, DeviceID: sess.DeviceID,
		Frozen: acct.Frozen(), Restrictions: nonNil(acct.Restrictions),
	}, sess.IdleExpiry(a.Sessions.Policy))
	return nil
}

// fastBodyMax is the largest introspection body read without encoding/json:
// {"token":"wss_…"} is 68 bytes; room is left for whitespace.
const fastBodyMax = 256

var fastBodies = sync.Pool{New: func() any { return new([fastBodyMax]byte) }}

// decodeIntrospectRequest is decodeJSON for the introspection body. A body
// sent as exactly application/json with a Content-Length of at most
// fastBodyMax is read into a pooled buffer; when it is the canonical form
// {"token":"…"} (any JSON whitespace, a value of printable ASCII without
// escapes) the token is taken straight from it. Everything else — other
// content types, chunked or larger bodies, escapes, other or repeated
// members, invalid JSON — goes through decodeJSON's parser unchanged, so
// errors and edge cases are answered exactly as before.
func decodeIntrospectRequest(r *http.Request, req *introspectRequest) *Problem {
	cl := r.ContentLength
	if cl <= 0 || cl > fastBodyMax || r.Header.Get("Content-Type") != "application/json" {
		// Decoded into a variable of its own, so that req itself does not
		// escape to the heap on the fast path.
		var slow introspectRequest
		p := decodeJSON(r, &slow)
		*req = slow
		return p
	}
	buf := fastBodies.Get().(*[fastBodyMax]byte)
	defer fastBodies.Put(buf)
	n, err := io.ReadFull(r.Body, buf[:cl])
	if err != nil {
		// As decodeJSON answers a body that cannot be read (a body of at
		// most fastBodyMax bytes is never too large).
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body could not be read")
	}
	if token, ok := canonicalTokenBody(buf[:n]); ok {
		req.Token = string(token)
		return nil
	}
	var slow introspectRequest
	p := decodeJSONBytes(buf[:n], &slow)
	*req = slow
	return p
}

// canonicalTokenBody recognises {"token":"VALUE"} with optional JSON
// whitespace around each token, where VALUE is printable ASCII without '"'
// or '\\' — exactly the bodies for which encoding/json would set Token to
// VALUE and report no error.
func canonicalTokenBody(b []byte) ([]byte, bool) {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	expect := func(lit string) bool {
		skip()
		if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
			return false
		}
		i += len(lit)
		return true
	}
	if !expect("{") || !expect(`"token"`) || !expect(":") || !expect(`"`) {
		return nil, false
	}
	start := i
	for ; i < len(b) && b[i] != '"'; i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return nil, false
		}
	}
	if i == len(b) {
		return nil, false
	}
	value := b[start:i]
	i++ // the closing quote
	if !expect("}") {
		return nil, false
	}
	skip()
	return value, i == len(b)
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	introBuffers    = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
)

// writeIntrospection sends v as writeJSON would — the same bytes as
// json.Marshal, a newline, the same headers — without reflection. A
// non-zero expires sets ExpiresAt (RFC 3339), formatted into the buffer.
func writeIntrospection(w http.ResponseWriter, v *introspection, expires time.Time) {
	bp := introBuffers.Get().(*[]byte)
	b := appendIntrospection((*bp)[:0], v, expires)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 4096 {
		*bp = b
		introBuffers.Put(bp)
	}
}

// appendIntrospection appends v's JSON (as json.Marshal writes it) and a newline.
func appendIntrospection(b []byte, v *introspection, expires time.Time) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, v.Active)
	field := func(name, value string) {
		if value != "" {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = appendJSONString(b, value)
		}
	}
	field("user_id", v.UserID)
	field("session_id", v.SessionID)
	field("aal", v.AAL)
	field("device_id", v.DeviceID)
	b = append(b, `,"frozen":`...)
	b = strconv.AppendBool(b, v.Frozen)
	if v.Restrictions == nil {
		b = append(b, `,"restrictions":null`...)
	} else {
		b = append(b, `,"restrictions":[`...)
		for i, r := range v.Restrictions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, ']')
	}
	if !expires.IsZero() {
		b = append(b, `,"expires_at":"`...)
		b = expires.AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	} else {
		field("expires_at", v.ExpiresAt)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json does:
// ids and codes (plain printable ASCII) directly, anything that needs
// escaping (quotes, control characters, <, >, &, non-ASCII) through
// json.Marshal itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

type userState struct {
	ID               string          `json:"id"`
	Email            string          `json:"email"`
	EmailVerified    bool            `json:"email_verified"`
	CreatedAt        time.Time       `json:"created_at"`
	MFAEnabled       bool            `json:"mfa_enabled"`
	VerificationTier int             `json:"verification_tier"`
	Frozen           bool            `json:"frozen"`
	FrozenAt         *time.Time      `json:"frozen_at,omitempty"`
	FrozenReason     string          `json:"frozen_reason,omitempty"`
	SecurityChanged  *time.Time      `json:"security_changed_at,omitempty"`
	AntiPhishingSet  bool            `json:"anti_phishing_code_set"`
	Restrictions     []string        `json:"restrictions"`
	Sessions         []listedSession `json:"sessions"`
	RecentEvents     []activityItem  `json:"recent_events"`
	Devices          []deviceView    `json:"devices"`
	RecentLogins     []loginView     `json:"recent_logins"`
}

// loginView is one login attempt and the risk decision on it, for staff.
type loginView struct {
	At       time.Time `json:"at"`
	Outcome  string    `json:"outcome"`
	Reasons  []string  `json:"reasons"`
	Score    int       `json:"score"`
	IP       string    `json:"ip"`
	DeviceID string    `json:"device_id,omitempty"`
	Country  string    `json:"country,omitempty"`
	City     string    `json:"city,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *API) userStateOf(r *http.Request, tx *store.Tx, acct account.Account) (userState, error) {
	st := userState{
		ID: acct.ID, Email: acct.Email, EmailVerified: acct.Verified(), CreatedAt: acct.CreatedAt,
		Frozen: acct.Frozen(), MFAEnabled: acct.MFAEnabled, VerificationTier: acct.VerificationTier, FrozenAt: timePtr(acct.FrozenAt), FrozenReason: acct.FrozenReason,
		SecurityChanged: timePtr(acct.SecurityChangedAt), AntiPhishingSet: acct.AntiPhishingCode != "",
		Restrictions: nonNil(acct.Restrictions), Sessions: []listedSession{}, RecentEvents: []activityItem{},
		Devices: []deviceView{}, RecentLogins: []loginView{},
	}
	sessions, err := tx.SessionsOf(r.Context(), acct.ID, a.Now())
	if err != nil {
		return st, err
	}
	for _, s := range sessions {
		if s.Active(a.Now(), a.Sessions.Policy) {
			st.Sessions = append(st.Sessions, listedSession{ID: s.ID, AAL: s.AAL, IP: s.IP, UserAgent: s.UserAgent,
				CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.IdleExpiry(a.Sessions.Policy)})
		}
	}
	records, err := tx.ListAuditRecords(r.Context(), store.AuditFilter{UserID: acct.ID, Limit: 20})
	if err != nil {
		return st, err
	}
	for _, rec := range records {
		st.RecentEvents = append(st.RecentEvents, activityFor(rec, true))
	}
	devices, err := tx.DevicesOf(r.Context(), acct.ID)
	if err != nil {
		return st, err
	}
	for _, d := range devices {
		st.Devices = append(st.Devices, viewDevice(d, ""))
	}
	logins, err := tx.LoginEvents(r.Context(), acct.ID, 20)
	if err != nil {
		return st, err
	}
	for _, e := range logins {
		reasons := e.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		st.RecentLogins = append(st.RecentLogins, loginView{At: e.At, Outcome: e.Outcome, Reasons: reasons, Score: e.Score,
			IP: e.IP, DeviceID: e.DeviceID, Country: e.Country, City: e.City})
	}
	return st, nil
}

// findUsers looks a user up by email (exact, case-insensitive).
func (a *API) findUsers(w http.ResponseWriter, r *http.Request) error {
	raw := strings.TrimSpace(r.URL.Query().Get("email"))
	if raw == "" {
		return errValidation(FieldError{Field: "email", Code: "required", Detail: "give ?email= to look a user up"})
	}
	_, key, err := account.NormalizeEmail(raw)
	if err != nil {
		return errValidation(FieldError{Field: "email", Code: "invalid_email", Detail: "not a valid email address"})
	}
	users := []userState{}
	err = a.Store.Read(r.Context(), func(tx *store.Tx) error {
		acct, err := tx.AccountByEmail(r.Context(), account.RealmUser, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := a.userStateOf(r, tx, acct)
		users = append(users, st)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	var st userState
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		acct, err := tx.AccountByID(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && acct.Realm != account.RealmUser) {
			return errNotFound("user")
		}
		if err != nil {
			return err
		}
		st, err = a.userStateOf(r, tx, acct)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

type unfreezeRequest struct {
	Reason string `json:"reason"`
}

// unfreezeUser lifts a freeze after staff re-verified the owner; a reason is required.
func (a *API) unfreezeUser(w http.ResponseWriter, r *http.Request) error {
	var req unfreezeRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if len(req.Reason) < 5 || len(req.Reason) > 500 {
		return errValidation(FieldError{Field: "reason", Code: "required", Detail: "say how the owner's identity was checked (5 to 500 characters)"})
	}
	meta := a.accountMeta(r)
	meta.Actor = adminActor(r)
	acct, err := a.Accounts.Unfreeze(r.Context(), r.PathValue("id"), req.Reason, meta)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, account.ErrNoAccount):
		return errNotFound("user")
	case errors.Is(err, account.ErrNotFrozen):
		return NewProblem(http.StatusConflict, "not_frozen", "this account is not frozen")
	case err != nil:
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusOK, map[string]any{"id": acct.ID, "frozen": false})
	return nil
}
