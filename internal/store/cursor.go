package store

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Cursor is a position in a newest-first listing: the time and id of the last
// row seen. Listings continue strictly before it, so rows written meanwhile
// neither repeat nor shift the pages.
type Cursor struct {
	At time.Time
	ID string
}

// String encodes the cursor as an opaque token for an API answer.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + ":" + c.ID))
}

// ErrBadCursor means a cursor token was not made by Cursor.String.
var ErrBadCursor = errors.New("malformed cursor")

// ParseCursor decodes a token made by Cursor.String.
func ParseCursor(token string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(raw), ":")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" || us <= 0 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: id}, nil
}

// orEnd is the cursor itself, or a position after every row when there is none.
func (c *Cursor) orEnd() Cursor {
	if c == nil {
		return Cursor{At: time.UnixMicro(math.MaxInt64), ID: ""}
	}
	return *c
}
