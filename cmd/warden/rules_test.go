package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
)

// testRules is the rules file the backtests replay: a plain threshold, a
// windowed count in shadow mode, and a rule that never fires.
const testRules = `rules:
  - id: big_deposit
    description: a deposit over 1,000
    event_types: [deposit]
    condition: event.value > 1000.0
    action: alert
    severity: high
  - id: withdrawal_burst
    description: a third withdrawal request within an hour
    event_types: [withdrawal_requested]
    condition: count("withdrawal_requested", duration("1h")) >= 2
    action: hold
    mode: shadow
  - id: negative_trade
    event_types: [trade]
    condition: event.value < 0.0
    action: freeze
`

// badRules has a good rule, a condition that does not type-check on its
// second line, and an unknown action.
const badRules = `rules:
  - id: big_deposit
    event_types: [deposit]
    condition: event.value > 1000.0
    action: alert
  - id: broken_rule
    event_types: [deposit]
    condition: |
      event.value > 1.0 &&
        account.tier > 1
    action: alert
  - id: loud_rule
    event_types: [deposit]
    condition: "true"
    action: explode
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --- warden rules check ---

func TestRulesCheck(t *testing.T) {
	good := writeFile(t, "rules.yaml", testRules)
	bad := writeFile(t, "bad.yaml", badRules)
	notYAML := writeFile(t, "notyaml.yaml", "rules: [\n")
	unknownKey := writeFile(t, "colour.yaml", "rules:\n  - id: x\n    colour: red\n")
	empty := writeFile(t, "empty.yaml", "rules: []\n")
	missing := filepath.Join(t.TempDir(), "nope.yaml")

	t.Run("good file", func(t *testing.T) {
		code, out, errOut := runWarden(t, "rules", "check", good)
		if code != exitOK || out != good+": 3 rules, all good\n" || errOut != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("the shipped defaults", func(t *testing.T) {
		defaults := writeFile(t, "defaults.yaml", string(monitor.DefaultRules()))
		if code, out, errOut := runWarden(t, "rules", "check", defaults); code != exitOK || !strings.HasSuffix(out, "all good\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("bad rules", func(t *testing.T) {
		code, out, errOut := runWarden(t, "rules", "check", bad)
		if code != exitFailure || out != "" {
			t.Fatalf("exit %d, stdout %q; want 1 and nothing on stdout", code, out)
		}
		// Every problem, each on a line naming the file and the rule; the
		// CEL error with its line and column in the condition.
		want := []string{
			"warden: " + bad + ": broken_rule: condition at 2:3: undeclared reference to 'account'",
			bad + ": loud_rule: action: alert, hold, restrict or freeze",
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("stderr %q: want %d lines", errOut, len(want))
		}
		for i := range want {
			if !strings.HasPrefix(lines[i], want[i]) {
				t.Errorf("line %d: %q, want it to start %q", i+1, lines[i], want[i])
			}
		}
	})
	for _, tc := range []struct {
		name, path, want string
	}{
		{"not YAML", notYAML, notYAML + ": rules file: yaml: "},
		{"unknown key", unknownKey, "colour"},
		{"no rules", empty, "at least one rule"},
		{"missing file", missing, missing + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runWarden(t, "rules", "check", tc.path)
			if code != exitFailure || out != "" || !strings.HasPrefix(errOut, "warden: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and an error with %q", code, out, errOut, tc.want)
			}
		})
	}
	t.Run("no file named", func(t *testing.T) {
		if code, out, _ := runWarden(t, "rules", "check"); code == exitOK || out != "" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
	})
}

// --- warden rules backtest ---

const day = 24 * time.Hour

// history is a database with users and events of known values, and the
// time the events are placed from.
type history struct {
	url string
	now time.Time
}

// seedHistory migrates a new SQLite database through `warden migrate`,
// points WARDEN_DATABASE_URL at it, and stores four users and their events
// through the monitor's ingest, plus filler trades (one a minute, ending
// an hour ago) when asked. What testRules makes of the events, by period:
//
//	                    30d                          7d                    12h
//	big_deposit         4 hits: carol, bob, alice    3 hits: bob, alice    1 hit: alice
//	withdrawal_burst    3 hits: dave, carol          2 hits: carol         none
//	negative_trade      none                         none                  none
func seedHistory(t *testing.T, filler int) history {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "warden.db")
	t.Setenv("WARDEN_DATABASE_URL", url)
	if code, _, errOut := runWarden(t, "migrate"); code != exitOK {
		t.Fatalf("migrate: %s", errOut)
	}
	ctx := context.Background()
	cfg, err := loadConfig(&globalFlags{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	err = st.Write(ctx, func(tx *store.Tx) error {
		for _, name := range []string{"alice", "bob", "carol", "dave"} {
			email := name + "@example.com"
			if err := tx.InsertAccount(ctx, account.Account{ID: "usr_" + name, Realm: account.RealmUser, Email: email, EmailKey: email,
				EmailVerifiedAt: now.Add(-400 * day), PasswordHash: "x", CreatedAt: now.Add(-400 * day), VerificationTier: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := &monitor.Service{
		Transact: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(monitor.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Currency: money.Currency{Code: cfg.ReferenceCurrency, Decimals: cfg.ReferenceDecimals},
		Now:      time.Now,
	}
	var events []monitor.EventInput
	add := func(id, user, typ string, at time.Duration, value string) {
		events = append(events, monitor.EventInput{ID: id, UserID: "usr_" + user, Type: typ, Asset: "BTC", Amount: "0.1",
			ReferenceValue: value, OccurredAt: now.Add(at)})
	}
	// Alice: a large deposit two days ago and one six hours ago, a small one
	// between; a large one 40 days ago, before any period and its windows.
	add("a-old", "alice", "deposit", -40*day, "1500.00")
	add("a-big", "alice", "deposit", -2*day, "5000.00")
	add("a-small", "alice", "deposit", -2*day+time.Hour, "10.00")
	add("a-recent", "alice", "deposit", -6*time.Hour, "3000.00")
	// Bob: a large deposit, one of exactly 1,000 (a near miss), a trade.
	add("b-big", "bob", "deposit", -5*day, "2000.00")
	add("b-edge", "bob", "deposit", -4*day, "1000.00")
	add("b-trade", "bob", "trade", -day, "50.00")
	// Carol: a large deposit ten days ago; four withdrawal requests ten
	// minutes apart three days ago (the third and fourth fire), two two
	// hours apart a day ago (a near miss).
	add("c-big", "carol", "deposit", -10*day, "1200.00")
	for i := range 4 {
		add(fmt.Sprintf("c-w%d", i), "carol", "withdrawal_requested", -3*day+time.Duration(i)*10*time.Minute, "100.00")
	}
	add("c-w-slow-0", "carol", "withdrawal_requested", -day, "100.00")
	add("c-w-slow-1", "carol", "withdrawal_requested", -day+2*time.Hour, "100.00")
	// Dave: two withdrawal requests just before the 30-day period, which
	// only feed the window, and a third just inside it, which fires.
	add("d-w0", "dave", "withdrawal_requested", -30*day-20*time.Minute, "100.00")
	add("d-w1", "dave", "withdrawal_requested", -30*day-10*time.Minute, "100.00")
	add("d-w2", "dave", "withdrawal_requested", -30*day+20*time.Minute, "100.00")
	for i := range filler {
		add(fmt.Sprintf("fill-%d", i), "bob", "trade", -time.Hour-time.Duration(i)*time.Minute, "1.00")
	}
	for len(events) > 0 {
		n := min(len(events), monitor.MaxBatch)
		if res, err := svc.Ingest(ctx, events[:n]); err != nil || res.Accepted != n {
			t.Fatalf("ingest: %+v, %v", res, err)
		}
		events = events[n:]
	}
	return history{url: url, now: now}
}

// reportRow is one rule's line of a backtest's report.
type reportRow struct {
	mode, action        string
	hits, users, errors int
	samples             string
}

// backtestReport reads a backtest's stdout: the replayed and evaluated
// counts, and the rules' lines in order.
type backtestReport struct {
	events, evaluated int
	order             []string
	rules             map[string]reportRow
}

func parseBacktest(t *testing.T, out string) backtestReport {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var rep backtestReport
	if len(lines) < 2 {
		t.Fatalf("backtest output %q", out)
	}
	if _, err := fmt.Sscanf(lines[0], "replayed %d events (%d in the period)", &rep.events, &rep.evaluated); err != nil {
		t.Fatalf("first line %q: %v", lines[0], err)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "RULE MODE ACTION HITS USERS ERRORS SAMPLE USERS" {
		t.Fatalf("header %q", lines[1])
	}
	rep.rules = map[string]reportRow{}
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("rule line %q", line)
		}
		num := func(s string) int {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("rule line %q: %v", line, err)
			}
			return n
		}
		rep.order = append(rep.order, f[0])
		rep.rules[f[0]] = reportRow{mode: f[1], action: f[2], hits: num(f[3]), users: num(f[4]), errors: num(f[5]),
			samples: strings.Join(f[6:], " ")}
	}
	return rep
}

// noControlCharacters fails when s has a carriage return, an escape or any
// other control character but a newline.
func noControlCharacters(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range s {
		if c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("%s has control character %q: %q", what, c, s)
		}
	}
}

func TestRulesBacktest(t *testing.T) {
	h := seedHistory(t, 0)
	rulesFile := writeFile(t, "rules.yaml", testRules)
	for _, tc := range []struct {
		name              string
		args              []string
		events, evaluated int
		rules             map[string]reportRow
		order             []string
	}{
		{
			// From 30 days ago: everything but Alice's deposit of 40 days
			// ago; Dave's two requests before the period are replayed for
			// the window (16 events) and not evaluated (14).
			name: "30 days", args: []string{"--since", "30d"}, events: 16, evaluated: 14,
			rules: map[string]reportRow{
				"big_deposit":      {mode: "active", action: "alert", hits: 4, users: 3, samples: "usr_carol usr_bob usr_alice"},
				"withdrawal_burst": {mode: "shadow", action: "hold", hits: 3, users: 2, samples: "usr_dave usr_carol"},
				"negative_trade":   {mode: "active", action: "freeze"},
			},
			order: []string{"big_deposit", "withdrawal_burst", "negative_trade"},
		},
		{
			name: "30 days by default", events: 16, evaluated: 14,
			rules: map[string]reportRow{
				"big_deposit":      {mode: "active", action: "alert", hits: 4, users: 3, samples: "usr_carol usr_bob usr_alice"},
				"withdrawal_burst": {mode: "shadow", action: "hold", hits: 3, users: 2, samples: "usr_dave usr_carol"},
				"negative_trade":   {mode: "active", action: "freeze"},
			},
		},
		{
			// A week: Carol's deposit and all of Dave are before it.
			name: "7 days", args: []string{"--since", "7d"}, events: 12, evaluated: 12,
			rules: map[string]reportRow{
				"big_deposit":      {mode: "active", action: "alert", hits: 3, users: 2, samples: "usr_bob usr_alice"},
				"withdrawal_burst": {mode: "shadow", action: "hold", hits: 2, users: 1, samples: "usr_carol"},
				"negative_trade":   {mode: "active", action: "freeze"},
			},
			order: []string{"big_deposit", "withdrawal_burst", "negative_trade"},
		},
		{
			name: "12 hours", args: []string{"--since", "12h"}, events: 1, evaluated: 1,
			rules: map[string]reportRow{
				"big_deposit":      {mode: "active", action: "alert", hits: 1, users: 1, samples: "usr_alice"},
				"withdrawal_burst": {mode: "shadow", action: "hold"},
				"negative_trade":   {mode: "active", action: "freeze"},
			},
		},
		{
			name: "one minute", args: []string{"--since", "1m"},
			rules: map[string]reportRow{
				"big_deposit":      {mode: "active", action: "alert"},
				"withdrawal_burst": {mode: "shadow", action: "hold"},
				"negative_trade":   {mode: "active", action: "freeze"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runWarden(t, append([]string{"rules", "backtest", rulesFile}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			// stderr is not a terminal: no progress bar, nothing at all.
			if errOut != "" {
				t.Errorf("stderr %q, want nothing when it is not a terminal", errOut)
			}
			noControlCharacters(t, "stdout", out)
			rep := parseBacktest(t, out)
			if rep.events != tc.events || rep.evaluated != tc.evaluated {
				t.Errorf("replayed %d events, %d in the period; want %d and %d", rep.events, rep.evaluated, tc.events, tc.evaluated)
			}
			if len(rep.rules) != len(tc.rules) {
				t.Errorf("rules %v, want %d", rep.order, len(tc.rules))
			}
			for id, want := range tc.rules {
				if got, ok := rep.rules[id]; !ok || got != want {
					t.Errorf("%s: %+v, want %+v", id, got, want)
				}
			}
			if tc.order != nil && strings.Join(rep.order, " ") != strings.Join(tc.order, " ") {
				t.Errorf("rules in order %v, want %v (most hits first)", rep.order, tc.order)
			}
		})
	}

	// A backtest records nothing: no alert, no rule set.
	st, err := store.Open(context.Background(), h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Read(context.Background(), func(tx *store.Tx) error {
		alerts, err := tx.Alerts(context.Background(), monitor.AlertFilter{Limit: 100})
		if err != nil || len(alerts) != 0 {
			t.Errorf("alerts after backtests: %d, %v", len(alerts), err)
		}
		if _, err := tx.LatestRuleSet(context.Background()); err != store.ErrNotFound {
			t.Errorf("a backtest stored a rule set: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRulesBacktestRefuses(t *testing.T) {
	seedHistory(t, 0)
	rulesFile := writeFile(t, "rules.yaml", testRules)
	for _, since := range []string{"0d", "-3d", "1.5d", "d", "3651d", "30", "thirty days", "0s", "-12h", "12x", ""} {
		t.Run("--since "+since, func(t *testing.T) {
			code, out, errOut := runWarden(t, "rules", "backtest", rulesFile, "--since", since)
			if code != exitConfigError || out != "" || !strings.HasPrefix(errOut, "warden: --since: ") || !strings.Contains(errOut, strconv.Quote(since)) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and the value refused", code, out, errOut)
			}
		})
	}
	t.Run("bad rules", func(t *testing.T) {
		bad := writeFile(t, "bad.yaml", badRules)
		code, out, errOut := runWarden(t, "rules", "backtest", bad, "--since", "30d")
		if code != exitFailure || out != "" || !strings.Contains(errOut, bad+": broken_rule: condition at 2:3: ") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		if code, out, errOut := runWarden(t, "rules", "backtest", missing); code != exitFailure || out != "" || !strings.Contains(errOut, missing) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// --- the progress bar ---

// fakeTerminal is a writer that says it is a terminal, as a character
// device's os.File does.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) Stat() (os.FileInfo, error) { return charDevice{}, nil }

type charDevice struct{}

func (charDevice) Name() string       { return "tty" }
func (charDevice) Size() int64        { return 0 }
func (charDevice) Mode() fs.FileMode  { return fs.ModeDevice | fs.ModeCharDevice | 0o620 }
func (charDevice) ModTime() time.Time { return time.Time{} }
func (charDevice) IsDir() bool        { return false }
func (charDevice) Sys() any           { return nil }

func TestOnTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a buffer", &bytes.Buffer{}, false},
		{"a file", file, false},
		{"a pipe", w, false},
		{"a terminal", &fakeTerminal{}, true},
	} {
		if got := onTerminal(tc.w); got != tc.want {
			t.Errorf("%s: onTerminal %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProgressBarDraws(t *testing.T) {
	var out bytes.Buffer
	p := &progressBar{w: &out}
	p.end()
	if out.Len() != 0 {
		t.Fatalf("end without a bar wrote %q", out.String())
	}
	p.draw(0, 4)
	p.draw(1, 4)
	p.draw(4, 4)
	p.end()
	want := "\r[------------------------------] 0/4 events" +
		"\r[#######-----------------------] 1/4 events" +
		"\r[##############################] 4/4 events\n"
	if out.String() != want {
		t.Fatalf("drew %q\nwant %q", out.String(), want)
	}
	// Events stored after the count (the replay reads in a transaction of
	// its own) make done pass total: the bar stays full, and draws.
	out.Reset()
	p.draw(5, 4)
	if want := "\r[##############################] 5/4 events"; out.String() != want {
		t.Fatalf("past the total: drew %q, want %q", out.String(), want)
	}
}

// On a terminal the backtest redraws its bar every thousand events and at
// the end, then ends the line; elsewhere it draws nothing.
func TestRulesBacktestProgressBar(t *testing.T) {
	seedHistory(t, 2500)
	rulesFile := writeFile(t, "rules.yaml", testRules)
	const total = 16 + 2500 // the history's events from 30 days ago, and the filler

	t.Run("terminal", func(t *testing.T) {
		var out bytes.Buffer
		term := &fakeTerminal{}
		if code := run(context.Background(), []string{"rules", "backtest", rulesFile, "--since", "30d"}, &out, term); code != exitOK {
			t.Fatalf("exit %d, stderr %q", code, term.String())
		}
		frames := strings.Split(term.String(), "\r")
		want := []string{"",
			"[###########-------------------] 1000/2516 events",
			"[#######################-------] 2000/2516 events",
			"[##############################] 2516/2516 events\n",
		}
		if strings.Join(frames, "|") != strings.Join(want, "|") {
			t.Fatalf("stderr %q\nwant frames %q", term.String(), want)
		}
		if rep := parseBacktest(t, out.String()); rep.events != total || rep.rules["negative_trade"].hits != 0 || rep.rules["big_deposit"].hits != 4 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("file", func(t *testing.T) {
		// What a shell redirection gives: an *os.File that is no terminal.
		var out bytes.Buffer
		logFile, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
		if err != nil {
			t.Fatal(err)
		}
		code := run(context.Background(), []string{"rules", "backtest", rulesFile, "--since", "30d"}, &out, logFile)
		logFile.Close()
		written, err := os.ReadFile(logFile.Name())
		if err != nil {
			t.Fatal(err)
		}
		if code != exitOK || len(written) != 0 {
			t.Fatalf("exit %d, stderr %q; want nothing on a file", code, written)
		}
		noControlCharacters(t, "stdout", out.String())
		if rep := parseBacktest(t, out.String()); rep.events != total {
			t.Fatalf("replayed %d events, want %d", rep.events, total)
		}
	})
}
