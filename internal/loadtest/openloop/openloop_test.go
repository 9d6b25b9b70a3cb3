package openloop

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunHoldsTheRate(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer k" || !strings.HasPrefix(string(b), `{"n":`) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		got.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Config{
		URL: srv.URL + "/x", Bodies: [][]byte{[]byte(`{"n":1}`), []byte(`{"n":2}`)},
		Header: [][2]string{{"Authorization", "Bearer k"}},
		Rate:   2000, Conns: 4, Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Status[200] != res.Done || res.Done != res.Scheduled {
		t.Fatalf("errors %d, status %v, done %d of %d scheduled (first error %v)", res.Errors, res.Status, res.Done, res.Scheduled, res.FirstErr)
	}
	// 2000/s for 0.5 s is 1000 requests; the warm-up's 200 were sent too.
	if res.Scheduled < 990 || res.Scheduled > 1010 {
		t.Errorf("scheduled %d requests in the measured half second, want 1000", res.Scheduled)
	}
	if n := got.Load(); n < int64(res.Scheduled)+190 {
		t.Errorf("server saw %d requests, want the measured %d and about 200 of warm-up", n, res.Scheduled)
	}
	if a := res.Achieved(); a < 1800 || a > 2200 {
		t.Errorf("achieved %.0f/s, want about 2000", a)
	}
}

// A server that stalls for 200 ms: a closed-loop generator would record one
// slow request; here every request scheduled during the stall waits behind it,
// and its latency counts from its scheduled time.
func TestRunCountsFromTheScheduledTime(t *testing.T) {
	var stalled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if !stalled.Swap(true) {
			time.Sleep(200 * time.Millisecond)
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Config{
		URL: srv.URL, Bodies: [][]byte{[]byte("{}")}, Rate: 1000, Conns: 1, Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Done < 490 {
		t.Fatalf("errors %d, done %d (first error %v)", res.Errors, res.Done, res.FirstErr)
	}
	// About 200 of the 500 requests were scheduled during the stall, waiting
	// 0–200 ms: the 90th percentile is about 100 ms.
	if p := Percentile(res.Latency, 90); p < 50*time.Millisecond {
		t.Errorf("p90 %v: the requests queued behind the stall were not counted from their scheduled time", p)
	}
	if p := Percentile(res.Latency, 50); p > 20*time.Millisecond {
		t.Errorf("p50 %v, want the requests after the stall to be fast", p)
	}
}

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		ok     bool
	}{
		{"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", 201, true},
		{"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nRetry-After: 1\r\n\r\n", 429, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0, false},
		{"HTTP/1.1 200 OK\r\n\r\n", 0, false},
		{"garbage\r\n", 0, false},
	} {
		got, err := readResponse(bufioReader(tc.in))
		if (err == nil) != tc.ok || got != tc.status {
			t.Errorf("%q: got %d, %v", tc.in, got, err)
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[i] = time.Duration(i + 1)
	}
	for p, want := range map[float64]time.Duration{50: 500, 99: 990, 99.9: 999, 100: 1000} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
