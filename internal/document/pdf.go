package document

import (
	"bytes"
	"compress/zlib"
	"io"
	"strconv"
)

// PDFs are not rewritten (that needs a full PDF library), so they are checked
// instead, conservatively: a false refusal costs the user a re-upload as an
// image; a false acceptance could run a script on a reviewer's machine.
//
// The check has three parts:
//
//  1. structure: a "%PDF-1.x" (or 2.0) header at offset 0, and at the very end
//     "startxref <offset> %%EOF" with the offset pointing at a cross-reference
//     table or stream. Nothing but whitespace may follow %%EOF, which refuses
//     PDFs with another file (a JPEG, a ZIP) appended — the usual polyglot.
//  2. active content: names such as /JavaScript, /OpenAction and /Launch.
//     Names are compared after decoding #xx escapes (/J#61vaScript is
//     /JavaScript to a reader). Compressed object streams (/Type /ObjStm) are
//     inflated and checked too, since dictionaries can hide in them.
//  3. pages: objects of /Type /Page are counted; there must be at least one
//     and at most MaxPDFPages.

// activeNames are names that make a PDF act on its own or carry other files.
// The value is the reason shown to the user.
//
// Long names are searched for everywhere, stream data included: ten random
// bytes will not spell "/JavaScript", and an attacker cannot hide a dictionary
// in something the scanner takes for stream data. Short names (/JS, /AA,
// /XFA) would turn up by chance in compressed data, so they are only searched
// for outside streams.
var activeNames = map[string]string{
	"JavaScript":    "it contains JavaScript",
	"JS":            "it contains JavaScript",
	"OpenAction":    "it runs an action when opened",
	"AA":            "it runs actions automatically",
	"Launch":        "it can launch programs",
	"EmbeddedFile":  "it has embedded files",
	"EmbeddedFiles": "it has embedded files",
	"RichMedia":     "it has embedded media",
	"XFA":           "it has an XFA form, which can run scripts",
	"SubmitForm":    "it has a form that sends data",
	"ImportData":    "it imports data from other files",
	"GoToR":         "it links to other files",
	"GoToE":         "it links to embedded files",
}

// longName is the length from which a name is searched for inside streams too.
const longName = 5

// maxInflated bounds the bytes inflated from object streams, so a small PDF
// cannot decompress into gigabytes. Object streams hold only dictionaries and
// numbers; real ones are kilobytes.
const maxInflated = 32 << 20

// checkPDF checks a PDF (data starts with "%PDF-") and returns it unchanged.
func checkPDF(data []byte, l Limits) (Cleaned, error) {
	if !validPDFHeader(data) {
		return Cleaned{}, failf(ErrCorrupt, "the PDF header is not valid")
	}
	if err := checkPDFTrailer(data); err != nil {
		return Cleaned{}, err
	}
	// Long names first, over every byte.
	if reason := scanLongNames(data); reason != "" {
		return Cleaned{}, failf(ErrActiveContent, "the PDF was refused because %s", reason)
	}
	top, err := lexPDF(data, true)
	if err != nil {
		return Cleaned{}, err
	}
	if top.active != "" {
		return Cleaned{}, failf(ErrActiveContent, "the PDF was refused because %s", top.active)
	}
	// Encryption before object streams: an encrypted object stream does not
	// inflate, and "encrypted" is the better thing to tell the user.
	if top.encrypted {
		return Cleaned{}, failf(ErrUnsupported, "the PDF is encrypted or password protected, so it cannot be checked; upload it without a password")
	}
	pages := top.pages
	inflated := 0
	for _, s := range top.objStreams {
		content := s.data
		if s.flate {
			content, err = inflate(s.data, maxInflated-inflated)
			if err != nil {
				return Cleaned{}, err
			}
			inflated += len(content)
		}
		// Object streams cannot contain streams, so no further nesting.
		inner, err := lexPDF(content, false)
		if err != nil {
			return Cleaned{}, err
		}
		if inner.active == "" {
			inner.active = scanLongNames(content)
		}
		if inner.active != "" {
			return Cleaned{}, failf(ErrActiveContent, "the PDF was refused because %s", inner.active)
		}
		pages += inner.pages
	}
	if pages == 0 {
		return Cleaned{}, failf(ErrCorrupt, "the PDF has no pages")
	}
	if pages > l.MaxPDFPages {
		return Cleaned{}, failf(ErrTooLarge, "the PDF has %d pages; at most %d are accepted", pages, l.MaxPDFPages)
	}
	// A copy, so that a caller reusing its upload buffer cannot change what
	// was checked and hashed.
	return Cleaned{Kind: KindPDF, Data: bytes.Clone(data), Pages: pages}, nil
}

// validPDFHeader accepts "%PDF-1.0" to "%PDF-1.7" and "%PDF-2.0", followed by
// the end of the line.
func validPDFHeader(data []byte) bool {
	if len(data) < 9 {
		return false
	}
	v := string(data[5:8])
	ok := v == "2.0" || (v[0] == '1' && v[1] == '.' && v[2] >= '0' && v[2] <= '7')
	return ok && isPDFSpace(data[8])
}

// checkPDFTrailer checks the end of the file: "startxref", an offset that
// points at a cross-reference section, and "%%EOF" followed only by
// whitespace.
func checkPDFTrailer(data []byte) error {
	end := trimPDFSpaceRight(data)
	if !bytes.HasSuffix(end, []byte("%%EOF")) {
		if bytes.Contains(data, []byte("%%EOF")) {
			return failf(ErrCorrupt, "the PDF has other data after its end")
		}
		return failf(ErrCorrupt, "the PDF is incomplete (it has no end marker)")
	}
	rest := trimPDFSpaceRight(end[:len(end)-len("%%EOF")])
	digits := len(rest)
	for digits > 0 && rest[digits-1] >= '0' && rest[digits-1] <= '9' {
		digits--
	}
	offset, err := strconv.ParseInt(string(rest[digits:]), 10, 64)
	if err != nil || !bytes.HasSuffix(trimPDFSpaceRight(rest[:digits]), []byte("startxref")) {
		return failf(ErrCorrupt, "the PDF's cross-reference pointer is missing")
	}
	if offset < 0 || offset >= int64(len(data)) || !xrefAt(data[offset:]) {
		return failf(ErrCorrupt, "the PDF's cross-reference pointer is wrong")
	}
	return nil
}

// xrefAt reports whether b starts (after whitespace) with a classic "xref"
// table or an indirect object ("12 0 obj"), which is how a cross-reference
// stream starts.
func xrefAt(b []byte) bool {
	i := 0
	for i < len(b) && isPDFSpace(b[i]) {
		i++
	}
	b = b[i:]
	if bytes.HasPrefix(b, []byte("xref")) {
		return true
	}
	// number, space, number, space, "obj"
	for field := 0; field < 2; field++ {
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		s := n
		for s < len(b) && isPDFSpace(b[s]) {
			s++
		}
		if n == 0 || s == n {
			return false
		}
		b = b[s:]
	}
	return bytes.HasPrefix(b, []byte("obj"))
}

// objStream is a compressed object stream found by the lexer.
type objStream struct {
	data  []byte
	flate bool
}

// lexResult is what one pass of the lexer found.
type lexResult struct {
	active     string // reason, if an active-content name was seen
	encrypted  bool
	pages      int
	objStreams []objStream
}

// lexPDF tokenises PDF syntax just enough to see names outside strings,
// comments and stream data, to count pages, and to find object streams.
// withStreams is false for the content of an object stream.
func lexPDF(data []byte, withStreams bool) (lexResult, error) {
	var r lexResult
	depth, dictStart := 0, 0
	var lastDict []byte // the most recent complete top-level dictionary
	lastDictEnd := -1
	prevName := ""
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case isPDFSpace(c):
			i++
			continue
		case c == '%': // comment, to the end of the line
			for i < len(data) && data[i] != '\r' && data[i] != '\n' {
				i++
			}
			continue
		case c == '(':
			i = skipLiteralString(data, i)
		case c == '<' && i+1 < len(data) && data[i+1] == '<':
			if depth == 0 {
				dictStart = i
			}
			depth++
			i += 2
		case c == '<': // hex string
			j := bytes.IndexByte(data[i:], '>')
			if j < 0 {
				i = len(data)
			} else {
				i += j + 1
			}
		case c == '>' && i+1 < len(data) && data[i+1] == '>':
			if depth > 0 {
				depth--
				if depth == 0 {
					lastDict, lastDictEnd = data[dictStart:i+2], i+2
				}
			}
			i += 2
		case c == '/':
			name, next := readName(data, i+1)
			if reason, ok := activeNames[name]; ok && r.active == "" {
				r.active = reason
			}
			switch {
			case name == "Encrypt":
				r.encrypted = true
			case name == "Page" && prevName == "Type":
				r.pages++
			}
			prevName = name
			i = next
			continue // keep prevName for the next token
		case isPDFRegular(c):
			j := i
			for j < len(data) && isPDFRegular(data[j]) {
				j++
			}
			if withStreams && string(data[i:j]) == "stream" {
				// The dictionary belongs to this stream only if nothing but
				// whitespace separates them.
				var dict []byte
				if lastDictEnd >= 0 && len(bytes.TrimLeft(data[lastDictEnd:i], " \t\r\n\f\x00")) == 0 {
					dict = lastDict
				}
				next, err := r.stream(data, j, dict)
				if err != nil {
					return lexResult{}, err
				}
				j = next
			}
			i = j
		default: // other delimiters: [ ] { } and a stray >
			i++
		}
		prevName = ""
	}
	return r, nil
}

// stream handles stream data starting after the "stream" keyword at pos and
// returns the position after "endstream". The data is skipped, except for
// object streams, which are kept to be inflated and checked.
func (r *lexResult) stream(data []byte, pos int, dict []byte) (int, error) {
	// The keyword is followed by CRLF or LF (a lone CR is tolerated).
	switch {
	case bytes.HasPrefix(data[pos:], []byte("\r\n")):
		pos += 2
	case pos < len(data) && (data[pos] == '\n' || data[pos] == '\r'):
		pos++
	}
	// The end is found by searching rather than trusting /Length (which can
	// be an indirect reference). A wrong guess only makes the lexer read
	// stream bytes as syntax, which can cause a refusal, not an acceptance:
	// the long names were already searched for in every byte.
	n := bytes.Index(data[pos:], []byte("endstream"))
	if n < 0 {
		return 0, failf(ErrCorrupt, "the PDF has a stream without an end")
	}
	body := data[pos : pos+n]
	if dict != nil {
		names := dictNames(dict)
		if names["ObjStm"] {
			flate := false
			for name := range names {
				switch name {
				case "FlateDecode", "Fl":
					flate = true
				case "ASCIIHexDecode", "AHx", "ASCII85Decode", "A85", "LZWDecode", "LZW",
					"RunLengthDecode", "RL", "Crypt", "CCITTFaxDecode", "CCF", "DCTDecode", "DCT",
					"JBIG2Decode", "JPXDecode":
					return 0, failf(ErrUnsupported, "the PDF is compressed in a way that cannot be checked; save it again as a standard PDF")
				}
			}
			r.objStreams = append(r.objStreams, objStream{data: body, flate: flate})
		}
	}
	return pos + n + len("endstream"), nil
}

// dictNames returns the set of names used in a dictionary.
func dictNames(dict []byte) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < len(dict); i++ {
		if dict[i] == '/' {
			name, next := readName(dict, i+1)
			names[name] = true
			i = next - 1
		}
	}
	return names
}

// inflate decompresses a zlib (FlateDecode) stream, refusing more than limit
// bytes of output.
func inflate(b []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, failf(ErrCorrupt, "the PDF has a damaged compressed stream")
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, failf(ErrCorrupt, "the PDF has a damaged compressed stream")
	}
	if len(out) > limit {
		return nil, failf(ErrTooLarge, "the PDF expands to too much data")
	}
	return out, nil
}

// scanLongNames searches every byte of data for the long active-content names
// and returns the reason for the first one found.
func scanLongNames(data []byte) string {
	for i := 0; i < len(data); i++ {
		if data[i] != '/' {
			continue
		}
		name, _ := readName(data, i+1)
		if len(name) < longName {
			continue
		}
		if reason, ok := activeNames[name]; ok {
			return reason
		}
	}
	return ""
}

// maxNameLen bounds the decoded name kept by readName (the PDF limit is 127);
// longer names are still skipped over in full.
const maxNameLen = 127

// readName reads a name starting at i (just after the '/'), decoding #xx
// escapes, and returns it with the position after it.
func readName(data []byte, i int) (string, int) {
	var name []byte
	for i < len(data) && isPDFRegular(data[i]) {
		c := data[i]
		if c == '#' && i+2 < len(data) {
			if h, ok := unhex(data[i+1], data[i+2]); ok {
				c = h
				i += 2
			}
		}
		if len(name) < maxNameLen {
			name = append(name, c)
		}
		i++
	}
	return string(name), i
}

// skipLiteralString returns the position after the literal string starting
// with '(' at i. Parentheses nest, and a backslash escapes the next byte.
func skipLiteralString(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(data)
}

func unhex(a, b byte) (byte, bool) {
	hi, ok1 := hexVal(a)
	lo, ok2 := hexVal(b)
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isPDFSpace reports PDF white-space characters (NUL, TAB, LF, FF, CR, SP).
func isPDFSpace(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

// isPDFRegular reports characters that are neither white space nor delimiters.
func isPDFRegular(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return !isPDFSpace(c)
}

func trimPDFSpaceRight(b []byte) []byte {
	for len(b) > 0 && isPDFSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
