package server_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// freePort finds a port to listen on, so that the base URL (used in the
// links inside emails) can name it before the server starts.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// localhostNode starts a dev node on a fresh SQLite database, reached at
// http://localhost:PORT, and returns it with that base URL: a host name,
// not an IP address, as passkeys need, known before the server starts so
// that the links in its emails name it. extra are more settings (name,
// value, …).
func localhostNode(t *testing.T, extra ...string) (*node, string) {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	base := "http://localhost:" + port
	_, dbURL := storetest.SQLiteURL(t)
	n := start(t, settings(dbURL, append([]string{"WARDEN_ADDR", "127.0.0.1:" + port, "WARDEN_BASE_URL", base}, extra...)...), true)
	return n, base
}

// An email sent through the API reaches the dev mailbox through the outbox,
// and a person can open it in a real browser and follow its link.
func TestBrowserEmailThroughAPIReachesDevMailbox(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	n, base := localhostNode(t)

	status, body := n.admin(t, "POST", "/admin/v1/outbox/test-email", map[string]string{"to": "alice@example.com"})
	if status != 202 {
		t.Fatalf("test email: %d %v", status, body)
	}
	// The worker delivers within a poll, late on a loaded machine: wait for
	// the message in the mailbox's JSON (an empty page has no count to read),
	// then look at the page.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/dev/mailbox.json?to=alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(raw), "Warden test email") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the email never reached the mailbox: %s", raw)
		}
	}
	if got := b.Navigate(base + "/dev/mailbox?to=alice@example.com"); got != http.StatusOK {
		t.Fatalf("mailbox: %d", got)
	}
	if got := b.Text("#mailbox-count"); !strings.Contains(got, "1 message") {
		t.Fatalf("mailbox count %q", got)
	}
	b.ClickNavigate(".mail-list a.subject")
	if got := b.Text("h1"); got != "Warden test email" {
		t.Fatalf("message page h1 = %q", got)
	}
	if got := b.ClickNavigate(`.mail-text a[href="` + base + `/"]`); got != http.StatusOK {
		t.Fatalf("following the email's link: %d", got)
	}
	if got := b.URL(); got != base+"/" {
		t.Fatalf("link led to %s, want the home page", got)
	}
	if got := b.Text("h1"); got == "" {
		t.Fatal("home page has no heading")
	}
}
