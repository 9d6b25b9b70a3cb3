package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
)

// confirmByMail confirms the new-device email to addr from another device
// (a plain HTTP client), as its owner would from their phone.
func (n *node) confirmByMail(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.PostForm(n.base+"/confirm-device", url.Values{"token": {n.newDeviceToken(t, addr)}})
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

// A user logs in on their laptop (the account's first login: the device is
// trusted at once). Then they log in on a second browser that Warden does
// not know: the page asks them to confirm from their email and waits. They
// open the link on the laptop and press "Yes, it was me", and the second
// browser's page goes on to the account by itself within seconds. The new
// device is listed as trusted, the activity tells why the login was
// checked, and removing the laptop from the new browser logs the laptop out.
func TestBrowserNewDeviceConfirmedByEmail(t *testing.T) {
	t.Parallel()
	laptop := browsertest.New(t)
	second := browsertest.New(t)
	n, base := localhostNode(t, cheapHashing...)
	const email = "nora@example.com"
	n.registerVerified(t, email)

	laptop.Navigate(base + "/login")
	logInAs(laptop, "login", email, strongPassword)
	wantAt(t, laptop, base, "first login", "/account/security-center")

	second.Navigate(base + "/login")
	logInAs(second, "login", email, strongPassword)
	wantAt(t, second, base, "new device", "/login/challenge")
	if got := second.Text("h1"); got != "Confirm this device" {
		t.Fatalf("waiting page h1 %q", got)
	}
	if got := second.Text("#email-wait"); !strings.Contains(got, "We sent a link to your email to confirm this device") ||
		!strings.Contains(got, "this page continues by itself") || !strings.Contains(got, "a new device") {
		t.Errorf("waiting page: %q", got)
	}
	// Still waiting a moment later: the script asks, nothing confirmed yet.
	time.Sleep(2500 * time.Millisecond)
	wantAt(t, second, base, "before the link", "/login/challenge")

	// On the laptop: the link shows what is confirmed and a button.
	link := n.base + "/confirm-device?token=" + n.newDeviceToken(t, email)
	if got := laptop.Navigate(link); got != http.StatusOK {
		t.Fatalf("confirmation link: %d", got)
	}
	if got := laptop.Text("h1"); got != "Was this you?" {
		t.Fatalf("confirmation page h1 %q", got)
	}
	if got := laptop.Text("#confirm-login"); !strings.Contains(got, "127.0.0.1") {
		t.Errorf("the confirmation page does not show the login's address: %q", got)
	}
	laptop.ClickNavigate("#confirm-device")
	if got := laptop.Text("#device-confirmed"); !strings.Contains(got, "Confirmed — go back to the window where you were logging in") {
		t.Fatalf("after confirming: %q", got)
	}

	// The waiting page goes on by itself.
	waitAt(t, second, base, "confirmed by email", "/account/security-center", 8*time.Second)
	second.ClickNavigate(`.site-nav a[href="/account"]`)
	if got := second.Text("#account-email"); got != email {
		t.Fatalf("account page of %q", got)
	}

	// Both devices are listed, trusted; this one is marked.
	second.ClickNavigate(`.card a[href="/account/devices"]`)
	wantAt(t, second, base, "devices", "/account/devices")
	rows := browsertest.Eval[[]string](second, `Array.from(document.querySelectorAll("#devices tbody tr"), tr => tr.textContent.replace(/\s+/g, " "))`)
	if len(rows) != 2 || !strings.Contains(rows[0], "This device") || strings.Contains(rows[1], "This device") {
		t.Fatalf("devices: %q", rows)
	}
	for _, row := range rows {
		if !strings.Contains(row, "Trusted") || !strings.Contains(row, "127.0.0.1") {
			t.Errorf("device row %q", row)
		}
	}

	// The activity says why the login was checked, and that it was confirmed.
	second.Navigate(base + "/account/activity")
	activity := second.Text("table.activity tbody")
	for _, want := range []string{"Login asked for confirmation", "Needed the link in our email", "Why: a new device",
		"New device confirmed from the email link", "From a new device."} {
		if !strings.Contains(activity, want) {
			t.Errorf("activity lacks %q:\n%s", want, activity)
		}
	}

	// Removing the laptop from here ends the laptop's session.
	second.Navigate(base + "/account/devices")
	second.ClickNavigate(`#devices tbody tr:not(.current) button[type="submit"]`)
	wantAt(t, second, base, "device removed", "/account/devices")
	if got := second.Text(".notice"); !strings.Contains(got, "The device was removed") {
		t.Errorf("notice after removing: %q", got)
	}
	laptop.Navigate(base + "/account")
	wantAt(t, laptop, base, "removed laptop", "/login?next=%2Faccount")
	noConsoleErrors(t, second)
	noConsoleErrors(t, laptop)
}
