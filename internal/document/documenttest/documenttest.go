// Package documenttest makes the files that tests upload as identity
// documents: small PDFs, well formed (a correct cross-reference table),
// which tests change to make them bad in one precise way.
package documenttest

import (
	"bytes"
	"fmt"
)

// PDFObjects are the objects of a two-page PDF: the catalog, the page
// tree, two pages and their content stream.
func PDFObjects() []string {
	content := "BT /F1 12 Tf 72 712 Td (Passport page) Tj ET"
	return []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
}

// BuildPDF writes objects 1..n with a correct cross-reference table.
func BuildPDF(objects []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// PDF is the two-page PDF of PDFObjects; with script, its catalog runs
// JavaScript when the file is opened (active content uploads refuse).
func PDF(script bool) []byte {
	objects := PDFObjects()
	if script {
		objects[0] = "<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"
	}
	return BuildPDF(objects)
}
