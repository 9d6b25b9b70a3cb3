// Command flood checks how Warden holds up under a login flood
// (scripts/bench-flood.sh).
//
// CLIENTS goroutines, each with its own keep-alive connection from
// -flood-addr (127.0.0.1), post logins to POST /v1/sessions as fast as the
// answers come, for DURATION: in turn a wrong password for a seeded account,
// an email without an account, and the right password. Meanwhile
//
//   - the server's VmRSS (/proc/PID/status) is sampled every 100 ms;
//   - every second a login "from outside the flood" — the right password of
//     another seeded account, one the flood never uses, on a new connection
//     from -outside-addr (127.0.0.2, another source address, so that the
//     per-IP limit the flood exhausts is not its own) — is timed.
//
// Every flood answer must be 201, 401, 429 or 503; any other status or a
// transport error (including no answer within -timeout) is a failure. Every
// outside login must answer 201 within -outside-max (2 s).
//
// It prints one "key value" line per part and a verdict per criterion, and
// exits 1 if any criterion failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "Warden's base URL")
	dir := flag.String("dir", ".", "folder with the seed's logins.jsonl and unknown.jsonl")
	clients := flag.Int("clients", 500, "concurrent flood clients")
	duration := flag.Duration("duration", 30*time.Second, "how long to flood")
	pid := flag.Int("pid", 0, "the server's process id, for VmRSS (0: not sampled)")
	floodAddr := flag.String("flood-addr", "127.0.0.1", "local address of the flood's connections")
	outsideAddr := flag.String("outside-addr", "127.0.0.2", "local address of the outside logins")
	outsideCount := flag.Int("outside", 40, "seeded accounts kept for the outside logins (one per second)")
	outsideMax := flag.Duration("outside-max", 2*time.Second, "longest acceptable outside login")
	maxRSS := flag.Int("max-rss-mib", 400, "largest acceptable VmRSS, MiB")
	timeout := flag.Duration("timeout", 20*time.Second, "a flood request without an answer by then is a failure")
	flag.Parse()
	if *clients < 1 || *clients > 10000 || *duration <= 0 || *duration > 10*time.Minute {
		fail(fmt.Errorf("clients must be 1 to 10000 and duration at most 10m"))
	}

	known, err := readBodies(filepath.Join(*dir, "logins.jsonl"))
	if err != nil {
		fail(err)
	}
	unknown, err := readBodies(filepath.Join(*dir, "unknown.jsonl"))
	if err != nil {
		fail(err)
	}
	if len(known) < *outsideCount+10 || len(unknown) == 0 {
		fail(fmt.Errorf("need more than %d seeded accounts, have %d", *outsideCount+10, len(known)))
	}
	outsideBodies := known[len(known)-*outsideCount:]
	floodKnown := known[:len(known)-*outsideCount]
	floodWrong := make([][]byte, len(floodKnown))
	for i, b := range floodKnown {
		floodWrong[i] = withPassword(b, "not the password of this account")
	}
	url := strings.TrimSuffix(*base, "/") + "/v1/sessions"

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var rss rssSampler
	if *pid > 0 {
		rss.start(*pid, 100*time.Millisecond)
	}

	// The outside logins: one per second, each on its own goroutine so that
	// a slow one does not delay the next.
	var outside []outsideResult
	var outMu sync.Mutex
	var outWG sync.WaitGroup
	outClient := newClient(*outsideAddr, 1, false, 10*time.Second)
	outWG.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			body := outsideBodies[i%len(outsideBodies)]
			outWG.Go(func() {
				r := loginOnce(outClient, url, body)
				r.at = i + 1
				outMu.Lock()
				outside = append(outside, r)
				outMu.Unlock()
			})
		}
	})

	// The flood.
	floodClient := newClient(*floodAddr, *clients, true, *timeout)
	var counts statusCounts
	var transportErrs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := range *clients {
		wg.Go(func() {
			for n := c; ctx.Err() == nil; n += *clients {
				var body []byte
				switch n % 3 {
				case 0:
					body = floodWrong[n/3%len(floodWrong)]
				case 1:
					body = unknown[n/3%len(unknown)]
				default:
					body = floodKnown[n/3%len(floodKnown)]
				}
				// Not tied to ctx: a request sent before the end gets its answer.
				status, err := post(floodClient, url, body)
				if err != nil {
					transportErrs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				counts.add(status)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	outWG.Wait()
	rss.stop()

	// Report.
	total, bad := counts.total()
	fe, _ := firstErr.Load().(string)
	fmt.Printf("flood clients %d seconds %.1f answers %d per_second %.0f status %s bad_status %d transport_errors %d first_error %q\n",
		*clients, elapsed.Seconds(), total, float64(total)/elapsed.Seconds(), counts.String(), bad, transportErrs.Load(), fe)
	if *pid > 0 {
		fmt.Printf("memory max_vmrss_mib %.1f vmhwm_mib %.1f samples %d\n", rss.maxMiB(), rss.hwmMiB(*pid), rss.samples.Load())
	}
	sort.Slice(outside, func(i, j int) bool { return outside[i].at < outside[j].at })
	var lat []time.Duration
	okOutside := 0
	var list []string
	for _, o := range outside {
		lat = append(lat, o.latency)
		if o.status == http.StatusCreated && o.err == "" && o.latency < *outsideMax {
			okOutside++
		}
		s := strconv.Itoa(o.status)
		if o.err != "" {
			s = "err"
		}
		list = append(list, fmt.Sprintf("%s/%.0fms", s, ms(o.latency)))
	}
	slices.Sort(lat)
	var med, mx time.Duration
	if len(lat) > 0 {
		med, mx = lat[len(lat)/2], lat[len(lat)-1]
	}
	fmt.Printf("outside logins %d ok %d median_ms %.1f max_ms %.1f each %s\n", len(outside), okOutside, ms(med), ms(mx), strings.Join(list, ","))
	for _, o := range outside {
		if o.err != "" {
			fmt.Printf("outside login %d error: %s\n", o.at, o.err)
		} else if o.status != http.StatusCreated {
			fmt.Printf("outside login %d answered %d: %s\n", o.at, o.status, o.body)
		}
	}

	failed := false
	verdict := func(name string, ok bool, detail string) {
		word := "met"
		if !ok {
			word, failed = "MISSED", true
		}
		fmt.Printf("verdict %-32s %-6s %s\n", name, word, detail)
	}
	if *pid > 0 {
		verdict("rss under "+strconv.Itoa(*maxRSS)+" MiB", rss.maxMiB() < float64(*maxRSS), fmt.Sprintf("max VmRSS %.1f MiB", rss.maxMiB()))
	}
	verdict("every flood request answered", bad == 0 && transportErrs.Load() == 0,
		fmt.Sprintf("%d answers, %d other statuses, %d transport errors", total, bad, transportErrs.Load()))
	verdict("outside logins 201 within "+outsideMax.String(), len(outside) > 0 && okOutside == len(outside),
		fmt.Sprintf("%d of %d, max %.0f ms", okOutside, len(outside), ms(mx)))
	if failed {
		os.Exit(1)
	}
}

// newClient returns a client whose connections come from localAddr.
func newClient(localAddr string, conns int, keepAlive bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localAddr)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableKeepAlives:   !keepAlive,
		},
	}
}

// post sends one login and drains the answer.
func post(c *http.Client, url string, body []byte) (int, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

type outsideResult struct {
	at      int
	status  int
	latency time.Duration
	err     string
	body    string
}

func loginOnce(c *http.Client, url string, body []byte) outsideResult {
	start := time.Now()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return outsideResult{latency: time.Since(start), err: err.Error()}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	r := outsideResult{status: resp.StatusCode, latency: time.Since(start), body: string(b)}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

// statusCounts counts answers by status, without a lock on the common ones.
type statusCounts struct {
	ok, unauthorized, limited, overloaded atomic.Int64
	mu                                    sync.Mutex
	other                                 map[int]int64
}

func (s *statusCounts) add(status int) {
	switch status {
	case http.StatusCreated:
		s.ok.Add(1)
	case http.StatusUnauthorized:
		s.unauthorized.Add(1)
	case http.StatusTooManyRequests:
		s.limited.Add(1)
	case http.StatusServiceUnavailable:
		s.overloaded.Add(1)
	default:
		s.mu.Lock()
		if s.other == nil {
			s.other = map[int]int64{}
		}
		s.other[status]++
		s.mu.Unlock()
	}
}

// total returns all answers and those with a status outside 201/401/429/503.
func (s *statusCounts) total() (all, bad int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.other {
		bad += n
	}
	return s.ok.Load() + s.unauthorized.Load() + s.limited.Load() + s.overloaded.Load() + bad, bad
}

func (s *statusCounts) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := []string{
		fmt.Sprintf("201:%d", s.ok.Load()), fmt.Sprintf("401:%d", s.unauthorized.Load()),
		fmt.Sprintf("429:%d", s.limited.Load()), fmt.Sprintf("503:%d", s.overloaded.Load()),
	}
	for st, n := range s.other {
		parts = append(parts, fmt.Sprintf("%d:%d", st, n))
	}
	return strings.Join(parts, ",")
}

// rssSampler keeps the largest VmRSS seen.
type rssSampler struct {
	maxKiB, samples atomic.Int64
	done            chan struct{}
	wg              sync.WaitGroup
}

func (r *rssSampler) start(pid int, every time.Duration) {
	r.done = make(chan struct{})
	r.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if kib := statusKiB(pid, "VmRSS"); kib > 0 {
				r.samples.Add(1)
				if kib > r.maxKiB.Load() {
					r.maxKiB.Store(kib)
				}
			}
			select {
			case <-r.done:
				return
			case <-tick.C:
			}
		}
	})
}

func (r *rssSampler) stop() {
	if r.done != nil {
		close(r.done)
		r.wg.Wait()
	}
}

func (r *rssSampler) maxMiB() float64        { return float64(r.maxKiB.Load()) / 1024 }
func (r *rssSampler) hwmMiB(pid int) float64 { return float64(statusKiB(pid, "VmHWM")) / 1024 }

// statusKiB reads one "Name: N kB" line of /proc/PID/status.
func statusKiB(pid int, name string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func readBodies(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for line := range bytes.Lines(b) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
		}
	}
	return out, nil
}

// withPassword returns a login body with its password replaced.
func withPassword(body []byte, password string) []byte {
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		fail(err)
	}
	m["password"] = password
	b, _ := json.Marshal(m)
	return b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "flood:", err)
	os.Exit(2)
}
