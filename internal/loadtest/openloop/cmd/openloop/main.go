// Command openloop sends POST requests at a constant rate over a fixed number
// of keep-alive connections and prints the latency percentiles measured from
// each request's scheduled send time (package openloop explains why).
//
//	openloop -url http://127.0.0.1:8080/admin/v1/sessions/introspect \
//	    -bodies introspect.jsonl -H "Authorization: Bearer wak_…" \
//	    -rate 25000 -conns 32 -duration 10s -warmup 2s -label warden
//
// It prints one line of "key value" pairs (scripts/bench-introspect.sh reads it):
// label, target rate, achieved rate, p50/p90/p99/p99.9/max latency in ms, the
// send lag's p50/p99 in ms (how late the generator itself was), answers by
// status class, errors and the first error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/loadtest/openloop"
)

type headers [][2]string

func (h *headers) String() string { return fmt.Sprint(*h) }
func (h *headers) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("want Name: value, got %q", s)
	}
	*h = append(*h, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
	return nil
}

func main() {
	var cfg openloop.Config
	var hs headers
	bodies := flag.String("bodies", "", "file with one request body per line (required)")
	label := flag.String("label", "run", "label printed with the result")
	flag.StringVar(&cfg.URL, "url", "", "http://host:port/path to POST to (required)")
	flag.Var(&hs, "H", "extra header, Name: value (repeatable)")
	flag.Float64Var(&cfg.Rate, "rate", 25000, "requests per second, all connections together")
	flag.IntVar(&cfg.Conns, "conns", 32, "keep-alive connections")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured duration")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "duration sent first at the same rate, not counted")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "per-answer timeout")
	flag.Parse()
	if cfg.URL == "" || *bodies == "" || cfg.Duration > 10*time.Minute || cfg.Conns > 10000 {
		fmt.Fprintln(os.Stderr, "openloop: -url and -bodies are required; -duration at most 10m, -conns at most 10000")
		os.Exit(2)
	}
	cfg.Header = hs
	f, err := os.Open(*bodies)
	if err != nil {
		fail(err)
	}
	cfg.Bodies, err = openloop.ReadBodies(f)
	f.Close()
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := openloop.Run(ctx, cfg)
	if err != nil {
		fail(err)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	l := res.Latency
	var classes []string
	for s, n := range res.Status {
		classes = append(classes, fmt.Sprintf("%d:%d", s, n))
	}
	sort.Strings(classes)
	firstErr := "-"
	if res.FirstErr != nil {
		firstErr = strings.ReplaceAll(res.FirstErr.Error(), " ", "_")
	}
	fmt.Printf("label %s rate %.0f achieved %.0f scheduled %d done %d errors %d p50_ms %s p90_ms %s p99_ms %s p999_ms %s max_ms %s lag_p50_ms %s lag_p99_ms %s status %s first_error %s\n",
		*label, cfg.Rate, res.Achieved(), res.Scheduled, res.Done, res.Errors,
		ms(openloop.Percentile(l, 50)), ms(openloop.Percentile(l, 90)), ms(openloop.Percentile(l, 99)),
		ms(openloop.Percentile(l, 99.9)), ms(openloop.Percentile(l, 100)),
		ms(openloop.Percentile(res.SendLag, 50)), ms(openloop.Percentile(res.SendLag, 99)),
		strings.Join(classes, ","), firstErr)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "openloop:", err)
	os.Exit(1)
}
