package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error answer from Warden: an application/problem+json body
// (RFC 9457) with Warden's stable machine code. Every API method returns
// one (possibly wrapped) for a 4xx or 5xx answer; match it by its code with
// errors.Is and an ErrCode, or take it apart with errors.As:
//
//	w, err := user.RequestWithdrawal(ctx, req)
//	switch {
//	case errors.Is(err, client.ErrLimitExceeded):
//		var e *client.Error
//		errors.As(err, &e)
//		fmt.Println("available today:", e.Limits.Available24h)
//	case errors.Is(err, client.ErrCode("withdrawals_locked")):
//		…
//	}
//
// An answer that is not a problem (say an HTML 502 from a proxy) is an
// *Error too, with its Status, an empty Code and the body in Raw.
type Error struct {
	// Method and Path are the request's.
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Code is Warden's machine code (limit_exceeded, invalid_credentials, …).
	Code string
	// Type, Title and Detail are the problem's; Detail is written for people.
	Type, Title, Detail string
	// Fields name what is wrong with each field of the request
	// (validation_failed, invalid_amount, invalid_address, weak_password).
	Fields []FieldError
	// RetryAfter is how long to wait before trying again, from the
	// Retry-After header or the problem's retry_after member (rate_limited,
	// account_locked, overloaded, price_unavailable); 0 when not given.
	RetryAfter time.Duration
	// Until is when a lock ends (withdrawals_locked with a cooldown or an
	// expiring restriction, address_on_hold).
	Until *time.Time
	// Reason is withdrawals_locked's reason: cooldown, frozen, restricted or review.
	Reason string
	// Reasons are login_denied's risk reasons.
	Reasons []string
	// Pending is what a login challenge still waits for (confirmation_pending).
	Pending []string
	// Missing is what a verification still needs (verification_incomplete).
	Missing []string
	// Limits are the user's limits as they are now (limit_exceeded).
	Limits *ErrorLimits
	// ClockDriftSeconds is how far the user's authenticator is off, when
	// Warden recognised an invalid_code as right for another time.
	ClockDriftSeconds *int
	// RequestID is the answer's X-Request-Id, which names it in Warden's logs.
	RequestID string
	// Raw is the answer's body as received.
	Raw json.RawMessage
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// ErrorLimits are the limits a limit_exceeded answer carries, decimal
// strings in Currency.
type ErrorLimits struct {
	Currency       string `json:"currency"`
	PerTransaction string `json:"per_transaction"`
	Rolling24h     string `json:"rolling_24h"`
	Used24h        string `json:"used_24h"`
	Available24h   string `json:"available_24h"`
}

// Error reads "warden: POST /v1/withdrawals: 422 limit_exceeded: detail".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("warden: ")
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	} else {
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Code)
	}
	return b.String()
}

// Is reports whether target is the ErrCode of e's code, so that
// errors.Is(err, client.ErrCode("limit_exceeded")) matches.
func (e *Error) Is(target error) bool {
	c, ok := target.(ErrCode)
	return ok && e.Code != "" && string(c) == e.Code
}

// Field returns the FieldError of the named field, if the answer has one.
func (e *Error) Field(name string) (FieldError, bool) {
	for _, f := range e.Fields {
		if f.Field == name {
			return f, true
		}
	}
	return FieldError{}, false
}

// ErrCode is one of Warden's stable error codes, as an error to match an
// *Error with errors.Is: errors.Is(err, client.ErrCode("address_on_hold")).
// The codes are those of API.md and the served OpenAPI document; the
// constants below name the common ones. An ErrCode is also returned by
// itself where the client, not Warden, finds the condition (FindUserByEmail
// returns ErrNotFound when no user has the address).
type ErrCode string

func (c ErrCode) Error() string { return "warden: " + string(c) }

// Common codes. Any other code works the same way as ErrCode("…").
const (
	ErrValidationFailed     ErrCode = "validation_failed"
	ErrInvalidJSON          ErrCode = "invalid_json"
	ErrUnauthenticated      ErrCode = "unauthenticated"
	ErrInsufficientScope    ErrCode = "insufficient_scope"
	ErrNotFound             ErrCode = "not_found"
	ErrRateLimited          ErrCode = "rate_limited"
	ErrOverloaded           ErrCode = "overloaded"
	ErrUnavailable          ErrCode = "unavailable"
	ErrInternal             ErrCode = "internal_error"
	ErrInvalidCredentials   ErrCode = "invalid_credentials"
	ErrEmailNotVerified     ErrCode = "email_not_verified"
	ErrAccountLocked        ErrCode = "account_locked"
	ErrAccountFrozen        ErrCode = "account_frozen"
	ErrLoginDenied          ErrCode = "login_denied"
	ErrInvalidCode          ErrCode = "invalid_code"
	ErrCodeReused           ErrCode = "code_reused"
	ErrChallengeExpired     ErrCode = "challenge_expired"
	ErrConfirmationPending  ErrCode = "confirmation_pending"
	ErrInvalidToken         ErrCode = "invalid_token"
	ErrWeakPassword         ErrCode = "weak_password"
	ErrMFARequired          ErrCode = "mfa_required"
	ErrWithdrawalsLocked    ErrCode = "withdrawals_locked"
	ErrVerificationRequired ErrCode = "verification_required"
	ErrLimitExceeded        ErrCode = "limit_exceeded"
	ErrAddressOnHold        ErrCode = "address_on_hold"
	ErrAddressNotAllowed    ErrCode = "address_not_allowed"
	ErrPriceUnavailable     ErrCode = "price_unavailable"
	ErrInvalidAddress       ErrCode = "invalid_address"
	ErrInvalidAmount        ErrCode = "invalid_amount"
	ErrIdempotencyKeyReused ErrCode = "idempotency_key_reused"
	ErrWithdrawalNotPending ErrCode = "withdrawal_not_pending"
	ErrVerificationDecided  ErrCode = "verification_decided"
	ErrAlertResolved        ErrCode = "alert_resolved"
	ErrCaseResolved         ErrCode = "case_resolved"
	ErrBatchTooLarge        ErrCode = "batch_too_large"
)

// problemBody is what newError reads of a problem.
type problemBody struct {
	Type              string       `json:"type"`
	Title             string       `json:"title"`
	Status            int          `json:"status"`
	Detail            string       `json:"detail"`
	Code              string       `json:"code"`
	Errors            []FieldError `json:"errors"`
	RetryAfter        *float64     `json:"retry_after"`
	Until             *time.Time   `json:"until"`
	Reason            string       `json:"reason"`
	Reasons           []string     `json:"reasons"`
	Pending           []string     `json:"pending"`
	Missing           []string     `json:"missing"`
	Limits            *ErrorLimits `json:"limits"`
	ClockDriftSeconds *int         `json:"clock_drift_seconds"`
}

// newError reads an error answer. A body that is not a JSON problem leaves
// Code empty.
func newError(method, path string, resp *http.Response, raw []byte) *Error {
	e := &Error{Method: method, Path: path, Status: resp.StatusCode, Raw: raw, RequestID: resp.Header.Get("X-Request-Id")}
	var pb problemBody
	if json.Unmarshal(raw, &pb) == nil {
		e.Code, e.Type, e.Title, e.Detail, e.Fields = pb.Code, pb.Type, pb.Title, pb.Detail, pb.Errors
		e.Until, e.Reason, e.Reasons, e.Pending, e.Missing = pb.Until, pb.Reason, pb.Reasons, pb.Pending, pb.Missing
		e.Limits, e.ClockDriftSeconds = pb.Limits, pb.ClockDriftSeconds
		if pb.RetryAfter != nil && *pb.RetryAfter > 0 {
			e.RetryAfter = time.Duration(*pb.RetryAfter * float64(time.Second))
		}
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
