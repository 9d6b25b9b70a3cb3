package document

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// Test images are built in code so that every byte of a test input is
// visible in the test that uses it.

var (
	red   = color.RGBA{R: 0xFF, A: 0xFF}
	green = color.RGBA{G: 0xFF, A: 0xFF}
	blue  = color.RGBA{B: 0xFF, A: 0xFF}
)

// markedImage is w×h blue with a 16×16 red block in the top-left corner and a
// green one in the top-right, so any rotation or mirror can be told apart.
func markedImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := blue
			switch {
			case y < 16 && x < 16:
				c = red
			case y < 16 && x >= w-16:
				c = green
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegSegment builds a JPEG marker segment: FF marker, length, payload.
func jpegSegment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// spliceAfterSOI inserts segments right after the SOI marker of a JPEG.
func spliceAfterSOI(jpg []byte, segments ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segments {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// exifAPP1 builds an EXIF APP1 payload ("Exif\0\0" + TIFF) with an
// orientation tag (omitted if orientation is 0), an ImageDescription, and a
// GPS IFD with a latitude, in the given byte order.
func exifAPP1(order binary.ByteOrder, orientation int, description string) []byte {
	var tiff bytes.Buffer
	put16 := func(v uint16) { _ = binary.Write(&tiff, order, v) }
	put32 := func(v uint32) { _ = binary.Write(&tiff, order, v) }
	if order == binary.LittleEndian {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	put16(42)
	put32(8) // IFD0 right after the header

	desc := append([]byte(description), 0)
	entries := 2
	if orientation != 0 {
		entries = 3
	}
	ifd0Size := 2 + 12*entries + 4
	descOff := 8 + ifd0Size
	gpsOff := descOff + len(desc)
	gpsSize := 2 + 12*2 + 4
	latOff := gpsOff + gpsSize

	put16(uint16(entries))
	put16(0x010E) // ImageDescription, ASCII
	put16(2)
	put32(uint32(len(desc)))
	put32(uint32(descOff))
	if orientation != 0 {
		put16(tagOrientation) // SHORT, 1, value in the first two bytes
		put16(3)
		put32(1)
		put16(uint16(orientation))
		put16(0)
	}
	put16(0x8825) // GPSInfo IFD pointer, LONG
	put16(4)
	put32(1)
	put32(uint32(gpsOff))
	put32(0) // no IFD1
	tiff.Write(desc)

	put16(2)
	put16(0x0001) // GPSLatitudeRef, ASCII "N\0" inline
	put16(2)
	put32(2)
	tiff.Write([]byte{'N', 0, 0, 0})
	put16(0x0002) // GPSLatitude, 3 RATIONALs
	put16(5)
	put32(3)
	put32(uint32(latOff))
	put32(0)
	for _, r := range [][2]uint32{{48, 1}, {51, 1}, {2945, 100}} {
		put32(r[0])
		put32(r[1])
	}
	return append([]byte("Exif\x00\x00"), tiff.Bytes()...)
}

// jpegSegments lists the markers of a JPEG up to the first SOS.
func jpegSegments(t testing.TB, jpg []byte) []byte {
	t.Helper()
	var markers []byte
	pos := 2
	for pos+4 <= len(jpg) && jpg[pos] == 0xFF {
		m := jpg[pos+1]
		markers = append(markers, m)
		if m == markerSOS {
			break
		}
		pos += 2 + int(binary.BigEndian.Uint16(jpg[pos+2:]))
	}
	return markers
}

// pngChunk builds a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngAfterIHDR is the offset just after the signature and the IHDR chunk.
const pngAfterIHDR = 8 + 8 + 13 + 4

// splicePNG inserts chunks right after IHDR.
func splicePNG(p []byte, chunks ...[]byte) []byte {
	out := append([]byte{}, p[:pngAfterIHDR]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, p[pngAfterIHDR:]...)
}

// pngChunkTypes lists the chunk types of a PNG.
func pngChunkTypes(t testing.TB, p []byte) []string {
	t.Helper()
	var types []string
	for pos := 8; pos+8 <= len(p); {
		n := int(binary.BigEndian.Uint32(p[pos:]))
		types = append(types, string(p[pos+4:pos+8]))
		pos += 12 + n
	}
	return types
}

// pngHeaderOnly is a PNG with only IHDR (w×h, 8-bit RGB) and IEND: it
// declares an image it does not contain.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := append([]byte{}, magicPNG...)
	out = append(out, pngChunk("IHDR", ihdr)...)
	return append(out, pngChunk("IEND", nil)...)
}

// setJPEGSize rewrites the size in a JPEG's SOF0 header.
func setJPEGSize(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

// objectStream builds a /Type /ObjStm stream holding one object (number
// num), Flate-compressed, so its dictionaries are not visible in the file.
func objectStream(num int, object string) string {
	header := fmt.Sprintf("%d 0 ", num)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(header + object))
	zw.Close()
	return fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream",
		len(header), z.Len(), z.String())
}

func replaceObj(objs []string, i int, old, new string) []string {
	out := append([]string{}, objs...)
	out[i] = strings.Replace(out[i], old, new, 1)
	return out
}
