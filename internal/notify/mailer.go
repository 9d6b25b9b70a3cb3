package notify

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"net/url"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/wardenhq/warden/internal/outbox"
)

// templateFS holds the email templates: layout.{txt,html}.tmpl shared by
// all, and NAME.txt.tmpl + NAME.html.tmpl for each email. It is embedded so
// the binary needs no files at run time; being read-only, it is the one
// package-level value.
//
//go:embed templates/*.tmpl
var templateFS embed.FS

const layoutName = "layout"

// Mailer renders emails from the embedded templates. It is safe for
// concurrent use.
type Mailer struct {
	baseURL   string // absolute, without trailing slash
	platform  string
	templates map[string]emailTemplate
}

// emailTemplate is one email: the text set defines "subject", both sets
// define "content" and share "layout".
type emailTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// view is what templates see. Data holds the email's own values; optional
// ones are read with {{index .Data "key"}}, which yields nothing when the key
// is absent, while {{.Data.key}} fails rendering when it is missing.
type view struct {
	Platform         string
	BaseURL          string
	HomeURL          string
	To               string
	Subject          string
	AntiPhishingCode string
	Data             map[string]any
}

// NewMailer parses every template, so a broken or incomplete template stops
// the server at start instead of failing the first email that uses it.
// baseURL (WARDEN_BASE_URL) is where links in emails point; platformName is
// how emails name the service.
func NewMailer(baseURL, platformName string) (*Mailer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("new mailer: base URL %q: want an absolute http(s) URL without user, query or fragment", baseURL)
	}
	platformName = strings.TrimSpace(platformName)
	if platformName == "" || strings.ContainsAny(platformName, "\r\n") {
		return nil, fmt.Errorf("new mailer: platform name %q: want one non-empty line", platformName)
	}
	m := &Mailer{
		baseURL:   strings.TrimRight(u.String(), "/"),
		platform:  platformName,
		templates: map[string]emailTemplate{},
	}
	names, err := templateNames()
	if err != nil {
		return nil, fmt.Errorf("new mailer: %w", err)
	}
	for _, name := range names {
		t, err := parseEmailTemplate(name)
		if err != nil {
			return nil, fmt.Errorf("new mailer: template %q: %w", name, err)
		}
		m.templates[name] = t
	}
	return m, nil
}

// templateNames lists the emails: every NAME.txt.tmpl but the layout, each of
// which must have its NAME.html.tmpl.
func templateNames() ([]string, error) {
	files, err := fs.Glob(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	var names []string
	for _, f := range files {
		base := path.Base(f)
		name, ok := strings.CutSuffix(base, ".txt.tmpl")
		if !ok {
			if !strings.HasSuffix(base, ".html.tmpl") {
				return nil, fmt.Errorf("template file %s: want NAME.txt.tmpl or NAME.html.tmpl", base)
			}
			name = strings.TrimSuffix(base, ".html.tmpl")
			if !slices.Contains(files, "templates/"+name+".txt.tmpl") {
				return nil, fmt.Errorf("template %s has an HTML part but no text part", name)
			}
			continue
		}
		if !slices.Contains(files, "templates/"+name+".html.tmpl") {
			return nil, fmt.Errorf("template %s has a text part but no HTML part", name)
		}
		if name != layoutName {
			names = append(names, name)
		}
	}
	return names, nil
}

func parseEmailTemplate(name string) (emailTemplate, error) {
	// missingkey=error turns a misspelt {{.Data.key}} into a render error
	// rather than "<no value>" in a user's inbox.
	text, err := texttemplate.New(name).Option("missingkey=error").
		ParseFS(templateFS, "templates/"+layoutName+".txt.tmpl", "templates/"+name+".txt.tmpl")
	if err != nil {
		return emailTemplate{}, fmt.Errorf("parse text part: %w", err)
	}
	html, err := htmltemplate.New(name).Option("missingkey=error").
		ParseFS(templateFS, "templates/"+layoutName+".html.tmpl", "templates/"+name+".html.tmpl")
	if err != nil {
		return emailTemplate{}, fmt.Errorf("parse HTML part: %w", err)
	}
	for _, def := range []string{"subject", "content", layoutName} {
		if text.Lookup(def) == nil {
			return emailTemplate{}, fmt.Errorf("text part defines no %q", def)
		}
	}
	for _, def := range []string{"content", layoutName} {
		if html.Lookup(def) == nil {
			return emailTemplate{}, fmt.Errorf("HTML part defines no %q", def)
		}
	}
	return emailTemplate{text: text, html: html}, nil
}

// Render renders email name for recipient to. data holds the email's own
// values (links, device, amount…); antiPhishingCode is the recipient's code,
// shown in the footer of every email so the user can tell ours from a fake,
// or "" when the user has not set one. The text part is rendered with
// text/template and the HTML part with html/template, so each is escaped
// for what it is.
func (m *Mailer) Render(name, to string, data map[string]any, antiPhishingCode string) (Email, error) {
	t, ok := m.templates[name]
	if !ok {
		return Email{}, fmt.Errorf("render email %q: no such template", name)
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return Email{}, fmt.Errorf("render email %q: recipient: %w", name, err)
	}
	if data == nil {
		data = map[string]any{}
	}
	v := view{
		Platform:         m.platform,
		BaseURL:          m.baseURL,
		HomeURL:          m.baseURL + "/",
		To:               to,
		AntiPhishingCode: strings.TrimSpace(antiPhishingCode),
		Data:             data,
	}

	var buf bytes.Buffer
	if err := t.text.ExecuteTemplate(&buf, "subject", v); err != nil {
		return Email{}, fmt.Errorf("render email %q: subject: %w", name, err)
	}
	// A subject is one header line: fold whatever the template produced.
	v.Subject = strings.Join(strings.Fields(buf.String()), " ")
	if v.Subject == "" {
		return Email{}, fmt.Errorf("render email %q: subject is empty", name)
	}

	buf.Reset()
	if err := t.text.ExecuteTemplate(&buf, layoutName, v); err != nil {
		return Email{}, fmt.Errorf("render email %q: text part: %w", name, err)
	}
	text := buf.String()

	buf.Reset()
	if err := t.html.ExecuteTemplate(&buf, layoutName, v); err != nil {
		return Email{}, fmt.Errorf("render email %q: HTML part: %w", name, err)
	}
	return Email{To: to, Subject: v.Subject, Text: text, HTML: buf.String()}, nil
}

// EnqueueEmail adds a rendered email to the outbox inside the action's
// transaction; topic names what the email is about (usually the template
// name). The email is stored fully rendered, so every retry sends the same.
func EnqueueEmail(ctx context.Context, tx outbox.EnqueueTx, now time.Time, topic string, e Email) (outbox.Message, error) {
	if e.To == "" || e.Subject == "" || (e.Text == "" && e.HTML == "") {
		return outbox.Message{}, errors.New("enqueue email " + topic + ": want a recipient, a subject and a body")
	}
	m, err := outbox.Enqueue(ctx, tx, now, outbox.KindEmail, topic, e)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("enqueue email: %w", err)
	}
	return m, nil
}
