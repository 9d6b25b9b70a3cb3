package document

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/document/documenttest"
)

func TestPDF(t *testing.T) {
	good := documenttest.PDFObjects()
	tests := []struct {
		name  string
		data  []byte
		want  error // nil: accepted
		pages int
	}{
		{"minimal two pages", documenttest.BuildPDF(good), nil, 2},
		{"one page", documenttest.BuildPDF(append(replaceObj(good, 1, "[3 0 R 4 0 R] /Count 2", "[3 0 R] /Count 1")[:3], "null", good[4])), nil, 1},
		{"pdf 2.0", bytes.Replace(documenttest.BuildPDF(good), []byte("%PDF-1.7"), []byte("%PDF-2.0"), 1), nil, 2},
		{"crlf and trailing whitespace", append(documenttest.BuildPDF(good), "\r\n\r\n"...), nil, 2},
		{"URI link is fine", documenttest.BuildPDF(replaceObj(good, 2, ">>", "/Annots [<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://example.com) >> >>] >>")), nil, 2},
		// Short names inside ordinary stream data are data, not syntax.
		{"JS bytes inside a content stream", documenttest.BuildPDF(replaceObj(good, 4, "(Passport page)", "(/JS /AA /XFA)")), nil, 2},
		{"page inside a compressed object stream", documenttest.BuildPDF(append(replaceObj(good, 3, "/Type /Page", "/Type /Annot"), objectStream(4, good[3]))), nil, 2},

		// Active content.
		{"javascript action", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>")), ErrActiveContent, 0},
		{"open action", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/OpenAction [3 0 R /Fit] >>")), ErrActiveContent, 0},
		{"launch", documenttest.BuildPDF(replaceObj(good, 2, ">>", "/Annots [<< /Subtype /Link /A << /S /Launch /F (cmd.exe) >> >>] >>")), ErrActiveContent, 0},
		{"embedded file", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/Names << /EmbeddedFiles << /Names [(a.exe) 6 0 R] >> >> >>")), ErrActiveContent, 0},
		{"rich media", documenttest.BuildPDF(replaceObj(good, 2, ">>", "/Annots [<< /Subtype /RichMedia >>] >>")), ErrActiveContent, 0},
		{"additional actions", documenttest.BuildPDF(replaceObj(good, 2, ">>", "/AA << /O 6 0 R >> >>")), ErrActiveContent, 0},
		{"js key alone", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/Foo << /JS 7 0 R >> >>")), ErrActiveContent, 0},
		{"xfa form", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/AcroForm << /XFA 8 0 R >> >>")), ErrActiveContent, 0},
		{"submit form", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/AcroForm << /Fields [<< /A << /S /SubmitForm >> >>] >> >>")), ErrActiveContent, 0},
		{"hex-escaped name", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/Open#41ction << /S /J#61vaScript >> >>")), ErrActiveContent, 0},
		{"javascript hidden in an object stream", documenttest.BuildPDF(append(good, objectStream(6, "<< /S /JavaScript /JS (app.alert(1)) >>"))), ErrActiveContent, 0},
		{"AA hidden in an object stream", documenttest.BuildPDF(append(good, objectStream(6, "<< /AA << /O 7 0 R >> >>"))), ErrActiveContent, 0},
		{"javascript inside a string is still refused", documenttest.BuildPDF(replaceObj(good, 0, ">>", "/Title (see /JavaScript) >>")), ErrActiveContent, 0},

		// Unsupported: cannot be checked.
		{"encrypted", bytes.Replace(documenttest.BuildPDF(good), []byte("/Root 1 0 R"), []byte("/Root 1 0 R /Encrypt 9 0 R"), 1), ErrUnsupported, 0},
		{"object stream in another filter", documenttest.BuildPDF(append(good, "<< /Type /ObjStm /N 1 /First 4 /Filter /ASCIIHexDecode /Length 4 >>\nstream\n4142\nendstream")), ErrUnsupported, 0},

		// Structure.
		{"no %%EOF", bytes.TrimSuffix(documenttest.BuildPDF(good), []byte("%%EOF\n")), ErrCorrupt, 0},
		{"truncated", documenttest.BuildPDF(good)[:200], ErrCorrupt, 0},
		{"data after %%EOF", append(documenttest.BuildPDF(good), "\nPK\x03\x04 zip"...), ErrCorrupt, 0},
		{"bad version", bytes.Replace(documenttest.BuildPDF(good), []byte("%PDF-1.7"), []byte("%PDF-9.9"), 1), ErrCorrupt, 0},
		{"header only", []byte("%PDF-"), ErrCorrupt, 0},
		{"no startxref", bytes.Replace(documenttest.BuildPDF(good), []byte("startxref"), []byte("startxrex"), 1), ErrCorrupt, 0},
		{"startxref past the end", replaceStartxref(documenttest.BuildPDF(good), "99999999"), ErrCorrupt, 0},
		{"startxref at nothing", replaceStartxref(documenttest.BuildPDF(good), "3"), ErrCorrupt, 0},
		{"no pages", documenttest.BuildPDF(replaceObj(replaceObj(good, 2, "/Type /Page", "/Type /X"), 3, "/Type /Page", "/Type /X")), ErrCorrupt, 0},
		{"stream without end", documenttest.BuildPDF(replaceObj(good, 4, "endstream", "")), ErrCorrupt, 0},
		{"damaged object stream", documenttest.BuildPDF(append(good, "<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length 4 >>\nstream\nnope\nendstream")), ErrCorrupt, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Clean(tt.data, DefaultLimits())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Clean: %v", err)
				}
				if c.Kind != KindPDF || c.Pages != tt.pages || !bytes.Equal(c.Data, tt.data) {
					t.Fatalf("got %s with %d pages (same bytes: %v), want PDF with %d pages", c.Kind, c.Pages, bytes.Equal(c.Data, tt.data), tt.pages)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c.Data != nil {
				t.Fatal("an error came with data")
			}
		})
	}
}

func TestPDFPageLimit(t *testing.T) {
	data := documenttest.BuildPDF(documenttest.PDFObjects())
	if _, err := Clean(data, Limits{MaxPDFPages: 2}); err != nil {
		t.Fatalf("2 pages with a limit of 2: %v", err)
	}
	_, err := Clean(data, Limits{MaxPDFPages: 1})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "2 pages") {
		t.Fatalf("err = %v, want ErrTooLarge about pages", err)
	}
}

// TestPDFObjectStreamBomb: an object stream that inflates past the cap is
// refused instead of filling memory.
func TestPDFObjectStreamBomb(t *testing.T) {
	huge := strings.Repeat(" ", maxInflated+1)
	data := documenttest.BuildPDF(append(documenttest.PDFObjects(), objectStream(6, huge)))
	if len(data) > 1<<20 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(data))
	}
	if _, err := Clean(data, DefaultLimits()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func replaceStartxref(pdf []byte, offset string) []byte {
	i := bytes.LastIndex(pdf, []byte("startxref\n"))
	return fmt.Appendf(append([]byte{}, pdf[:i]...), "startxref\n%s\n%%%%EOF\n", offset)
}
