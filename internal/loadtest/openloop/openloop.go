// Package openloop is a constant-rate (open-loop) HTTP/1.1 load generator.
//
// A closed-loop generator such as wrk sends the next request on a connection
// only when the previous answer is in: when the server stalls, it stops
// sending, and the requests it would have sent during the stall are never
// measured ("coordinated omission"). At saturation it measures its own queue.
//
// Here every request has a scheduled send time fixed in advance: Rate
// requests per second in total, spread evenly across Conns keep-alive
// connections (connection i sends at start + (i + k·Conns)/Rate, k = 0, 1, …).
// A connection that is still waiting for an answer when its next slot comes
// sends as soon as it can, and the request's latency is counted from its
// scheduled time, so time spent waiting behind a slow answer is counted as
// the client would see it.
//
// Each result also reports the generator's own lag: how late a request went
// out after the moment it could have (its scheduled time, or the previous
// answer on its connection if that came later). If that lag is large, the
// generator itself could not keep the schedule (not enough CPU or timer
// precision), and the latencies measure the generator, not the server.
//
// The client is a minimal HTTP/1.1 client over net.Conn: requests are
// formatted once, answers must carry a Content-Length (chunked answers are
// reported as errors). It is meant for loopback benchmarks only.
package openloop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Config describes one run.
type Config struct {
	URL      string        // http://host:port/path; the requests are POSTs
	Bodies   [][]byte      // request bodies, used in turn (connection i starts at a different one)
	Header   [][2]string   // extra request headers, e.g. {"Authorization", "Bearer …"}
	Rate     float64       // requests per second, all connections together
	Conns    int           // keep-alive connections
	Duration time.Duration // measured part of the run
	Warmup   time.Duration // sent at the same rate before Duration, not counted
	Timeout  time.Duration // per answer; a connection that times out is redialled
}

// Result is what one run measured. Latencies count from each request's
// scheduled send time to the end of its answer.
type Result struct {
	Scheduled int           // requests whose scheduled time fell in the measured part
	Done      int           // of those, answered with any status
	Errors    int           // transport errors and unparsable answers
	Status    map[int]int   // answers by status
	Elapsed   time.Duration // first scheduled send to last answer, measured part
	Latency   []time.Duration
	SendLag   []time.Duration // actual send time minus max(scheduled time, previous answer on the connection)
	FirstErr  error
}

// Achieved is answered requests per second over the measured part.
func (r Result) Achieved() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Done) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of ds, nearest rank; ds must be sorted.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(ds))+0.999999) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

// Run sends the load and returns what it measured, Latency and SendLag sorted.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Rate <= 0 || cfg.Conns < 1 || cfg.Duration <= 0 || len(cfg.Bodies) == 0 {
		return Result{}, errors.New("openloop: need Rate > 0, Conns ≥ 1, Duration > 0 and at least one body")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Result{}, fmt.Errorf("openloop: want an http://host:port/path URL, got %q", cfg.URL)
	}
	reqs := formatRequests(u, cfg.Header, cfg.Bodies)

	interval := time.Duration(float64(time.Second) * float64(cfg.Conns) / cfg.Rate) // per connection
	start := time.Now().Add(50 * time.Millisecond)                                  // time to dial
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)

	results := make([]connResult, cfg.Conns)
	var wg sync.WaitGroup
	for i := range cfg.Conns {
		offset := time.Duration(float64(time.Second) * float64(i) / cfg.Rate)
		wg.Go(func() {
			results[i] = runConn(ctx, u.Host, reqs, i*7919, start.Add(offset), interval, measureFrom, end, cfg.Timeout)
		})
	}
	wg.Wait()

	res := Result{Status: map[int]int{}}
	var last time.Time
	for _, c := range results {
		res.Scheduled += c.scheduled
		res.Done += len(c.latency)
		res.Errors += c.errors
		res.Latency = append(res.Latency, c.latency...)
		res.SendLag = append(res.SendLag, c.sendLag...)
		for s, n := range c.status {
			res.Status[s] += n
		}
		if c.last.After(last) {
			last = c.last
		}
		if res.FirstErr == nil {
			res.FirstErr = c.firstErr
		}
	}
	if !last.IsZero() {
		res.Elapsed = last.Sub(measureFrom)
	}
	slices.Sort(res.Latency)
	slices.Sort(res.SendLag)
	return res, nil
}

// formatRequests renders each body as a complete HTTP/1.1 POST.
func formatRequests(u *url.URL, header [][2]string, bodies [][]byte) [][]byte {
	path := u.RequestURI()
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, u.Host, len(b))
		for _, h := range header {
			fmt.Fprintf(&buf, "%s: %s\r\n", h[0], h[1])
		}
		buf.WriteString("\r\n")
		buf.Write(b)
		out[i] = buf.Bytes()
	}
	return out
}

type connResult struct {
	scheduled, errors int
	latency, sendLag  []time.Duration
	status            map[int]int
	last              time.Time
	firstErr          error
}

// runConn drives one connection through its schedule: slot k at first + k·interval.
func runConn(ctx context.Context, addr string, reqs [][]byte, next int, first time.Time, interval time.Duration,
	measureFrom, end time.Time, timeout time.Duration) connResult {
	res := connResult{status: map[int]int{}}
	var conn net.Conn
	var br *bufio.Reader
	var prevDone time.Time
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for k := 0; ; k++ {
		sched := first.Add(time.Duration(k) * interval)
		if !sched.Before(end) || ctx.Err() != nil {
			return res
		}
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		counted := !sched.Before(measureFrom)
		if counted {
			res.scheduled++
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				res.fail(counted, err)
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		sent := time.Now()
		status, err := roundTrip(conn, br, reqs[next%len(reqs)], sent.Add(timeout))
		next++
		done := time.Now()
		if err != nil {
			res.fail(counted, err)
			conn.Close()
			conn = nil
			continue
		}
		ready := sched
		if prevDone.After(ready) {
			ready = prevDone // the connection was busy: not the generator's lag
		}
		prevDone = done
		if counted {
			res.latency = append(res.latency, done.Sub(sched))
			res.sendLag = append(res.sendLag, sent.Sub(ready))
			res.status[status]++
			res.last = done
		}
	}
}

func (r *connResult) fail(counted bool, err error) {
	if !counted {
		return
	}
	r.errors++
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// roundTrip writes one request and reads its answer, returning the status.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte, deadline time.Time) (int, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	return readResponse(br)
}

// readResponse reads a status line, headers and a Content-Length body.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("openloop: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("openloop: bad status line %q", line)
	}
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 { // "\r\n": end of headers
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil {
				return 0, fmt.Errorf("openloop: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, errors.New("openloop: chunked answers are not supported")
		}
	}
	if length < 0 {
		return 0, errors.New("openloop: answer without Content-Length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// ReadBodies reads one request body per non-empty line.
func ReadBodies(r io.Reader) ([][]byte, error) {
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
	}
	return out, sc.Err()
}
