package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultUserAgent is sent when no WithUserAgent option is given.
const DefaultUserAgent = "warden-go-client/1 (+https://github.com/wardenhq/warden)"

// maxResponseBytes bounds how much of an answer is read: Warden's largest
// JSON answers (a listing of 500 records) are far below it.
const maxResponseBytes = 16 << 20

// Client calls one Warden deployment. It is safe for concurrent use.
//
// The admin API methods (Introspect, SendEvents, ListWithdrawals, …) are
// methods of Client and need an admin key (WithAdminKey). The user API is
// reached through a *User (Client.User), which carries a user's session
// and device tokens.
type Client struct {
	base      *url.URL
	hc        *http.Client
	adminKey  string
	userAgent string
	retry     RetryPolicy
}

// Option configures a Client.
type Option func(*Client)

// WithAdminKey sets the admin API key (wdn_…, or WARDEN_ADMIN_KEY) sent as
// the bearer token of every admin API call. A key lacking an operation's
// scope gets 403 insufficient_scope.
func WithAdminKey(key string) Option { return func(c *Client) { c.adminKey = key } }

// WithHTTPClient sets the *http.Client requests go through (its transport,
// timeout, proxy). The default is a client with a 30 s timeout. Cookies are
// not needed: the client sends tokens as headers.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetryPolicy sets how calls that are safe to repeat are retried; zero
// fields take DefaultRetryPolicy's values.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p.withDefaults() } }

// WithoutRetries makes every call a single attempt.
func WithoutRetries() Option {
	return func(c *Client) { c.retry = RetryPolicy{MaxAttempts: 1}.withDefaults() }
}

// RetryPolicy says how a call that is safe to repeat is retried.
//
// Only calls that cannot do a thing twice are retried: GET requests, the
// admin POSTs that are idempotent by design (introspection, events — by
// their id —, completing a withdrawal with the same txid, price feeds), and
// withdrawal requests, which carry an Idempotency-Key that Warden answers a
// repeat with the first result for. Logins, confirmations, approvals and
// every other write are sent once: a retry could act twice or answer a
// misleading error.
//
// A call is retried after a network error (including a connection dropped
// after the request was sent), and after 429, 502, 503 and 504 answers —
// except 503 price_unavailable, which only a new price feed clears. The wait
// is the answer's Retry-After when it has one (an answer asking for more
// than MaxRetryAfter is returned instead), otherwise an exponential backoff
// from BaseDelay, doubling up to MaxDelay, with jitter. A context that ends,
// or whose deadline comes before the next attempt, stops the retries.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included; 1 turns
	// retries off. Default 4.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry. Default 250 ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff. Default 5 s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After waited for. Default 30 s.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is the policy of a Client made without WithRetryPolicy.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 5 * time.Second, MaxRetryAfter: 30 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetryPolicy.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetryPolicy.MaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultRetryPolicy.MaxRetryAfter
	}
	return p
}

// backoff is the wait before retry number n (1 for the first retry):
// BaseDelay·2^(n-1), capped at MaxDelay, of which a random half is kept
// ("equal jitter"), so that many clients do not retry in step.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + mrand.N(half+1)
}

// New makes a client for the Warden at baseURL (e.g. https://security.example.com).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("warden client: base URL %q is not an absolute http(s) URL", baseURL)
	}
	c := &Client{base: u, hc: &http.Client{Timeout: 30 * time.Second}, userAgent: DefaultUserAgent, retry: DefaultRetryPolicy}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	return c, nil
}

// BaseURL is the URL the client was made with.
func (c *Client) BaseURL() string { return c.base.String() }

// call is one API operation as the transport sees it.
type call struct {
	method string
	path   string // already escaped where it holds ids (see pathf)
	query  url.Values
	body   any // JSON-encoded when not nil
	// token is the bearer token (an admin key or a session token).
	token  string
	device string
	// idempotencyKey is sent as Idempotency-Key.
	idempotencyKey string
	// retry: the call is safe to repeat (see RetryPolicy).
	retry bool
}

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// pathf builds a path from a format whose %s verbs are path segments; each is
// escaped, so an id cannot reach another path.
func pathf(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// do sends c, retrying as the policy allows, and decodes a 2xx JSON answer
// into out (when out is not nil and the answer has a body).
func (c *Client) do(ctx context.Context, cl call, out any) (*response, error) {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("warden: %s %s: encode request: %w", cl.method, cl.path, err)
		}
	}
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	target := u.String()

	attempts := 1
	if cl.retry {
		attempts = c.retry.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, cl, target, payload)
		if err == nil {
			if out != nil && len(bytes.TrimSpace(resp.body)) > 0 {
				if err := json.Unmarshal(resp.body, out); err != nil {
					return resp, fmt.Errorf("warden: %s %s: decode answer: %w", cl.method, cl.path, err)
				}
			}
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		var wait time.Duration
		var apiErr *Error
		switch {
		case errors.As(err, &apiErr):
			if !retryable(apiErr) {
				return nil, err
			}
			wait = c.retry.backoff(attempt)
			if apiErr.RetryAfter > 0 {
				if apiErr.RetryAfter > c.retry.MaxRetryAfter {
					return nil, err
				}
				wait = apiErr.RetryAfter
			}
		default: // a network error: the request may or may not have arrived
			wait = c.retry.backoff(attempt)
		}
		if attempt >= attempts {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// retryable says whether an error answer may go away on its own.
func retryable(e *Error) bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	case http.StatusServiceUnavailable:
		return e.Code != string(ErrPriceUnavailable)
	}
	return false
}

// attempt sends the request once: a 2xx answer, an *Error for an error
// answer, or the transport's error.
func (c *Client) attempt(ctx context.Context, cl call, target string, payload []byte) (*response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("warden: %s %s: %w", cl.method, cl.path, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	if cl.device != "" {
		req.Header.Set("X-Warden-Device", cl.device)
	}
	if cl.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", cl.idempotencyKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("warden: %s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("warden: %s %s: read answer: %w", cl.method, cl.path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return &response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
	}
	return nil, newError(cl.method, cl.path, resp, raw)
}

// admin is a call with the admin key.
func (c *Client) admin(ctx context.Context, cl call, out any) (*response, error) {
	if c.adminKey == "" {
		return nil, fmt.Errorf("warden: %s %s: %w", cl.method, cl.path, ErrNoAdminKey)
	}
	cl.token = c.adminKey
	return c.do(ctx, cl, out)
}

// ErrNoAdminKey is returned by admin API calls of a Client made without WithAdminKey.
var ErrNoAdminKey = errors.New("no admin key: make the client with client.WithAdminKey")

// NewIdempotencyKey returns a fresh random key for an Idempotency-Key header.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "idk_" + hex.EncodeToString(b[:])
}
