package document

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// jpegQuality is high enough that text on an ID card stays legible after the
// re-encode, and low enough that a phone photo does not grow much.
const jpegQuality = 90

// maxJPEGScans bounds the number of scans in a JPEG. The decoder walks every
// block of the image once per scan, so a small progressive file with
// thousands of one-coefficient scans costs minutes of CPU (a CPU bomb).
// Real encoders write 1 (baseline) to about 12 (progressive) scans.
const maxJPEGScans = 64

// cleanJPEG re-encodes a JPEG without any of its metadata, upright.
func cleanJPEG(data []byte, l Limits) (Cleaned, error) {
	// The marker walk is done before decoding: it finds the orientation and
	// counts the scans, so a scan bomb is refused before the decoder starts.
	info := scanJPEG(data)
	if info.scans > maxJPEGScans {
		return Cleaned{}, failf(ErrCorrupt, "the JPEG has %d scans; at most %d are accepted", info.scans, maxJPEGScans)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Cleaned{}, decodeError("JPEG", err)
	}
	if err := checkSize(cfg.Width, cfg.Height, l); err != nil {
		return Cleaned{}, err
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return Cleaned{}, decodeError("JPEG", err)
	}
	img = orient(img, info.orientation)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		// Encoding a decoded image into memory cannot really fail; treat it
		// as the input's fault rather than panicking.
		return Cleaned{}, failf(ErrCorrupt, "the JPEG image cannot be re-encoded (%v)", err)
	}
	b := img.Bounds()
	return Cleaned{Kind: KindJPEG, Data: out.Bytes(), Width: b.Dx(), Height: b.Dy()}, nil
}

// cleanPNG re-encodes a PNG, which keeps only IHDR, PLTE, tRNS, IDAT and
// IEND: text chunks (tEXt, zTXt, iTXt), eXIf, iCCP, and anything after IEND
// are dropped. Pixels are kept losslessly, including 16-bit depth and alpha.
func cleanPNG(data []byte, l Limits) (Cleaned, error) {
	// DecodeConfig reads only the header chunks, so the 100000×100000 case is
	// refused here without the image being allocated.
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Cleaned{}, decodeError("PNG", err)
	}
	if err := checkSize(cfg.Width, cfg.Height, l); err != nil {
		return Cleaned{}, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return Cleaned{}, decodeError("PNG", err)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return Cleaned{}, failf(ErrCorrupt, "the PNG image cannot be re-encoded (%v)", err)
	}
	b := img.Bounds()
	return Cleaned{Kind: KindPNG, Data: out.Bytes(), Width: b.Dx(), Height: b.Dy()}, nil
}

// decodeError tells a valid file the decoder cannot handle (a 12-bit or
// arithmetic-coded JPEG, say) from a damaged one: the first is unsupported,
// and the user can fix it by exporting the image again.
func decodeError(format string, err error) error {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return failf(ErrUnsupported, "this kind of %s cannot be read (%v); save or export it again as a standard %s", format, err, format)
	}
	return failf(ErrCorrupt, "the %s image is damaged or incomplete (%v)", format, err)
}

// checkSize applies the pixel limits to the size read from the header.
func checkSize(w, h int, l Limits) error {
	if w <= 0 || h <= 0 {
		return failf(ErrCorrupt, "the image has no pixels (%d×%d)", w, h)
	}
	if w > l.MaxSide || h > l.MaxSide {
		return failf(ErrTooManyPixels, "the image is %d×%d pixels; each side may be at most %d", w, h, l.MaxSide)
	}
	// int64: on a 32-bit platform w*h could overflow int and pass the check.
	if px := int64(w) * int64(h); px > int64(l.MaxPixels) {
		return failf(ErrTooManyPixels, "the image is %d×%d pixels (%.1f megapixels); at most %.1f megapixels are accepted",
			w, h, float64(px)/1e6, float64(l.MaxPixels)/1e6)
	}
	return nil
}

// orient turns img upright according to an EXIF orientation (1–8), so the
// stored image looks right without the tag. 1 and unknown values leave img
// as it is. Orientations 5–8 swap width and height.
//
// The new image is written in one pass from the source pixels: grey stays
// grey, everything else becomes RGBA (the usual YCbCr case has a fast path,
// since phone photos are the ones that carry the tag).
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	// src maps a destination pixel to the source pixel shown there
	// (both relative to the top-left corner).
	src := func(x, y int) (int, int) {
		switch o {
		case 2: // mirrored left-right
			return w - 1 - x, y
		case 3: // upside down
			return w - 1 - x, h - 1 - y
		case 4: // mirrored top-bottom
			return x, h - 1 - y
		case 5: // mirrored along the main diagonal
			return y, x
		case 6: // needs a quarter turn clockwise
			return y, h - 1 - x
		case 7: // mirrored along the other diagonal
			return w - 1 - y, h - 1 - x
		default: // 8: needs a quarter turn anticlockwise
			return w - 1 - y, x
		}
	}
	switch s := img.(type) {
	case *image.Gray:
		dst := image.NewGray(image.Rect(0, 0, dw, dh))
		for y := 0; y < dh; y++ {
			for x := 0; x < dw; x++ {
				sx, sy := src(x, y)
				dst.Pix[y*dst.Stride+x] = s.Pix[s.PixOffset(b.Min.X+sx, b.Min.Y+sy)]
			}
		}
		return dst
	case *image.YCbCr:
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		for y := 0; y < dh; y++ {
			for x := 0; x < dw; x++ {
				sx, sy := src(x, y)
				px, py := b.Min.X+sx, b.Min.Y+sy
				r, g, bl := color.YCbCrToRGB(s.Y[s.YOffset(px, py)], s.Cb[s.COffset(px, py)], s.Cr[s.COffset(px, py)])
				i := y*dst.Stride + 4*x
				dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = r, g, bl, 0xFF
			}
		}
		return dst
	default: // CMYK JPEGs: rare, so the generic (slower) path is fine
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		for y := 0; y < dh; y++ {
			for x := 0; x < dw; x++ {
				sx, sy := src(x, y)
				dst.Set(x, y, img.At(b.Min.X+sx, b.Min.Y+sy))
			}
		}
		return dst
	}
}
