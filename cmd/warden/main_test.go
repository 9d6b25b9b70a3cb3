package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/store"
)

func runWarden(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestInvalidConfigurationStopsWithOneLineAndExit2(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "warden.yaml")
	if err := os.WriteFile(badFile, []byte("smtp_url: smtp://mail:25\nlisten: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantKey string
	}{
		{"bad address", map[string]string{"WARDEN_ADDR": "8080"}, []string{"serve", "--dev"}, "WARDEN_ADDR"},
		{"bad duration", map[string]string{"WARDEN_OUTBOX_BACKOFF_BASE": "often"}, []string{"migrate"}, "WARDEN_OUTBOX_BACKOFF_BASE"},
		{"no secret outside dev", map[string]string{"WARDEN_SMTP_URL": "smtp://localhost:25"}, []string{"serve"}, "WARDEN_SECRET_KEY"},
		{"no smtp outside dev", map[string]string{"WARDEN_SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}, []string{"serve"}, "WARDEN_SMTP_URL"},
		{"unknown key in file", nil, []string{"serve", "--config", badFile}, "--config"},
		{"missing file", nil, []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, "--config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WARDEN_DATABASE_URL", "sqlite://"+filepath.Join(t.TempDir(), "w.db"))
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runWarden(t, tc.args...)
			if code != exitConfigError {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "warden: config: "+tc.wantKey+": ") {
				t.Fatalf("stderr %q: want one line naming %s", stderr, tc.wantKey)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, ".go:") {
				t.Fatalf("stack trace in output: %s", stderr)
			}
		})
	}
}

func TestMigrateCreateKeyAndAuditVerify(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	t.Setenv("WARDEN_DATABASE_URL", "sqlite://"+dbPath)
	t.Setenv("WARDEN_SECRET_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))

	if code, out, errOut := runWarden(t, "migrate"); code != 0 || !strings.Contains(out, "version") {
		t.Fatalf("migrate: exit %d, %s %s", code, out, errOut)
	}
	if code, _, errOut := runWarden(t, "admin", "create-key", "--name", "x", "--scopes", "audit:read,money:print"); code != exitConfigError || !strings.Contains(errOut, "money:print") {
		t.Fatalf("unknown scope: exit %d, %s", code, errOut)
	}
	code, out, errOut := runWarden(t, "admin", "create-key", "--name", "payouts", "--scopes", "audit:read, withdrawals:read")
	key := strings.TrimSpace(out)
	if code != 0 || !adminkey.LooksLikeKey(key) {
		t.Fatalf("create-key: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	st, err := store.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.AdminKeyByHash(context.Background(), adminkey.Hash(key))
	if err != nil || !stored.Allows("withdrawals:read") || stored.Allows("users:write") {
		t.Fatalf("stored key %+v, %v", stored, err)
	}
	raw, _ := os.ReadFile(dbPath)
	if bytes.Contains(raw, []byte(key)) {
		t.Fatal("the plaintext key is in the database")
	}

	if code, out, errOut := runWarden(t, "audit", "verify"); code != 0 || !strings.Contains(out, "intact: 1 records") {
		t.Fatalf("verify intact: exit %d, %s %s", code, out, errOut)
	}
	if err := st.ExecRaw(context.Background(), `UPDATE audit_records SET data = '{"name":"someone else"}'`); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runWarden(t, "audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "audit record aud_") || !strings.Contains(errOut, "edited") {
		t.Fatalf("verify tampered: exit %d, stderr %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runWarden(t, "version")
	if code != 0 || !strings.HasPrefix(out, "warden ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestCreateStaff(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	t.Setenv("WARDEN_DATABASE_URL", "sqlite://"+dbPath)
	if code, _, errOut := runWarden(t, "migrate"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runWarden(t, "admin", "create-staff", "--email", "ops@example.com", "--role", "root"); code != exitConfigError || !strings.Contains(errOut, "support") {
		t.Fatalf("unknown role: exit %d, %s", code, errOut)
	}
	code, out, errOut := runWarden(t, "admin", "create-staff", "--email", "Ops@Example.com", "--role", "support")
	oneTime := strings.TrimSpace(out)
	if code != 0 || len(oneTime) != 29 {
		t.Fatalf("create-staff: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if code, _, _ := runWarden(t, "admin", "create-staff", "--email", "ops@example.com", "--role", "admin"); code != exitFailure {
		t.Fatalf("duplicate staff email: exit %d, want 1", code)
	}
	st, err := store.Open(context.Background(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Read(context.Background(), func(tx *store.Tx) error {
		a, err := tx.AccountByEmail(context.Background(), "staff", "ops@example.com")
		if err != nil {
			return err
		}
		if a.StaffRole != "support" || !a.MustChangePassword || !a.Verified() || strings.Contains(a.PasswordHash, oneTime) {
			t.Errorf("staff account %+v", a)
		}
		// A staff email does not make a user account, and the reverse.
		if _, err := tx.AccountByEmail(context.Background(), "user", "ops@example.com"); err != store.ErrNotFound {
			t.Errorf("staff account visible as a user: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
