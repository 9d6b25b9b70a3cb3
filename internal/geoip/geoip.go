// Package geoip finds the approximate place of an IP address in a MaxMind DB
// (.mmdb) file: a GeoIP2/GeoLite2 City or DB-IP "city lite" database, plus
// optionally a GeoLite2-ASN or DB-IP "ASN lite" database for the network.
//
// It is pure lookup: no HTTP, no SQL, no downloads. Keeping the files fresh
// is the operator's job; Open checks them thoroughly so that a bad file stops
// start-up with a clear message instead of silently turning every login into
// "unknown place".
package geoip

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is where an IP address is, as far as the databases can tell. Every
// field is a zero value when unknown, so Place{} means "nothing known".
type Place struct {
	Country        string // ISO 3166-1 alpha-2, "" when unknown
	City           string // English name, "" when unknown
	Latitude       float64
	Longitude      float64
	HasCoordinates bool // false when the database gave no location (0,0 is a real point)
	AccuracyKm     int  // location.accuracy_radius when present, else 0
	ASN            uint // autonomous system number, 0 when unknown
	Network        string
}

// Describe gives a short human text for emails and pages: "Berlin, Germany",
// "Germany", "Berlin" or "unknown place". It names the country, not the
// network, because a person recognises a place but rarely an AS name.
func (p Place) Describe() string {
	country := CountryName(p.Country)
	switch {
	case p.City != "" && country != "":
		return p.City + ", " + country
	case country != "":
		return country
	case p.City != "":
		return p.City
	default:
		return "unknown place"
	}
}

// CountryName gives the English short name of an ISO 3166-1 alpha-2 code
// ("DE" → "Germany"). A code missing from the table is returned as it is, so
// a new or odd code from a database still says something; "" stays "".
func CountryName(code string) string {
	if name, ok := countryNames[code]; ok {
		return name
	}
	return code
}

// IsCountry tells whether code is an ISO 3166-1 alpha-2 country code (or XK).
func IsCountry(code string) bool {
	_, ok := countryNames[code]
	return ok
}

// ErrNotRoutable is returned by Lookup for addresses that can never be on
// the public Internet (private, loopback, unspecified, link-local, multicast,
// shared CGNAT space, documentation ranges and the like). No database can
// place them, and seeing one usually means a proxy is hiding the client's
// real address, so callers may want to log it rather than treat it as an
// ordinary "not in the database".
var ErrNotRoutable = errors.New("geoip: address is not publicly routable")

// Reader looks up places. It is safe for concurrent use, including Close
// while lookups run (they finish first; later lookups get an error).
type Reader struct {
	// mu guards the closing: maxminddb unmaps the file on Close, and a lookup
	// still reading the mapping would then crash rather than fail.
	mu     sync.RWMutex
	city   *maxminddb.Reader
	asn    *maxminddb.Reader // nil when no ASN database was given
	closed bool
}

// record is the union of the fields Warden reads from City and ASN
// databases. One struct for both lets a combined file (or a GeoIP2/DB-IP
// Enterprise-style file with location and network) fill everything in one
// decode. Nested structs instead of maps avoid an allocation per lookup.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names struct {
			English string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		// Pointers tell "absent" from a real 0: the Gulf of Guinea is a
		// valid (and suspicious) answer, a missing location is not.
		Latitude       *float64 `maxminddb:"latitude"`
		Longitude      *float64 `maxminddb:"longitude"`
		AccuracyRadius uint     `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	ASN          uint   `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

func (rec *record) hasLocation() bool {
	return rec.Country.ISOCode != "" || rec.City.Names.English != "" ||
		(rec.Location.Latitude != nil && rec.Location.Longitude != nil)
}

// role says which kind of database a path must be; it only picks the error
// text and the fields the content check looks for.
type role struct {
	name string // "city" or "ASN", used in errors
	want string // what the file must be, used in errors
	has  func(*record) bool
}

var (
	cityRole = role{"city", "a GeoIP2/GeoLite2 City or DB-IP city lite database",
		(*record).hasLocation}
	asnRole = role{"ASN", "a GeoLite2-ASN or DB-IP ASN lite database",
		func(rec *record) bool { return rec.ASN != 0 }}
)

// sampleRecords bounds the content check in Open. Real databases have a
// country or ASN in nearly every record, so a few hundred is plenty while
// staying instant on a 70 MB file.
const sampleRecords = 500

// Open opens and validates the databases. cityPath is required; asnPath may
// be "" for none. Every failure names the path and what is wrong with it:
// missing, unreadable, empty, not an .mmdb file, damaged (truncated or
// corrupt), or the wrong kind of database.
//
// Validation is the library's full Verify (every search-tree node and data
// record), because a damaged file otherwise opens fine and only fails, or
// answers nonsense, on the lookups that hit the damage. It reads the whole
// file once, only at start-up: 1.4 s on a synthetic 14 MB file of 1.6 M
// nodes here, so expect a few seconds for a full City database.
//
// The kind check looks at content rather than the database_type name: a City
// file must have country, city or coordinates in its records and an ASN file
// must have AS numbers. So an ASN file given as the city database is refused
// (it would make every login "unknown place"), while combined or
// differently named files with the right fields are accepted. A combined file
// given as the city database also fills ASN and Network.
func Open(cityPath, asnPath string) (*Reader, error) {
	if cityPath == "" {
		return nil, errors.New("geoip: no city database path given")
	}
	city, err := openFile(cityPath, cityRole)
	if err != nil {
		return nil, err
	}
	r := &Reader{city: city}
	if asnPath != "" {
		if r.asn, err = openFile(asnPath, asnRole); err != nil {
			_ = city.Close()
			return nil, err
		}
	}
	return r, nil
}

// openFile opens one database and checks it. Stat first so that the common
// operator mistakes get plain words rather than a syscall error.
func openFile(path string, ro role) (*maxminddb.Reader, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("geoip: %s database %q does not exist", ro.name, path)
	case err != nil:
		return nil, fmt.Errorf("geoip: %s database %q: %w", ro.name, path, err)
	case info.IsDir():
		return nil, fmt.Errorf("geoip: %s database %q is a directory, not an .mmdb file", ro.name, path)
	case info.Size() == 0:
		return nil, fmt.Errorf("geoip: %s database %q is empty (0 bytes); is the download incomplete?", ro.name, path)
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		// Usually no metadata marker: a text file, a .tar.gz that was not
		// unpacked, or a file cut short (the metadata is at the end).
		return nil, fmt.Errorf("geoip: %s database %q is not a valid MaxMind DB (.mmdb) file, or is truncated: %w", ro.name, path, err)
	}
	if err := check(db, ro); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("geoip: %s database %q %w", ro.name, path, err)
	}
	return db, nil
}

// check verifies an opened database and that it holds the fields ro needs.
// Its errors read as the end of a sentence starting with the path. It is
// separate from openFile so the fuzz test can run it on bytes.
func check(db *maxminddb.Reader, ro role) error {
	if err := db.Verify(); err != nil {
		return fmt.Errorf("is damaged (truncated or corrupt): %w", err)
	}
	n := 0
	for res := range db.Networks() {
		var rec record
		if err := res.Decode(&rec); err != nil {
			// Verify passed, so this is a record shape we cannot read
			// (e.g. "country" is a string): not a database we understand.
			return fmt.Errorf("(type %q) has records Warden cannot read: %w; it must be %s",
				db.Metadata.DatabaseType, err, ro.want)
		}
		if ro.has(&rec) {
			return nil
		}
		if n++; n >= sampleRecords {
			break
		}
	}
	if n == 0 {
		return fmt.Errorf("(type %q) has no records; it must be %s", db.Metadata.DatabaseType, ro.want)
	}
	return fmt.Errorf("(type %q) has no %s data in its first %d records; it must be %s",
		db.Metadata.DatabaseType, ro.name, n, ro.want)
}

// Lookup gives the place of ip. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// is looked up as the IPv4 address. An address the databases do not cover
// gives Place{} and a nil error: that is normal (new allocations, anycast)
// and callers treat it as "place unknown". A non-routable address gives
// Place{} and ErrNotRoutable. Any other error means a database read failed.
func (r *Reader) Lookup(ip netip.Addr) (Place, error) {
	ip = ip.Unmap().WithZone("")
	if !isPublic(ip) {
		return Place{}, ErrNotRoutable
	}

	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return Place{}, errors.New("geoip: lookup on a closed Reader")
	}

	var rec record
	if err := decode(r.city, ip, &rec); err != nil {
		return Place{}, fmt.Errorf("geoip: looking up %s in the city database: %w", ip, err)
	}
	p := Place{
		Country:    rec.Country.ISOCode,
		City:       rec.City.Names.English,
		AccuracyKm: int(rec.Location.AccuracyRadius),
		ASN:        rec.ASN,
		Network:    rec.Organization,
	}
	if lat, lon := rec.Location.Latitude, rec.Location.Longitude; lat != nil && lon != nil {
		p.Latitude, p.Longitude, p.HasCoordinates = *lat, *lon, true
	}

	if r.asn != nil {
		var as record
		if err := decode(r.asn, ip, &as); err != nil {
			return Place{}, fmt.Errorf("geoip: looking up %s in the ASN database: %w", ip, err)
		}
		// The dedicated ASN file wins over AS fields of a combined city
		// file, but only when it knows the address at all.
		if as.ASN != 0 {
			p.ASN, p.Network = as.ASN, as.Organization
		}
	}
	return p, nil
}

// decode reads ip's record into rec, leaving it untouched when the database
// has none. An IPv6 address in an IPv4-only database is "not covered", not
// an error (the library would report one).
func decode(db *maxminddb.Reader, ip netip.Addr, rec *record) error {
	if ip.Is6() && db.Metadata.IPVersion == 4 {
		return nil
	}
	return db.Lookup(ip).Decode(rec)
}

// Close releases the databases. It waits for running lookups; Lookup after
// Close returns an error. Closing twice is harmless.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.city.Close()
	if r.asn != nil {
		err = errors.Join(err, r.asn.Close())
	}
	return err
}

// specialPurpose are IANA special-purpose blocks that netip's predicates do
// not cover and that never appear as a real client on the public Internet.
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, includes broadcast
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// isPublic reports whether ip could be a client on the public Internet.
// It expects an unmapped address.
func isPublic(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() {
		return false
	}
	for _, p := range specialPurpose {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// earthRadiusKm is the mean Earth radius (IUGG). internal/risk uses the same
// value, so distances agree whichever package computes them.
const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance in kilometres between
// two points given in degrees. Haversine on a sphere is off by at most ~0.5%
// against the ellipsoid, far below GeoIP's own accuracy.
func DistanceKm(aLat, aLon, bLat, bLon float64) float64 {
	rad := math.Pi / 180
	dLat, dLon := (bLat-aLat)*rad, (bLon-aLon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(aLat*rad)*math.Cos(bLat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	// Min guards against rounding pushing h just above 1 at the antipodes,
	// where Asin would give NaN.
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}
