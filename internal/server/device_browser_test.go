package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
)

// confirmLink waits for the newest new-device email to addr in the dev
// mailbox (GET /dev/mailbox.json) and returns its confirmation link.
func (n *node) confirmLink(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range n.mailbox(t, addr, 1) { // newest first
			for _, match := range tokenInLink.FindAllStringSubmatch(m.Text, -1) {
				if match[1] == "/confirm-device" {
					return n.base + "/confirm-device?token=" + match[2]
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new-device email to %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// confirmByMail confirms the new-device email to addr from another device
// (a plain HTTP client), as its owner would from their phone.
func (n *node) confirmByMail(t *testing.T, addr string) {
	t.Helper()
	token := strings.TrimPrefix(n.confirmLink(t, addr), n.base+"/confirm-device?token=")
	resp, err := http.PostForm(n.base+"/confirm-device", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm the new device: %d", resp.StatusCode)
	}
}

// waitAt waits until the browser is at base+path: a page that goes on by
// itself, such as the wait for the new-device email.
func waitAt(t *testing.T, b *browsertest.Browser, base, step, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for b.URL() != base+path {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still at %s after %s, want %s", step, b.URL(), within, base+path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
