package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/store"
)

// Mailbox is where the dev mailbox pages read captured email; *store.Store
// implements it.
type Mailbox interface {
	// ListDevMail returns up to limit messages, newest first; to, when not
	// empty, keeps only the mail to that address.
	ListDevMail(ctx context.Context, to string, limit int) ([]notify.DevMail, error)
	// GetDevMail returns one message, or an error matching store.ErrNotFound.
	GetDevMail(ctx context.Context, id string) (notify.DevMail, error)
}

// mailboxLimit is how many messages the list and the JSON show at most.
const mailboxLimit = 200

// mailHTMLCSP is the policy of an email's HTML part, shown on its own: a
// sandbox without scripts, forms or same-origin access; links may still be
// followed when clicked. Inline styles and images are allowed, as email needs them.
const mailHTMLCSP = "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; " +
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; font-src data:; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

type mailboxPage struct {
	To        string
	Messages  []notify.DevMail
	Truncated bool
}

func (p *Pages) mailboxList(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	msgs, err := p.mailbox.ListDevMail(r.Context(), to, mailboxLimit)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: list dev mail", "err", err)
		p.renderError(w, r, http.StatusInternalServerError, "")
		return
	}
	p.Render(w, r, http.StatusOK, "mailbox", mailboxPage{To: to, Messages: msgs, Truncated: len(msgs) == mailboxLimit})
}

func (p *Pages) mailboxJSON(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	msgs, err := p.mailbox.ListDevMail(r.Context(), to, mailboxLimit)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: list dev mail", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"internal error"}` + "\n"))
		return
	}
	if msgs == nil {
		msgs = []notify.DevMail{}
	}
	_ = json.NewEncoder(w).Encode(msgs)
}

// getMail loads the message named in the path, or writes the error page.
func (p *Pages) getMail(w http.ResponseWriter, r *http.Request) (notify.DevMail, bool) {
	m, err := p.mailbox.GetDevMail(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "There is no message with this id in the dev mailbox.")
		return m, false
	case err != nil:
		p.log.ErrorContext(r.Context(), "web: get dev mail", "err", err)
		p.renderError(w, r, http.StatusInternalServerError, "")
		return m, false
	}
	return m, true
}

type mailPage struct {
	Mail notify.DevMail
	Text []textSpan
}

func (p *Pages) mailboxMessage(w http.ResponseWriter, r *http.Request) {
	m, ok := p.getMail(w, r)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "mail", mailPage{Mail: m, Text: linkify(m.Text)})
}

// mailboxHTML serves the HTML part of a message as its own document, under a
// policy that runs no script in it.
func (p *Pages) mailboxHTML(w http.ResponseWriter, r *http.Request) {
	m, ok := p.getMail(w, r)
	if !ok {
		return
	}
	if m.HTML == "" {
		p.renderError(w, r, http.StatusNotFound, "This message has no HTML part.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", mailHTMLCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(m.HTML))
}

// textSpan is a piece of plain text; URL is set when the piece is a web
// address to be shown as a link.
type textSpan struct {
	Text string
	URL  string
}

// webAddress finds candidates for http(s) addresses in plain text; linkify
// then checks each one.
var webAddress = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'` + "`" + `]+`)

// linkify splits plain text into spans, marking the http and https addresses
// in it. Nothing here produces HTML: the template escapes every span, and
// html/template checks the URLs once more.
func linkify(s string) []textSpan {
	var out []textSpan
	last := 0
	for _, loc := range webAddress.FindAllStringIndex(s, -1) {
		start := loc[0]
		raw := trimAddress(s[start:loc[1]])
		if !isWebURL(raw) {
			continue
		}
		if start > last {
			out = append(out, textSpan{Text: s[last:start]})
		}
		out = append(out, textSpan{Text: raw, URL: raw})
		last = start + len(raw)
	}
	if last < len(s) {
		out = append(out, textSpan{Text: s[last:]})
	}
	return out
}

// trimAddress drops the punctuation that ends a sentence rather than the
// address, and closing brackets that were opened before the address.
func trimAddress(u string) string {
	for u != "" {
		last := u[len(u)-1]
		switch last {
		case '.', ',', ';', ':', '!', '?', '*':
			u = u[:len(u)-1]
			continue
		case ')', ']', '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[last]
			if strings.Count(u, string(open)) < strings.Count(u, string(last)) {
				u = u[:len(u)-1]
				continue
			}
		}
		return u
	}
	return u
}

func isWebURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
