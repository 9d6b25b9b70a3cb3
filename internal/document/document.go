// Package document accepts identity documents and selfies safely.
//
// Clean is the only way in: it decides what a file is from its content (never
// from its name or the Content-Type the browser sent), refuses files that are
// too big or that would decode into too many pixels, and returns bytes that are
// safe to store and show to a reviewer:
//
//   - JPEG and PNG images are fully decoded and re-encoded, so that EXIF (and
//     with it GPS positions), ICC profiles, XMP, comments, text chunks and any
//     data appended after the image are gone. JPEGs are turned upright first,
//     because the orientation tag that did that job is removed with the rest.
//   - PDFs cannot be rewritten without a PDF library, so they are checked
//     structurally and refused if they carry anything that can act when the
//     reviewer opens them (JavaScript, open actions, launch actions, embedded
//     files, rich media, forms that submit). An accepted PDF is stored as given.
//
// The package is pure: no HTTP, no storage, no encryption. Callers encrypt and
// store Cleaned.Data and keep Cleaned.SHA256 as the content hash.
package document

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Kind is the media type of an accepted document, decided from its content.
type Kind string

// The kinds Clean accepts.
const (
	KindJPEG Kind = "image/jpeg"
	KindPNG  Kind = "image/png"
	KindPDF  Kind = "application/pdf"
)

// Limits bounds what Clean will accept. A zero (or negative) field means the
// default from DefaultLimits, so a partly filled Limits is never unlimited.
type Limits struct {
	// MaxBytes is the largest upload accepted, checked before any decoding.
	MaxBytes int64
	// MaxPixels is the largest width×height accepted. It is checked from the
	// image header before the pixels are allocated, which is what stops a
	// small file from decompressing into gigabytes (a decompression bomb).
	MaxPixels int
	// MaxSide is the longest side accepted, in pixels.
	MaxSide int
	// MaxPDFPages is the largest number of pages accepted in a PDF.
	MaxPDFPages int
}

// DefaultLimits returns the limits used for identity documents and selfies:
// 10 MiB, 40 megapixels, 12000 pixels a side and 10 PDF pages. A phone photo
// (12–50 MP) or a scan of a passport page fits comfortably.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:    10 << 20,
		MaxPixels:   40_000_000,
		MaxSide:     12000,
		MaxPDFPages: 10,
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = d.MaxSide
	}
	if l.MaxPDFPages <= 0 {
		l.MaxPDFPages = d.MaxPDFPages
	}
	return l
}

// Cleaned is a document that is safe to store.
type Cleaned struct {
	Kind Kind
	// Data is the bytes to store: a re-encoded image, or the PDF as uploaded.
	Data []byte
	// SHA256 is the lowercase hex SHA-256 of Data (not of the upload), so it
	// identifies what is actually stored.
	SHA256 string
	// Width and Height are the stored image's size in pixels, after it was
	// turned upright; zero for PDFs.
	Width, Height int
	// Pages is the number of pages of a PDF; zero for images.
	Pages int
}

// The errors Clean returns. Each is wrapped with a reason that can be shown
// to the user (errors.Is tells them apart; err.Error() says what was wrong).
var (
	// ErrUnsupported: the content is not a JPEG, PNG or PDF (whatever its
	// name says), is a variant the decoder cannot read (12-bit or
	// arithmetic-coded JPEG), or is a PDF that cannot be checked (encrypted,
	// or object streams in an unusual compression).
	ErrUnsupported = errors.New("unsupported file")
	// ErrTooLarge: over MaxBytes, or a PDF with more than MaxPDFPages pages.
	ErrTooLarge = errors.New("file too large")
	// ErrTooManyPixels: the image is wider, taller or bigger than allowed.
	ErrTooManyPixels = errors.New("image too large")
	// ErrCorrupt: it starts like a supported type but is truncated, does not
	// decode, or is not well formed.
	ErrCorrupt = errors.New("damaged file")
	// ErrActiveContent: a PDF that can run scripts, act when opened, launch
	// programs, or carries embedded files.
	ErrActiveContent = errors.New("file has active content")
)

// failf wraps one of the sentinel errors with a reason for the user.
func failf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// Magic numbers. Each must be at offset 0: a PDF reader accepts "%PDF-"
// anywhere in the first kilobyte, which is how JPEG/PDF polyglots are made,
// so anything that does not start with the signature is refused.
var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
	magicPDF  = []byte("%PDF-")
)

// Clean decides what data is from its content, enforces l, and returns the
// bytes to store. On error the returned Cleaned is the zero value, so no
// partly checked bytes can be stored by mistake.
func Clean(data []byte, l Limits) (Cleaned, error) {
	l = l.withDefaults()
	// Size first: nothing is decoded or scanned for an oversized upload.
	if int64(len(data)) > l.MaxBytes {
		return Cleaned{}, failf(ErrTooLarge, "the file is %s; the limit is %s", humanBytes(int64(len(data))), humanBytes(l.MaxBytes))
	}
	var (
		c   Cleaned
		err error
	)
	switch {
	case bytes.HasPrefix(data, magicJPEG):
		c, err = cleanJPEG(data, l)
	case bytes.HasPrefix(data, magicPNG):
		c, err = cleanPNG(data, l)
	case bytes.HasPrefix(data, magicPDF):
		c, err = checkPDF(data, l)
	default:
		return Cleaned{}, failf(ErrUnsupported, "%s; upload a JPEG or PNG photo, or a PDF", describe(data))
	}
	if err != nil {
		return Cleaned{}, err
	}
	sum := sha256.Sum256(c.Data)
	c.SHA256 = hex.EncodeToString(sum[:])
	return c, nil
}

// describe names common content that is not accepted, so the user learns why
// (a HEIC photo from an iPhone is the likely case, and deserves a hint).
func describe(data []byte) string {
	known := []struct {
		prefix []byte
		offset int
		name   string
	}{
		{[]byte("GIF8"), 0, "this is a GIF image"},
		{[]byte("RIFF"), 0, "this is a RIFF file (WebP, WAV or AVI)"},
		{[]byte("BM"), 0, "this is a BMP image"},
		{[]byte("II*\x00"), 0, "this is a TIFF image"},
		{[]byte("MM\x00*"), 0, "this is a TIFF image"},
		{[]byte("ftypheic"), 4, "this is a HEIC photo; set the camera to \"Most Compatible\" or export it as JPEG"},
		{[]byte("ftypheix"), 4, "this is a HEIC photo; set the camera to \"Most Compatible\" or export it as JPEG"},
		{[]byte("ftypmif1"), 4, "this is a HEIF photo; export it as JPEG"},
		{[]byte("ftypavif"), 4, "this is an AVIF image"},
		{[]byte("PK\x03\x04"), 0, "this is a ZIP archive or office document"},
		{[]byte("\x7fELF"), 0, "this is a program"},
		{[]byte("MZ"), 0, "this is a program"},
		{[]byte("#!"), 0, "this is a script"},
	}
	if len(data) == 0 {
		return "the file is empty"
	}
	for _, k := range known {
		if len(data) >= k.offset+len(k.prefix) && bytes.Equal(data[k.offset:k.offset+len(k.prefix)], k.prefix) {
			return k.name
		}
	}
	return "this is not a JPEG, PNG or PDF file"
}

// humanBytes formats n for an error message.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
