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

// LoginLimit takes a token from the client address's login bucket, the one
// POST /v1/sessions, its challenges and the code checks use, so that the
// pages and the API count together (accounts are guarded by their lockout
// lanes). It answers how long to wait when the attempt is refused, 0 when
// it may go on. It is what web.Config.LoginLimit wants.
func (a *API) LoginLimit(r *http.Request) (time.Duration, error) {
	if a.Limiter == nil {
		return 0, nil
	}
	d, err := a.Limiter.Check(r.Context(), ratelimit.Key{Bucket: ipBucket("login:ip:", r), Limit: a.Limits.LoginPerIP})
	if err != nil || d.Allowed {
		return 0, err
	}
	return max(d.RetryAfter, time.Second), nil
}
