package geoip

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// FuzzOpenBytes feeds arbitrary bytes through the same checks Open runs
// (library open, Verify, content check) and, when they pass, through
// lookups. Whatever the file holds, start-up must get an error or a Reader
// that answers, never a panic. Seeds live in testdata/fuzz/FuzzOpenBytes
// (rewrite them with -update) and are also built fresh below.
//
//	go test ./internal/geoip -run '^$' -fuzz FuzzOpenBytes -fuzztime 1m -fuzzminimizetime 100x
//
// (The seeds are 12 KB, so minimising each new interesting input with the
// default 60 s budget would eat most of a short run.)
func FuzzOpenBytes(f *testing.F) {
	// Built once: a fresh build per input would dominate each run.
	goodCity := cityDBBytes(f)
	f.Add(goodCity)
	f.Add(asnDBBytes(f))
	probes := []netip.Addr{
		netip.MustParseAddr("81.2.69.142"),
		netip.MustParseAddr("1.0.0.1"),
		netip.MustParseAddr("2a02:2770:1:2::3"),
		netip.MustParseAddr("::ffff:89.160.20.112"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ro := range []role{cityRole, asnRole} {
			// OpenBytes keeps the slice; give each role its own copy.
			db, err := maxminddb.OpenBytes(bytes.Clone(data))
			if err != nil {
				continue
			}
			if err := check(db, ro); err != nil {
				_ = db.Close()
				continue
			}
			r := &Reader{city: db}
			if ro.name == asnRole.name {
				// As the ASN database next to a known-good city one.
				city, err := maxminddb.OpenBytes(goodCity)
				if err != nil {
					t.Fatal(err)
				}
				r = &Reader{city: city, asn: db}
			}
			for _, ip := range probes {
				p, err := r.Lookup(ip)
				if err != nil && p != (Place{}) {
					t.Errorf("Lookup(%s) returned %+v together with error %v", ip, p, err)
				}
				_ = p.Describe()
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
}

// TestWriteFuzzSeeds rewrites the committed seed corpus with -update: valid
// databases and the broken shapes TestOpenErrors names.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("only with -update")
	}
	city, asn := cityDBBytes(t), asnDBBytes(t)
	meta, err := maxminddb.OpenBytes(city)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(city)
	sep := meta.Metadata.NodeCount * meta.Metadata.RecordSize / 4
	copy(corrupt[sep:sep+16], bytes.Repeat([]byte{0xff}, 16))

	seeds := map[string][]byte{
		"city":               city,
		"asn":                asn,
		"city-truncated":     city[:len(city)/2],
		"city-no-last-byte":  city[:len(city)-1],
		"city-bad-separator": corrupt,
		"text":               []byte("GeoLite2-City.mmdb goes here\n"),
		"empty":              {},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenBytes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
