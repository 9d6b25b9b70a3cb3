package geoip

import (
	"bytes"
	"errors"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// The test databases are built here with MaxMind's own writer instead of
// being checked in, so every test shows exactly what the file contains.
// mmdbwriter v1.2.0 asks for maxminddb-golang v2.1.1 (to load existing
// files); with v2.9.0 selected it builds and works, as these tests show.

type cityEntry struct {
	network       string
	country, city string
	lat, lon      *float64 // nil: no location
	accuracyKm    uint16
	asn           uint32 // only for combined databases
	org           string
}

func ptr(f float64) *float64 { return &f }

// cityEntries mirror MaxMind's public test data where they can.
var cityEntries = []cityEntry{
	{network: "81.2.69.0/24", country: "GB", city: "London", lat: ptr(51.5142), lon: ptr(-0.0931), accuracyKm: 10},
	{network: "2.125.160.0/24", country: "GB"}, // country only, no location
	{network: "89.160.20.0/24", country: "SE", city: "Linköping", lat: ptr(58.4167), lon: ptr(15.6167), accuracyKm: 76},
	{network: "216.160.83.0/24", country: "US", city: "Milton", lat: ptr(47.2513), lon: ptr(-122.3149), accuracyKm: 22},
	{network: "2a02:2770::/32", country: "DE", city: "Berlin", lat: ptr(52.52), lon: ptr(13.405), accuracyKm: 100},
	// A real 0,0 location: HasCoordinates must still be true.
	{network: "41.0.0.0/24", country: "ZA", lat: ptr(0), lon: ptr(0), accuracyKm: 1000},
}

type asnEntry struct {
	network string
	asn     uint32
	org     string
}

var asnEntries = []asnEntry{
	{"1.0.0.0/24", 15169, "Google"},
	{"81.2.69.0/24", 20712, "Andrews & Arnold Ltd"},
	{"2a02:2770::/32", 196752, "Tilaa B.V."},
}

func cityRecord(e cityEntry) mmdbtype.Map {
	m := mmdbtype.Map{}
	if e.country != "" {
		m["country"] = mmdbtype.Map{
			"iso_code": mmdbtype.String(e.country),
			"names":    mmdbtype.Map{"en": mmdbtype.String(CountryName(e.country))},
		}
	}
	if e.city != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{
			"en": mmdbtype.String(e.city),
			"de": mmdbtype.String(e.city + " (de)"), // must not leak into Place
		}}
	}
	if e.lat != nil {
		m["location"] = mmdbtype.Map{
			"latitude":        mmdbtype.Float64(*e.lat),
			"longitude":       mmdbtype.Float64(*e.lon),
			"accuracy_radius": mmdbtype.Uint16(e.accuracyKm),
			"time_zone":       mmdbtype.String("Etc/UTC"), // ignored field
		}
	}
	if e.asn != 0 {
		m["autonomous_system_number"] = mmdbtype.Uint32(e.asn)
		m["autonomous_system_organization"] = mmdbtype.String(e.org)
	}
	return m
}

// buildDB writes an .mmdb with the given records and returns its bytes.
func buildDB(t testing.TB, dbType string, ipVersion int, records map[string]mmdbtype.Map) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Description:  map[string]string{"en": "Warden test database"},
		IPVersion:    ipVersion,
		RecordSize:   24,
		BuildEpoch:   1700000000, // fixed so the fuzz seeds are reproducible
	})
	if err != nil {
		t.Fatal(err)
	}
	for network, rec := range records {
		_, n, err := net.ParseCIDR(network)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func cityDBBytes(t testing.TB) []byte {
	recs := map[string]mmdbtype.Map{}
	for _, e := range cityEntries {
		recs[e.network] = cityRecord(e)
	}
	return buildDB(t, "GeoLite2-City", 6, recs)
}

func asnDBBytes(t testing.TB) []byte {
	recs := map[string]mmdbtype.Map{}
	for _, e := range asnEntries {
		recs[e.network] = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(e.asn),
			"autonomous_system_organization": mmdbtype.String(e.org),
		}
	}
	return buildDB(t, "GeoLite2-ASN", 6, recs)
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTest(t *testing.T, cityPath, asnPath string) *Reader {
	t.Helper()
	r, err := Open(cityPath, asnPath)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

var (
	london  = Place{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, HasCoordinates: true, AccuracyKm: 10}
	sweden  = Place{Country: "SE", City: "Linköping", Latitude: 58.4167, Longitude: 15.6167, HasCoordinates: true, AccuracyKm: 76}
	milton  = Place{Country: "US", City: "Milton", Latitude: 47.2513, Longitude: -122.3149, HasCoordinates: true, AccuracyKm: 22}
	berlin  = Place{Country: "DE", City: "Berlin", Latitude: 52.52, Longitude: 13.405, HasCoordinates: true, AccuracyKm: 100}
	nullIsl = Place{Country: "ZA", HasCoordinates: true, AccuracyKm: 1000}
)

func withAS(p Place, asn uint, org string) Place {
	p.ASN, p.Network = asn, org
	return p
}

func TestLookup(t *testing.T) {
	cityPath := writeFile(t, "city.mmdb", cityDBBytes(t))
	asnPath := writeFile(t, "asn.mmdb", asnDBBytes(t))
	cityOnly := openTest(t, cityPath, "")
	both := openTest(t, cityPath, asnPath)

	tests := []struct {
		ip       string
		cityOnly Place
		both     Place
	}{
		{"81.2.69.142", london, withAS(london, 20712, "Andrews & Arnold Ltd")},
		{"81.2.69.0", london, withAS(london, 20712, "Andrews & Arnold Ltd")},
		{"81.2.69.255", london, withAS(london, 20712, "Andrews & Arnold Ltd")},
		{"::ffff:81.2.69.142", london, withAS(london, 20712, "Andrews & Arnold Ltd")}, // IPv4-mapped
		{"2.125.160.216", Place{Country: "GB"}, Place{Country: "GB"}},
		{"89.160.20.112", sweden, sweden},
		{"216.160.83.56", milton, milton},
		{"2a02:2770:1:2::3", berlin, withAS(berlin, 196752, "Tilaa B.V.")}, // IPv6
		{"41.0.0.1", nullIsl, nullIsl},
		{"1.0.0.1", Place{}, Place{ASN: 15169, Network: "Google"}}, // ASN only
		{"81.2.70.1", Place{}, Place{}},                            // just outside the /24
		{"8.8.8.8", Place{}, Place{}},                              // in neither database
		{"2a03::1", Place{}, Place{}},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		for _, c := range []struct {
			name string
			r    *Reader
			want Place
		}{{"city only", cityOnly, tt.cityOnly}, {"city+ASN", both, tt.both}} {
			got, err := c.r.Lookup(ip)
			if err != nil {
				t.Errorf("%s: Lookup(%s): %v", c.name, tt.ip, err)
				continue
			}
			if got != c.want {
				t.Errorf("%s: Lookup(%s) =\n  %+v\nwant\n  %+v", c.name, tt.ip, got, c.want)
			}
		}
	}
}

func TestLookupCombinedDatabase(t *testing.T) {
	// One file with both location and AS fields, given as the city database
	// alone: it must fill everything.
	ldn, swe := cityEntries[0], cityEntries[2]
	ldn.asn, ldn.org = 64512, "Combined Org"
	swe.asn, swe.org = 29518, "Bredband2 AB"
	combined := writeFile(t, "combined.mmdb", buildDB(t, "Warden-Test-Combined", 6,
		map[string]mmdbtype.Map{ldn.network: cityRecord(ldn), swe.network: cityRecord(swe)}))
	asnPath := writeFile(t, "asn.mmdb", asnDBBytes(t))
	cityPath := writeFile(t, "city.mmdb", cityDBBytes(t))

	for _, tt := range []struct {
		name, city, asn, ip string
		want                Place
	}{
		{"combined alone", combined, "", "81.2.69.1", withAS(london, 64512, "Combined Org")},
		{"combined alone", combined, "", "89.160.20.112", withAS(sweden, 29518, "Bredband2 AB")},
		// With a dedicated ASN file, it wins where it knows the address...
		{"combined + ASN db", combined, asnPath, "81.2.69.1", withAS(london, 20712, "Andrews & Arnold Ltd")},
		// ...and the combined file's AS stays where it does not.
		{"combined + ASN db", combined, asnPath, "89.160.20.112", withAS(sweden, 29518, "Bredband2 AB")},
		// The combined file also passes as the ASN database.
		{"city + combined as ASN db", cityPath, combined, "81.2.69.1", withAS(london, 64512, "Combined Org")},
	} {
		r := openTest(t, tt.city, tt.asn)
		got, err := r.Lookup(netip.MustParseAddr(tt.ip))
		if err != nil || got != tt.want {
			t.Errorf("%s: Lookup(%s) = %+v, %v; want %+v", tt.name, tt.ip, got, err, tt.want)
		}
	}
}

func TestLookupIPv4OnlyDatabase(t *testing.T) {
	// DB-IP and older GeoIP files can be IPv4-only. An IPv6 address is then
	// simply not covered (the library itself would return an error).
	path := writeFile(t, "v4.mmdb", buildDB(t, "DBIP-City-Lite", 4,
		map[string]mmdbtype.Map{"81.2.69.0/24": cityRecord(cityEntries[0])}))
	r := openTest(t, path, "")
	for ip, want := range map[string]Place{
		"81.2.69.7":          london,
		"::ffff:81.2.69.7":   london, // mapped: must be unmapped before the lookup
		"2a02:2770:1:2::3":   {},
		"2001:4860:4860::88": {},
	} {
		got, err := r.Lookup(netip.MustParseAddr(ip))
		if err != nil || got != want {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, nil", ip, got, err, want)
		}
	}
}

func TestLookupNotRoutable(t *testing.T) {
	// The database maps everything, so any answer other than ErrNotRoutable
	// shows the address reached the database.
	everything := cityRecord(cityEntries[0])
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-City", Description: map[string]string{"en": "all"},
		IncludeReservedNetworks: true, RecordSize: 24,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"0.0.0.0/0", "::/0"} {
		_, ipn, _ := net.ParseCIDR(n)
		if err := w.Insert(ipn, everything); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, writeFile(t, "all.mmdb", buf.Bytes()), "")

	for _, s := range []string{
		"10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "127.8.9.10",
		"0.0.0.0", "0.1.2.3", "169.254.10.1", "224.0.0.251", "255.255.255.255",
		"100.64.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1",
		"2001:db8::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:0.0.0.0",
	} {
		got, err := r.Lookup(netip.MustParseAddr(s))
		if !errors.Is(err, ErrNotRoutable) || got != (Place{}) {
			t.Errorf("Lookup(%s) = %+v, %v; want Place{}, ErrNotRoutable", s, got, err)
		}
	}
	if _, err := r.Lookup(netip.Addr{}); !errors.Is(err, ErrNotRoutable) {
		t.Errorf("Lookup(zero Addr) error = %v, want ErrNotRoutable", err)
	}
	// Public neighbours of the blocked ranges still get looked up.
	for _, s := range []string{"11.0.0.1", "100.128.0.1", "172.32.0.1", "2001:db9::1", "::ffff:81.2.69.1"} {
		got, err := r.Lookup(netip.MustParseAddr(s))
		if err != nil || got != london {
			t.Errorf("Lookup(%s) = %+v, %v; want the catch-all record", s, got, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		p    Place
		want string
	}{
		{Place{Country: "DE", City: "Berlin"}, "Berlin, Germany"},
		{Place{Country: "DE"}, "Germany"},
		{Place{City: "Berlin"}, "Berlin"},
		{Place{}, "unknown place"},
		{Place{ASN: 15169, Network: "Google"}, "unknown place"},
		{Place{Country: "SE", City: "Linköping", HasCoordinates: true}, "Linköping, Sweden"},
		{Place{Country: "US", City: "Milton"}, "Milton, United States"},
		{Place{Country: "HK", City: "Hong Kong"}, "Hong Kong, Hong Kong"},
		{Place{Country: "XK"}, "Kosovo"},
		{Place{Country: "QQ"}, "QQ"}, // unknown code: shown as is
	} {
		if got := tt.p.Describe(); got != tt.want {
			t.Errorf("%+v.Describe() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestDistanceKm(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		aLat, aLon, bLat, bLon float64
		want, tol              float64
	}{
		{"London–New York", 51.5074, -0.1278, 40.7128, -74.0060, 5570, 10},
		{"Berlin–Paris", 52.5200, 13.4050, 48.8566, 2.3522, 878, 5},
		{"Sydney–Santiago across the date line", -33.8688, 151.2093, -33.4489, -70.6693, 11340, 30},
		{"same point", 51.5142, -0.0931, 51.5142, -0.0931, 0, 1e-9},
		{"antipodes on the equator", 0, 0, 0, 180, math.Pi * earthRadiusKm, 1e-6},
		{"antipodes pole to pole", 90, 0, -90, 0, math.Pi * earthRadiusKm, 1e-6},
		{"antipodes elsewhere", 45, 10, -45, -170, math.Pi * earthRadiusKm, 1e-6},
		{"one degree of longitude at the equator", 0, 0, 0, 1, 111.195, 0.01},
	} {
		got := DistanceKm(tt.aLat, tt.aLon, tt.bLat, tt.bLon)
		if math.IsNaN(got) || math.Abs(got-tt.want) > tt.tol {
			t.Errorf("%s: DistanceKm = %.3f, want %.3f ± %g", tt.name, got, tt.want, tt.tol)
		}
		if back := DistanceKm(tt.bLat, tt.bLon, tt.aLat, tt.aLon); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s: not symmetric: %.6f vs %.6f", tt.name, got, back)
		}
	}
	if d := math.Pi * earthRadiusKm; math.Abs(d-20015.1) > 0.1 {
		t.Errorf("half circumference = %.2f km, want ≈ 20,015 km", d)
	}
}

func TestOpenErrors(t *testing.T) {
	city := cityDBBytes(t)
	asn := asnDBBytes(t)
	dir := t.TempDir()
	goodCity := writeFile(t, "good-city.mmdb", city)

	// A database whose metadata is intact but whose search tree/data
	// separator is not: it opens with the bare library, so only Verify
	// catches it.
	corrupt := bytes.Clone(city)
	meta, err := maxminddb.OpenBytes(city)
	if err != nil {
		t.Fatal(err)
	}
	sep := meta.Metadata.NodeCount * meta.Metadata.RecordSize / 4
	copy(corrupt[sep:sep+16], bytes.Repeat([]byte{0xff}, 16))
	if _, err := maxminddb.OpenBytes(corrupt); err != nil {
		t.Fatalf("test setup: the corrupt copy should still open without Verify: %v", err)
	}

	empty := buildDB(t, "GeoLite2-City", 6, map[string]mmdbtype.Map{})
	asnLikeCountry := buildDB(t, "GeoLite2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": {"country": mmdbtype.String("GB")}, // wrong shape
	})

	for _, tt := range []struct {
		name, city, asn string
		want            []string // all must appear in the error
	}{
		{"no city path", "", "", []string{"no city database path"}},
		{"missing city", filepath.Join(dir, "nope.mmdb"), "", []string{"nope.mmdb", "does not exist"}},
		{"directory", dir, "", []string{"is a directory"}},
		{"empty file", writeFile(t, "empty.mmdb", nil), "", []string{"empty.mmdb", "is empty"}},
		{"truncated", writeFile(t, "half.mmdb", city[:len(city)/2]), "", []string{"half.mmdb", "not a valid MaxMind DB", "truncated"}},
		{"text file", writeFile(t, "notes.txt", []byte("GeoLite2-City.mmdb goes here\n")), "", []string{"notes.txt", "not a valid MaxMind DB"}},
		{"gzip not unpacked", writeFile(t, "city.mmdb.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}), "", []string{"city.mmdb.gz", "not a valid MaxMind DB"}},
		{"corrupt separator", writeFile(t, "corrupt.mmdb", corrupt), "", []string{"corrupt.mmdb", "is damaged"}},
		{"ASN db as city db", writeFile(t, "asn-as-city.mmdb", asn), "", []string{"asn-as-city.mmdb", `"GeoLite2-ASN"`, "no city data", "City"}},
		{"city db as ASN db", goodCity, writeFile(t, "city-as-asn.mmdb", city), []string{"ASN database", "city-as-asn.mmdb", "no ASN data"}},
		{"no records", writeFile(t, "norecords.mmdb", empty), "", []string{"norecords.mmdb", "has no records"}},
		{"unreadable record shape", writeFile(t, "shape.mmdb", asnLikeCountry), "", []string{"shape.mmdb", "cannot read"}},
		{"missing ASN db", goodCity, filepath.Join(dir, "asn.mmdb"), []string{"ASN database", "asn.mmdb", "does not exist"}},
		{"truncated ASN db", goodCity, writeFile(t, "asn-half.mmdb", asn[:len(asn)/2]), []string{"ASN database", "asn-half.mmdb", "truncated"}},
	} {
		r, err := Open(tt.city, tt.asn)
		if err == nil {
			_ = r.Close()
			t.Errorf("%s: Open succeeded, want an error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	r := openTest(t, writeFile(t, "city.mmdb", cityDBBytes(t)), writeFile(t, "asn.mmdb", asnDBBytes(t)))
	ips := map[string]Place{
		"81.2.69.142":      withAS(london, 20712, "Andrews & Arnold Ltd"),
		"89.160.20.112":    sweden,
		"2a02:2770:1:2::3": withAS(berlin, 196752, "Tilaa B.V."),
		"1.0.0.1":          {ASN: 15169, Network: "Google"},
		"8.8.8.8":          {},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				for ip, want := range ips {
					got, err := r.Lookup(netip.MustParseAddr(ip))
					if err != nil || got != want {
						t.Errorf("Lookup(%s) = %+v, %v; want %+v", ip, got, err, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestCloseWhileLookingUp(t *testing.T) {
	r, err := Open(writeFile(t, "city.mmdb", cityDBBytes(t)), writeFile(t, "asn.mmdb", asnDBBytes(t)))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("81.2.69.142")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				// Before Close: the right answer; after: an error. Never a
				// crash from reading an unmapped file.
				got, err := r.Lookup(ip)
				if err == nil && got.City != "London" {
					t.Errorf("Lookup = %+v", got)
					return
				}
			}
		})
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	if _, err := r.Lookup(ip); err == nil {
		t.Error("Lookup after Close succeeded")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
