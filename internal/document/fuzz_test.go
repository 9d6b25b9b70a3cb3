package document

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/wardenhq/warden/internal/document/documenttest"
)

// fuzzLimits are smaller than the defaults so that the fuzzer spends its time
// on parsing, not on decoding 40-megapixel images it talked a header into.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 18, MaxSide: 2048, MaxPDFPages: 10}

// FuzzClean: Clean never panics; an error is one of the five sentinels and
// comes without data; accepted output hashes to SHA256, carries no metadata
// segments, and cleans again to the same kind and size.
//
// Seeds are in testdata/fuzz/FuzzClean (kept in the repository) and added
// below from the same builders the other tests use.
func FuzzClean(f *testing.F) {
	gray := image.NewGray(image.Rect(0, 0, 9, 7))
	gray.SetGray(1, 1, color.Gray{Y: 200})
	jpg := encodeJPEG(f, markedImage(24, 20))
	seeds := [][]byte{
		jpg,
		encodeJPEG(f, gray),
		spliceAfterSOI(jpg, jpegSegment(markerAPP1, exifAPP1(binary.BigEndian, 6, "d")), jpegSegment(0xFE, []byte("c"))),
		encodePNG(f, markedImage(20, 18)),
		splicePNG(encodePNG(f, gray), pngChunk("tEXt", []byte("k\x00v"))),
		pngHeaderOnly(100000, 100000),
		documenttest.BuildPDF(documenttest.PDFObjects()),
		documenttest.BuildPDF(append(documenttest.PDFObjects(), objectStream(6, "<< /S /JavaScript >>"))),
		[]byte("#!/bin/sh\n"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	sentinels := []error{ErrUnsupported, ErrTooLarge, ErrTooManyPixels, ErrCorrupt, ErrActiveContent}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Clean(data, fuzzLimits)
		if err != nil {
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v is none of the sentinels", err)
			}
			if c.Data != nil || c.Kind != "" || c.SHA256 != "" {
				t.Fatalf("error %v came with a result", err)
			}
			return
		}
		if len(c.Data) == 0 {
			t.Fatal("accepted with no data")
		}
		if sum := sha256.Sum256(c.Data); c.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("SHA256 is not the hash of Data")
		}
		if c.Kind == KindJPEG {
			for _, m := range jpegSegments(t, c.Data) {
				if m >= 0xE0 && m <= 0xEF || m == 0xFE {
					t.Fatalf("output has marker %#x", m)
				}
			}
		}
		if c.Kind == KindPDF && !bytes.Equal(c.Data, data) {
			t.Fatal("a PDF was changed")
		}
		// Cleaning is stable: the output is a valid file of the same kind
		// and size. (The byte limit is relaxed: a re-encode may be bigger.)
		again := fuzzLimits
		again.MaxBytes = 1 << 30
		c2, err := Clean(c.Data, again)
		if err != nil {
			t.Fatalf("output does not clean again: %v", err)
		}
		if c2.Kind != c.Kind || c2.Width != c.Width || c2.Height != c.Height || c2.Pages != c.Pages {
			t.Fatalf("re-clean gave %s %dx%d %dp, first %s %dx%d %dp",
				c2.Kind, c2.Width, c2.Height, c2.Pages, c.Kind, c.Width, c.Height, c.Pages)
		}
	})
}
