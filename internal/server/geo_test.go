package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/server"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// Addresses of the tiny GeoIP database.
const (
	londonIP = "81.2.69.142"
	sydneyIP = "1.128.0.7"
	lilleIP  = "90.0.0.9" // France, 225 km from London: a new country reachable in minutes
)

// tinyCityDB writes a GeoLite2-City-like .mmdb with London, Sydney and Lille.
func tinyCityDB(t *testing.T) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", IPVersion: 6, RecordSize: 24,
		Description: map[string]string{"en": "Warden server test database"}})
	if err != nil {
		t.Fatal(err)
	}
	for network, p := range map[string]struct {
		country, city string
		lat, lon      float64
	}{
		"81.2.69.0/24": {"GB", "London", 51.5142, -0.0931},
		"1.128.0.0/16": {"AU", "Sydney", -33.8688, 151.2093},
		"90.0.0.0/16":  {"FR", "Lille", 50.6292, 3.0573},
	} {
		_, n, _ := net.ParseCIDR(network)
		rec := mmdbtype.Map{
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(p.country)},
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.city)}},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(p.lat), "longitude": mmdbtype.Float64(p.lon), "accuracy_radius": mmdbtype.Uint16(20)},
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// signUpFrom registers, verifies and logs in for the first time from ip
// (through the trusted proxy); it returns the device token.
func (n *node) signUpFrom(t *testing.T, email, ip string) string {
	t.Helper()
	n.registerVerified(t, email)
	status, body, err := n.rawLogin(email, strongPassword, "", ip)
	if err != nil || status != 201 {
		t.Fatalf("first login from %s: %d %v %v", ip, status, body, err)
	}
	return body["device_token"].(string)
}

// Impossible travel and a new country, decided from a tiny .mmdb: London,
// then Sydney minutes later on the trusted device is denied (the owner is
// emailed and the platform gets login.suspicious); Lille, a new country a
// plausible distance away, is challenged.
func TestGeoIPImpossibleTravelAndNewCountry(t *testing.T) {
	t.Parallel()
	hooks := make(chan map[string]any, 8)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if r.Header.Get("webhook-signature") != "" {
			hooks <- body
		}
	}))
	defer receiver.Close()
	n := devNode(t, "WARDEN_GEOIP_DB", tinyCityDB(t), "WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")
	n.call(t, "POST", "/admin/v1/webhooks", map[string]any{"url": receiver.URL, "event_types": []string{"login.suspicious"}},
		"Authorization", "Bearer "+adminKey).expect(t, 201, "")
	const email = "vic@example.com"
	device := n.signUpFrom(t, email, londonIP)
	// London again on the trusted device: the usual login.
	if status, body, _ := n.rawLogin(email, strongPassword, device, londonIP); status != 201 {
		t.Fatalf("London again: %d %v", status, body)
	}

	// Sydney minutes later, with the password and the trusted device.
	status, body, err := n.rawLogin(email, strongPassword, device, sydneyIP)
	if err != nil || status != 403 || body["code"] != "login_denied" {
		t.Fatalf("Sydney minutes after London: %d %v %v", status, body, err)
	}
	reasons := strs(body["reasons"])
	for _, want := range []string{"impossible_travel", "new_country", "new_ip"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("denial reasons %v lack %s", reasons, want)
		}
	}
	alert := n.mailWithSubject(t, email, "Unusual login to your account")
	for _, want := range []string{"Sydney, Australia", sydneyIP, "too far from your last login"} {
		if !strings.Contains(alert.Text, want) {
			t.Errorf("the alert lacks %q:\n%s", want, alert.Text)
		}
	}
	linkToken(t, alert, "/freeze")
	select {
	case hook := <-hooks:
		data, _ := hook["data"].(map[string]any)
		if hook["type"] != "login.suspicious" || data["outcome"] != "deny" || data["country"] != "AU" || data["ip"] != sydneyIP ||
			!slices.Contains(strs(data["reasons"]), "impossible_travel") {
			t.Fatalf("webhook %v", hook)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no login.suspicious webhook")
	}

	// Lille: a new country, but 225 km is no impossible journey.
	status, body, err = n.rawLogin(email, strongPassword, device, lilleIP)
	if err != nil || status != 202 {
		t.Fatalf("Lille: %d %v %v", status, body, err)
	}
	reasons = strs(body["reasons"])
	if !slices.Contains(reasons, "new_country") || slices.Contains(reasons, "impossible_travel") || slices.Contains(reasons, "new_device") {
		t.Errorf("Lille reasons %v, want new_country without impossible_travel", reasons)
	}
	if got := strs(body["requires"]); !slices.Equal(got, []string{"email"}) {
		t.Errorf("Lille requires %v", got)
	}

	// The decisions reach the staff's view of login events in the database.
	var denied, challenged int
	err = n.srv.Store().Read(context.Background(), func(tx *store.Tx) error {
		a, err := tx.AccountByEmail(context.Background(), account.RealmUser, email)
		if err != nil {
			return err
		}
		events, err := tx.LoginEvents(context.Background(), a.ID, 50)
		for _, e := range events {
			switch {
			case e.Outcome == "denied" && e.Country == "AU" && slices.Contains(e.Reasons, "impossible_travel"):
				denied++
			case e.Outcome == "challenged" && e.Country == "FR":
				challenged++
			}
		}
		return err
	})
	if err != nil || denied != 1 || challenged != 1 {
		t.Errorf("stored decisions: %d denied in AU, %d challenged in FR (%v)", denied, challenged, err)
	}
}

// A spoofed X-Forwarded-For from an address that is not a trusted proxy is
// ignored: the login is judged on the connection's address.
func TestSpoofedForwardedForIsIgnored(t *testing.T) {
	t.Parallel()
	n := devNode(t, "WARDEN_GEOIP_DB", tinyCityDB(t)) // WARDEN_TRUSTED_PROXIES unset
	const email = "wes@example.com"
	token := n.signUp(t, email)
	device := n.devices.token(email)
	// Claiming Sydney (or a forged chain) changes nothing: same address, same device.
	for _, xff := range []string{sydneyIP, sydneyIP + ", " + londonIP, "not-an-ip"} {
		status, body, err := n.rawLogin(email, strongPassword, device, xff)
		if err != nil || status != 201 {
			t.Fatalf("X-Forwarded-For %q: %d %v %v", xff, status, body, err)
		}
	}
	list := n.call(t, "GET", "/v1/devices", nil, "Authorization", "Bearer "+token).expect(t, 200, "")
	for _, d := range asSlice(list.body["devices"]) {
		if ip := d.(map[string]any)["last_ip"]; ip != "127.0.0.1" {
			t.Errorf("a spoofed address reached the device record: %v", ip)
		}
	}
}

// Without WARDEN_GEOIP_DB the place signals are off and the server starts;
// a bad or truncated .mmdb stops start-up with an error naming the key.
func TestGeoIPDatabaseAtStartUp(t *testing.T) {
	t.Parallel()
	// Unset: logins work, no place signals.
	n := devNode(t, "WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")
	device := n.signUpFrom(t, "xia@example.com", londonIP)
	if status, body, _ := n.rawLogin("xia@example.com", strongPassword, device, sydneyIP); status != 201 {
		t.Fatalf("without GeoIP, a trusted device from another address: %d %v", status, body)
	}

	good, err := os.ReadFile(tinyCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"truncated.mmdb": good[:len(good)/2],
		"garbage.mmdb":   []byte("this is not a MaxMind database at all"),
		"empty.mmdb":     {},
		"missing.mmdb":   nil,
	} {
		path := filepath.Join(dir, name)
		if content != nil {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, dbURL := storetest.SQLiteURL(t)
		env := settings(dbURL, "WARDEN_GEOIP_DB", path)
		cfg, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, true)
		if err != nil {
			t.Fatalf("%s: config: %v", name, err)
		}
		srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			_ = srv
			t.Errorf("%s: the server started", name)
			continue
		}
		if key, ok := config.ErrorKey(err); !ok || key != "WARDEN_GEOIP_DB" || !strings.Contains(err.Error(), "WARDEN_GEOIP_DB") {
			t.Errorf("%s: error %q (key %q, %v), want a config error naming WARDEN_GEOIP_DB", name, err, key, ok)
		}
	}
}
