package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
)

func newRulesCommand(g *globalFlags, stdout, stderr io.Writer) *cobra.Command {
	rules := &cobra.Command{Use: "rules", Short: "Check monitoring rules, and replay stored events through them"}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a rules file: every field, every condition type-checked, with the error's position",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			rs, err := readRules(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: %d rules, all good\n", args[0], len(rs))
			return nil
		},
	}
	var since string
	backtest := &cobra.Command{
		Use:   "backtest FILE",
		Short: "Replay the stored events of a recent period through a rules file and print what would have fired",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			period, err := parseSince(since)
			if err != nil {
				return &exitError{code: exitConfigError, msg: "--since: " + err.Error()}
			}
			if _, err := readRules(args[0]); err != nil {
				return err
			}
			source, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			svc := &monitor.Service{
				View: func(ctx context.Context, fn func(monitor.Tx) error) error {
					return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
				},
				Currency: money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
				Now:      time.Now,
			}
			var bar func(done, total int)
			p := &progressBar{w: stderr}
			if onTerminal(stderr) {
				bar = p.draw
			}
			rep, err := svc.Backtest(ctx, source, time.Now().Add(-period), bar)
			p.end() // before the report or the error, which start a line of their own
			if err != nil {
				return err
			}
			printBacktest(stdout, rep)
			return nil
		},
	}
	backtest.Flags().StringVar(&since, "since", "30d", "how far back to replay: a number of days (30d) or a Go duration (12h)")
	rules.AddCommand(check, backtest)
	return rules
}

// readRules parses and compiles a rules file, as the server would.
func readRules(path string) ([]monitor.Compiled, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := monitor.ParseRules(data)
	if err == nil {
		var compiled []monitor.Compiled
		if compiled, err = monitor.Compile(rs); err == nil {
			return compiled, nil
		}
	}
	var re monitor.RuleErrors
	if errors.As(err, &re) {
		lines := make([]string, len(re))
		for i, e := range re {
			lines[i] = path + ": " + e.Error()
		}
		return nil, &exitError{code: exitFailure, msg: strings.Join(lines, "\n")}
	}
	return nil, err
}

// parseSince reads 30d or a Go duration.
func parseSince(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("want a number of days from 1 to 3650, got %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want 30d or a duration such as 12h, got %q", s)
	}
	return d, nil
}

// onTerminal tells whether w is a terminal (a character device), where a
// progress bar can redraw its line. A pipe, a file or a log collector is not:
// there the bar would leave a carriage return and a line per redraw, so the
// backtest draws none (and skips counting the events for it).
func onTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####-----] 12,000/40,000 events" on one terminal line.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func (p *progressBar) draw(done, total int) {
	const width = 30
	filled := width
	if total > 0 {
		filled = min(done*width/total, width)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d events", strings.Repeat("#", filled), strings.Repeat("-", width-filled), done, total)
	p.drawn = true
}

// end leaves the bar's line, if one was drawn, so what follows starts on the next.
func (p *progressBar) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func printBacktest(w io.Writer, rep monitor.BacktestReport) {
	fmt.Fprintf(w, "replayed %d events (%d in the period) in %s: %.0f events/s\n",
		rep.Events, rep.Evaluated, rep.Elapsed.Round(time.Millisecond), rep.EventsPerSecond())
	fmt.Fprintf(w, "%-36s %-7s %-9s %8s %8s %7s  %s\n", "RULE", "MODE", "ACTION", "HITS", "USERS", "ERRORS", "SAMPLE USERS")
	for _, r := range rep.Rules {
		fmt.Fprintf(w, "%-36s %-7s %-9s %8d %8d %7d  %s\n", r.RuleID, r.Mode, r.Action, r.Hits, r.Users, r.Errors, strings.Join(r.Samples, " "))
	}
}
