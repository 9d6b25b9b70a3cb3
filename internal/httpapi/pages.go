package httpapi

import (
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/ratelimit"
)

// RequestInfo returns what the API's outer middleware settled for a request
// that it passes on to the server-rendered pages: the client's IP address
// (from the connection, or from X-Forwarded-For only when sent by a trusted
// proxy) and the request id. Both are "" for a request that did not go
// through Handler. It is what web.Config.RequestInfo wants.
func RequestInfo(r *http.Request) (ip, id string) {
	return clientIP(r.Context()), requestID(r.Context())
}

// LoginLimit takes a token from the buckets of an attempt — per client IP
// and, unless email is "", per account in realm — so that the pages and the
// API count together: with email "" as POST /v1/sessions and its challenge
// do (the account is guarded by its lockout lanes there), with an email as
// a step-up's code does. It answers how long to wait when the attempt is
// refused, 0 when it may go on. It is what web.Config.LoginLimit wants.
func (a *API) LoginLimit(r *http.Request, realm, email string) (time.Duration, error) {
	if a.Limiter == nil {
		return 0, nil
	}
	keys := []ratelimit.Key{{Bucket: ipBucket("login:ip:", r), Limit: a.Limits.LoginPerIP}}
	if email != "" {
		keys = append(keys, ratelimit.Key{Bucket: emailBucket("login:"+realm+":", email), Limit: a.Limits.LoginPerAccount})
	}
	d, err := a.Limiter.Check(r.Context(), keys...)
	if err != nil || d.Allowed {
		return 0, err
	}
	return max(d.RetryAfter, time.Second), nil
}
