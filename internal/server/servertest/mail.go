package servertest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// mailWait bounds how long a test waits for an email: the outbox sends at
// once, but a loaded CI machine (PostgreSQL, parallel tests) can be slow.
const mailWait = 15 * time.Second

// Email waits for the first email the node's SMTP server accepted for to
// whose subject contains subject, and returns its text.
func (n *Node) Email(t testing.TB, to, subject string) string {
	t.Helper()
	return n.EmailWith(t, to, subject, "")
}

// EmailWith is Email for the first such email whose text contains text:
// for an address that gets the same email more than once (a withdrawal's
// confirmation for each withdrawal).
//
// The text is the decoded body of every part (plain text and HTML) joined.
func (n *Node) EmailWith(t testing.TB, to, subject, text string) string {
	t.Helper()
	dec := new(mime.WordDecoder)
	for deadline := time.Now().Add(mailWait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range n.Mail.Messages() {
			if !m.Accepted || m.Header == nil || !slices.Contains(m.To, to) {
				continue
			}
			if subj, _ := dec.DecodeHeader(m.Header.Get("Subject")); !strings.Contains(subj, subject) {
				continue
			}
			if body := decodedBody(t, m.Raw); strings.Contains(body, text) {
				return body
			}
		}
	}
	// What did arrive tells a wrong subject from mail that never came.
	for _, m := range n.Mail.Messages() {
		t.Logf("mail to %v, accepted %v: %q", m.To, m.Accepted, m.Header.Get("Subject"))
	}
	t.Fatalf("no email %q with %q to %s", subject, text, to)
	return ""
}

// EmailLinkToken waits for the first email to to whose subject contains
// subject, and returns the token of its link to path (such as
// "/verify-email"); the email must have that link.
func (n *Node) EmailLinkToken(t testing.TB, to, subject, path string) string {
	t.Helper()
	text := n.Email(t, to, subject)
	token := LinkToken(text, path)
	if token == "" {
		t.Fatalf("no %s link in the email %q to %s:\n%s", path, subject, to, text)
	}
	return token
}

// LinkToken is the token of the first link to path?token=… in an email's
// text, or "" when it has none.
func LinkToken(text, path string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// decodedBody is the body of every part of a multipart email, with
// quoted-printable undone: links are read from it as a user would see them.
func decodedBody(t testing.TB, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var all strings.Builder
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, _ := io.ReadAll(body)
		all.Write(b)
	}
	return all.String()
}
