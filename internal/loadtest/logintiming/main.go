// Command logintiming compares how long Warden takes to refuse a login for
// an email that has no account and for a known email with a wrong password.
// If the two differ, response times tell an attacker which emails have
// accounts. It sends the two kinds one at a time (never concurrently),
// interleaved — unknown then wrong, then wrong then unknown, and so on — so
// that drift in the machine's load falls on both alike, and prints the
// medians (scripts/bench-login.sh).
//
// Each request uses another email (from the seed's logins.jsonl and
// unknown.jsonl), so that no account's rate limit is reached; the server must
// allow N attempts per IP (WARDEN_RATE_LOGIN_PER_IP).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "Warden's base URL (loopback)")
	known := flag.String("known", "logins.jsonl", "login bodies of existing accounts (seed output)")
	unknown := flag.String("unknown", "unknown.jsonl", "login bodies of emails without an account (seed output)")
	n := flag.Int("n", 200, "requests of each kind")
	warmup := flag.Int("warmup", 10, "requests of each kind sent first and not counted")
	flag.Parse()
	if *n < 1 || *n > 5000 {
		fmt.Fprintln(os.Stderr, "logintiming: n must be 1 to 5000")
		os.Exit(2)
	}
	knownBodies, err := bodies(*known, "wrong password, not the seeded one")
	if err != nil {
		fail(err)
	}
	unknownBodies, err := bodies(*unknown, "")
	if err != nil {
		fail(err)
	}
	total := *n + *warmup
	if len(knownBodies) < total || len(unknownBodies) < total {
		fail(fmt.Errorf("need %d bodies of each kind, have %d and %d", total, len(knownBodies), len(unknownBodies)))
	}
	client := &http.Client{Timeout: 30 * time.Second}
	url := *base + "/v1/sessions"
	var tUnknown, tWrong []time.Duration
	for i := range total {
		kinds := []string{"unknown", "wrong"}
		if i%2 == 1 {
			kinds[0], kinds[1] = kinds[1], kinds[0]
		}
		for _, kind := range kinds {
			body := unknownBodies[i]
			if kind == "wrong" {
				body = knownBodies[i]
			}
			d, err := login(client, url, body)
			if err != nil {
				fail(fmt.Errorf("%s login %d: %w", kind, i, err))
			}
			if i < *warmup {
				continue
			}
			if kind == "wrong" {
				tWrong = append(tWrong, d)
			} else {
				tUnknown = append(tUnknown, d)
			}
		}
	}
	mu, mw := median(tUnknown), median(tWrong)
	fmt.Printf("logintiming n=%d unknown_median_ms %.2f wrong_median_ms %.2f unknown_p10_p90_ms %.2f %.2f wrong_p10_p90_ms %.2f %.2f ratio_wrong_to_unknown %.3f\n",
		*n, ms(mu), ms(mw), ms(pct(tUnknown, 10)), ms(pct(tUnknown, 90)), ms(pct(tWrong, 10)), ms(pct(tWrong, 90)), float64(mw)/float64(mu))
}

// bodies reads one JSON login body per line; a non-empty password replaces
// the one in the file.
func bodies(path, password string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if password != "" {
			m["password"] = password
		}
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	return out, sc.Err()
}

// login posts one login and checks that it was refused as invalid credentials.
func login(c *http.Client, url string, body []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(b, []byte(`"invalid_credentials"`)) {
		return 0, fmt.Errorf("want 401 invalid_credentials, got %d %s", resp.StatusCode, b)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "logintiming:", err)
	os.Exit(1)
}
