package httpapi

import "net/http"

// RequestInfo returns what the API's outer middleware settled for a request
// that it passes on to the server-rendered pages: the client's IP address
// (from the connection, or from X-Forwarded-For only when sent by a trusted
// proxy) and the request id. Both are "" for a request that did not go
// through Handler. It is what web.Config.RequestInfo wants.
func RequestInfo(r *http.Request) (ip, id string) {
	return clientIP(r.Context()), requestID(r.Context())
}
