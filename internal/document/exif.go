package document

import (
	"bytes"
	"encoding/binary"
)

// JPEG markers used by the walker.
const (
	markerSOS  = 0xDA // start of scan: entropy-coded data follows
	markerEOI  = 0xD9 // end of image
	markerAPP1 = 0xE1 // EXIF (and XMP) live here
	markerTEM  = 0x01 // stand-alone, no length
	markerRST0 = 0xD0 // RST0–RST7 are stand-alone, inside scans
	markerRST7 = 0xD7
)

// jpegInfo is what the marker walk learns before the image is decoded.
type jpegInfo struct {
	orientation int // EXIF orientation 1–8; 1 when absent or unreadable
	scans       int // number of SOS markers
}

// scanJPEG walks the JPEG's marker segments (data starts with SOI). It is
// deliberately forgiving: structural damage is left for the decoder to report,
// and the walk simply stops, because it only gathers hints. Every read is
// bounds-checked against data.
func scanJPEG(data []byte) jpegInfo {
	info := jpegInfo{orientation: 1}
	seenEXIF := false
	pos := 2 // after SOI
	for pos < len(data) {
		// Like the decoder, skip stray bytes and fill bytes (0xFF runs)
		// before a marker.
		if data[pos] != 0xFF {
			pos++
			continue
		}
		if pos+1 >= len(data) {
			break
		}
		m := data[pos+1]
		switch {
		case m == 0xFF: // fill byte
			pos++
			continue
		case m == 0x00 || m == markerTEM || (m >= markerRST0 && m <= markerRST7):
			pos += 2 // no length field
			continue
		case m == markerEOI:
			return info
		}
		if pos+4 > len(data) {
			break
		}
		length := int(binary.BigEndian.Uint16(data[pos+2:]))
		end := pos + 2 + length
		if length < 2 || end > len(data) {
			break
		}
		segment := data[pos+4 : end]
		pos = end
		switch m {
		case markerAPP1:
			// Only the first EXIF segment before the image data counts,
			// which is what browsers and viewers honour.
			if !seenEXIF && info.scans == 0 && bytes.HasPrefix(segment, []byte("Exif\x00\x00")) {
				seenEXIF = true
				info.orientation = exifOrientation(segment[6:])
			}
		case markerSOS:
			info.scans++
			// Skip the entropy-coded data: it ends at the first 0xFF that is
			// not a stuffed zero (FF 00), a restart marker or a fill byte.
			for pos+1 < len(data) {
				if data[pos] == 0xFF {
					n := data[pos+1]
					if n != 0x00 && n != 0xFF && (n < markerRST0 || n > markerRST7) {
						break
					}
				}
				pos++
			}
		}
	}
	return info
}

// tagOrientation is the TIFF/EXIF tag that says how to turn the image upright.
const tagOrientation = 0x0112

// exifOrientation reads the orientation tag from IFD0 of the TIFF structure
// inside an EXIF APP1 segment. It returns 1 (upright) if the structure is
// damaged or the tag is missing or out of range: a bad tag must never be a
// reason to refuse a photo, only a reason not to rotate it.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(tiff[2:]) != 42 {
		return 1
	}
	// Offsets are computed in uint64 so that a hostile 0xFFFFFFFF offset
	// cannot wrap around on a 32-bit platform.
	size := uint64(len(tiff))
	ifd := uint64(order.Uint32(tiff[4:]))
	if ifd+2 > size {
		return 1
	}
	count := uint64(order.Uint16(tiff[ifd:]))
	for i := uint64(0); i < count; i++ {
		entry := ifd + 2 + 12*i
		if entry+12 > size {
			return 1
		}
		if order.Uint16(tiff[entry:]) != tagOrientation {
			continue
		}
		typ := order.Uint16(tiff[entry+2:])
		n := order.Uint32(tiff[entry+4:])
		const typeShort = 3
		if typ != typeShort || n != 1 {
			return 1
		}
		// A single SHORT is stored in the first two bytes of the value field.
		if v := int(order.Uint16(tiff[entry+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
