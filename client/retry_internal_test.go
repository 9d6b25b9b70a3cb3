package client

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for n, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for range 100 {
			if d := p.backoff(n); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want %v to %v", n, d, full/2, full)
			}
		}
	}
	if p.MaxAttempts != 4 || p.MaxRetryAfter != 30*time.Second {
		t.Fatalf("defaults: %+v", p)
	}
	if one := (RetryPolicy{MaxAttempts: 1}).withDefaults(); one.MaxAttempts != 1 {
		t.Fatalf("MaxAttempts 1: %+v", one)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "7": 7 * time.Second, " 30 ": 30 * time.Second,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if d, ok := parseRetryAfter(v, now); !ok || d != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(v, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", v)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   bool
	}{
		{429, "rate_limited", true}, {502, "", true}, {503, "overloaded", true}, {503, "price_unavailable", false},
		{504, "", true}, {500, "internal_error", false}, {409, "withdrawal_not_pending", false}, {423, "account_locked", false},
	} {
		if got := retryable(&Error{Status: tc.status, Code: tc.code}); got != tc.want {
			t.Errorf("retryable(%d %s) = %v", tc.status, tc.code, got)
		}
	}
}
