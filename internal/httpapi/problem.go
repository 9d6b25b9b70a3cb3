package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Problem is an RFC 9457 problem detail with Warden's stable machine code.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`
	// Extra holds code-specific members (retry_after, until, reasons, …), written at the top level.
	Extra map[string]any `json:"-"`
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// MarshalJSON writes Extra's members beside the standard ones.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	base, err := json.Marshal((*plain)(p))
	if err != nil || len(p.Extra) == 0 {
		return base, err
	}
	extra, err := json.Marshal(p.Extra)
	if err != nil {
		return nil, err
	}
	return append(append(base[:len(base)-1], ','), extra[1:]...), nil
}

// problemTypeBase prefixes each code to form the problem's type URI; the
// OpenAPI document describes every code.
const problemTypeBase = "https://warden.dev/problems/"

// NewProblem makes a problem with the given status, code and human detail.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   problemTypeBase + code,
		Title:  titleFor(code),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// With adds a code-specific member.
func (p *Problem) With(key string, value any) *Problem {
	if p.Extra == nil {
		p.Extra = map[string]any{}
	}
	p.Extra[key] = value
	return p
}

func titleFor(code string) string {
	if t, ok := problemTitles[code]; ok {
		return t
	}
	words := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(words[:1]) + words[1:]
}

var problemTitles = map[string]string{
	"invalid_json":           "Request body is not valid JSON",
	"validation_failed":      "Request has invalid fields",
	"unauthenticated":        "Authentication required",
	"insufficient_scope":     "API key lacks the required scope",
	"not_found":              "Not found",
	"method_not_allowed":     "Method not allowed",
	"payload_too_large":      "Request body too large",
	"unsupported_media_type": "Unsupported content type",
	"rate_limited":           "Too many requests",
	"overloaded":             "Server overloaded",
	"internal_error":         "Internal error",
	"unavailable":            "Service unavailable",
	// Identity verification (verification.go).
	"unsupported_file":        "File not accepted",
	"invalid_multipart":       "Request body is not valid multipart/form-data",
	"verification_locked":     "Verification cannot be changed now",
	"verification_incomplete": "Verification incomplete",
	"verification_decided":    "Verification is not waiting for review",
	"document_purged":         "Document removed after retention",
	"invalid_signature":       "Signature invalid",
	"stale_signature":         "Signature timestamp outside the accepted window",
	"replayed":                "Message already taken",
	// Withdrawal protection (withdrawals.go).
	"mfa_required":           "Second factor required",
	"withdrawals_locked":     "Withdrawals are locked",
	"verification_required":  "Identity verification required",
	"limit_exceeded":         "Withdrawal limit exceeded",
	"address_on_hold":        "Address on hold",
	"address_not_allowed":    "Address not allowed",
	"price_unavailable":      "No recent price",
	"invalid_address":        "Address not valid for this network",
	"invalid_amount":         "Amount not valid",
	"idempotency_key_reused": "Idempotency-Key reused with a different request",
	"withdrawal_not_pending": "Withdrawal not waiting for this",
	// Transaction monitoring (monitoring.go).
	"batch_too_large": "Too many events in one batch",
	"invalid_rules":   "Rules refused",
	"rules_changed":   "Rules changed meanwhile",
	"alert_resolved":  "Alert already resolved",
}

// Common problems.
func errNotFound(what string) *Problem {
	return NewProblem(http.StatusNotFound, "not_found", what+" not found")
}

func errValidation(errs ...FieldError) *Problem {
	p := NewProblem(http.StatusBadRequest, "validation_failed", "one or more fields are invalid; see errors")
	p.Errors = errs
	return p
}

func errInternal() *Problem {
	return NewProblem(http.StatusInternalServerError, "internal_error",
		"something went wrong on our side; the request id identifies it in our logs")
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"` + problemTypeBase + `internal_error","title":"Internal error","status":500,"code":"internal_error"}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	// A retry_after member is also the header, which HTTP clients and
	// proxies act on without reading the body.
	if secs, ok := p.Extra["retry_after"].(int); ok && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSON sends v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, errInternal())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
