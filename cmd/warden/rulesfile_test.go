package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
)

// lockedBuffer is a stderr that the server's log writer and the test can
// share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveOnce runs `warden serve` until it logs that it serves, then stops
// it; it returns the exit code and stderr. A start-up that fails returns
// at once.
func serveOnce(t *testing.T) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, &stdout, stderr) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case code := <-done:
			return code, stderr.String()
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("warden serve did not start in 30 s; stderr:\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(stderr.String(), `"msg":"warden serving"`) {
			cancel()
			select {
			case code := <-done:
				return code, stderr.String()
			case <-time.After(30 * time.Second):
				t.Fatalf("warden serve did not stop in 30 s; stderr:\n%s", stderr.String())
			}
		}
	}
}

// ruleState is what the database says of the rules: the newest stored
// version (0 for none: the defaults) and the audit records of rule changes.
type ruleState struct {
	version   monitor.RuleSetVersion
	audited   []audit.Record
	hasStored bool
}

func readRuleState(t *testing.T, url string) ruleState {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var s ruleState
	err = st.Read(ctx, func(tx *store.Tx) error {
		v, err := tx.LatestRuleSet(ctx)
		switch err {
		case nil:
			s.version, s.hasStored = v, true
		case store.ErrNotFound:
		default:
			return err
		}
		s.audited, err = tx.ListAuditRecords(ctx, store.AuditFilter{Action: "rules.updated", Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WARDEN_RULES_FILE is made the rules in force at start when it differs
// from them (a new version, audited), changes nothing when it is the same,
// and stops start-up with the rule's error when it does not check.
func TestRulesFileAtStart(t *testing.T) {
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "warden.db")
	t.Setenv("WARDEN_DATABASE_URL", url)
	t.Setenv("WARDEN_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	t.Setenv("WARDEN_SMTP_URL", "smtp://127.0.0.1:25") // no mail is sent
	t.Setenv("WARDEN_ADDR", "127.0.0.1:0")
	t.Setenv("WARDEN_LOG_FORMAT", "json")
	t.Setenv("WARDEN_LOG_LEVEL", "info")
	if code, _, errOut := runWarden(t, "migrate"); code != exitOK {
		t.Fatalf("migrate: %s", errOut)
	}
	rulesFile := filepath.Join(dir, "rules.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(rulesFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const loaded = `"msg":"monitoring rules loaded from file"`

	// Without the variable: the defaults, nothing stored.
	if code, errOut := serveOnce(t); code != exitOK || strings.Contains(errOut, loaded) {
		t.Fatalf("serve without a rules file: exit %d, stderr:\n%s", code, errOut)
	}
	if s := readRuleState(t, url); s.hasStored || len(s.audited) != 0 {
		t.Fatalf("rules stored without a rules file: %+v", s)
	}

	t.Setenv("WARDEN_RULES_FILE", rulesFile)
	checkVersion := func(t *testing.T, version int, source string) {
		t.Helper()
		s := readRuleState(t, url)
		if s.version.Version != version || s.version.Source != source || s.version.CreatedBy != "system:rules_file" {
			t.Fatalf("rules in force: version %d by %q, source %q; want version %d by system:rules_file from the file",
				s.version.Version, s.version.CreatedBy, s.version.Source, version)
		}
		if len(s.audited) != version {
			t.Fatalf("%d rules.updated audit records, want %d", len(s.audited), version)
		}
		newest := s.audited[0]
		var data struct {
			Version int      `json:"version"`
			Rules   []string `json:"rules"`
		}
		if err := json.Unmarshal(newest.Data, &data); err != nil {
			t.Fatal(err)
		}
		if newest.Actor != "system:rules_file" || data.Version != version {
			t.Fatalf("newest audit record: actor %q, data %s", newest.Actor, newest.Data)
		}
	}

	t.Run("a good file becomes the rules in force", func(t *testing.T) {
		write(testRules)
		code, errOut := serveOnce(t)
		if code != exitOK || !strings.Contains(errOut, loaded) || !strings.Contains(errOut, rulesFile) {
			t.Fatalf("exit %d, stderr:\n%s", code, errOut)
		}
		checkVersion(t, 1, testRules)
		// The record names each rule ("id:mode:action"), the mode a rule
		// leaves out recorded as its default.
		var data struct{ Rules []string }
		_ = json.Unmarshal(readRuleState(t, url).audited[0].Data, &data)
		if got := strings.Join(data.Rules, " "); got != "big_deposit:active:alert withdrawal_burst:shadow:hold negative_trade:active:freeze" {
			t.Fatalf("audited rules %v", data.Rules)
		}
	})
	t.Run("the same file again changes nothing", func(t *testing.T) {
		code, errOut := serveOnce(t)
		if code != exitOK || strings.Contains(errOut, loaded) {
			t.Fatalf("exit %d, stderr:\n%s", code, errOut)
		}
		checkVersion(t, 1, testRules)
	})
	changed := strings.Replace(testRules, "event.value > 1000.0", "event.value > 2000.0", 1)
	t.Run("a changed file is the next version", func(t *testing.T) {
		write(changed)
		if code, errOut := serveOnce(t); code != exitOK || !strings.Contains(errOut, loaded) {
			t.Fatalf("exit %d, stderr:\n%s", code, errOut)
		}
		checkVersion(t, 2, changed)
	})
	t.Run("a bad file stops start-up", func(t *testing.T) {
		write(badRules)
		code, errOut := serveOnce(t)
		if code == exitOK || strings.Contains(errOut, "warden serving") {
			t.Fatalf("served with a bad rules file: exit %d, stderr:\n%s", code, errOut)
		}
		last := lastLine(errOut)
		// A configuration error like any other: exit 2, the key named.
		if code != exitConfigError {
			t.Errorf("exit %d, want %d", code, exitConfigError)
		}
		for _, want := range []string{"warden: config: WARDEN_RULES_FILE: " + rulesFile + ": ",
			"broken_rule: condition at 2:3: undeclared reference to 'account'", "loud_rule: action: "} {
			if !strings.Contains(last, want) {
				t.Errorf("error %q does not say %q", last, want)
			}
		}
		checkVersion(t, 2, changed) // the running set stays
	})
	t.Run("a missing file stops start-up", func(t *testing.T) {
		t.Setenv("WARDEN_RULES_FILE", filepath.Join(dir, "nope.yaml"))
		code, errOut := serveOnce(t)
		if last := lastLine(errOut); code != exitConfigError || !strings.HasPrefix(last, "warden: config: WARDEN_RULES_FILE: ") || !strings.Contains(last, "nope.yaml") {
			t.Fatalf("exit %d, stderr:\n%s", code, errOut)
		}
		checkVersion(t, 2, changed)
	})
	// Every change was audited in the chain as any other.
	if code, out, errOut := runWarden(t, "audit", "verify"); code != exitOK || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: exit %d, %s %s", code, out, errOut)
	}
}

// lastLine is the last line of a command's stderr: its error, after the logs.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
