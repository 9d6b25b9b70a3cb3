package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// Issue 5: two `warden serve` processes on one PostgreSQL share lockout
// counts. Failures alternate between the processes; the fourth locks the
// untrusted lane on both, and the owner's trusted device still logs in on
// either. Nothing is shared but the database (and the mail server).
func TestLockoutIsSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.PostgresURL(t)
	mail := smtptest.Start(t)
	settings := map[string]string{"WARDEN_RATE_LOGIN_PER_IP": "1000/1m", "WARDEN_LOCKOUT_MAX_FAILURES": "4", "WARDEN_LOCKOUT_BASE_DELAY": "10m"}
	const adminKey = "wdn_processes_test_bootstrap_key_0123456789"
	a := servertest.StartProcess(t, dbURL, adminKey, mail, settings)
	b := servertest.StartProcess(t, dbURL, adminKey, mail, settings)
	const email, password = "pia@example.com", "correct horse battery staple"
	_, trusted := (&servertest.Node{Base: a.Base, Mail: mail}).SignUp(t, email, password)

	login := func(base, password, device string) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"email": email, "password": password})
		req, _ := http.NewRequest("POST", base+"/v1/sessions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if device != "" {
			req.Header.Set(httpapi.DeviceHeader, device)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		return resp.StatusCode, answer
	}
	for i, base := range []string{a.Base, b.Base, a.Base, b.Base} {
		if status, body := login(base, "wrong password number "+strconv.Itoa(i), ""); status != http.StatusUnauthorized {
			t.Fatalf("failure %d on %s: %d %v", i, base, status, body)
		}
	}
	for _, base := range []string{a.Base, b.Base} {
		status, body := login(base, password, "")
		if status != http.StatusLocked {
			t.Fatalf("right password on an unknown device after the shared lock, on %s: %d %v", base, status, body)
		}
		if ra, _ := body["retry_after"].(float64); ra < 500 || ra > 600 {
			t.Errorf("retry_after = %v, want about 10 minutes", body["retry_after"])
		}
	}
	for _, base := range []string{a.Base, b.Base} {
		if status, body := login(base, password, trusted); status != http.StatusCreated {
			t.Fatalf("trusted device during the lock, on %s: %d %v", base, status, body)
		}
	}
}
