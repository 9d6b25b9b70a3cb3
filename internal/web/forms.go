package web

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/wardenhq/warden/internal/password"
)

// maxFormBytes bounds the body of a page's form post.
const maxFormBytes = 64 << 10

// maxFieldBytes bounds one text field; passwords are checked in characters
// by the password policy, this only stops absurd input early.
const maxFieldBytes = 4096

// field is one input of a form, with what the page needs to draw it
// accessibly: its label, its hint, its error and, for a new password, the
// reasons it was refused.
type field struct {
	ID           string // unique on the page; the label's for=
	Name         string
	Label        string
	Type         string // text, email, password, or textarea for a <textarea>
	Autocomplete string
	Hint         string
	Value        string // never set for passwords
	Required     bool
	MinLength    int
	MaxLength    int
	Error        string
	// Warning and Suggestions explain a refused password (zxcvbn feedback).
	Warning     string
	Suggestions []string
	// Autofocus is set on the first field with an error.
	Autofocus bool
	// InputMode is the keyboard phones show: numeric for codes of digits.
	InputMode string
	// Verbatim switches off spell checking and automatic capitals, for codes.
	Verbatim bool
}

// DescribedBy lists the ids of the hint and the error, for aria-describedby.
func (f *field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// link is an address with its text, in a message.
type link struct {
	Href string
	Text string
}

// problem is an error about the whole form rather than one field, such as
// wrong credentials, with links to what may help.
type problem struct {
	Message string
	Links   []link
}

// form is the state of a page's form: its fields and what went wrong.
type form struct {
	fields  []*field
	Problem *problem
}

func newForm(fields ...*field) *form { return &form{fields: fields} }

// F returns the field named name; templates draw it with {{template "field" (.F "name")}}.
func (f *form) F(name string) *field {
	for _, fl := range f.fields {
		if fl.Name == name {
			return fl
		}
	}
	panic("web: form has no field " + name) // a template bug, caught by Render as a 500
}

// Invalid lists the fields with an error, in form order.
func (f *form) Invalid() []*field {
	var out []*field
	for _, fl := range f.fields {
		if fl.Error != "" {
			out = append(out, fl)
		}
	}
	return out
}

// HasErrors tells whether the form must be shown again with its errors.
func (f *form) HasErrors() bool { return f.Problem != nil || len(f.Invalid()) > 0 }

// FocusSummary tells whether the error summary, rather than a field, takes
// the focus: when only the form as a whole is wrong.
func (f *form) FocusSummary() bool { return f.Problem != nil && len(f.Invalid()) == 0 }

// fail sets a field's error.
func (f *form) fail(name, message string) {
	f.F(name).Error = message
}

// finish marks the first invalid field for focus; call it before rendering.
func (f *form) finish() *form {
	if inv := f.Invalid(); len(inv) > 0 {
		inv[0].Autofocus = true
	}
	return f
}

// readField returns a posted field, trimmed when trim is set, and false when
// it is longer than any legitimate value.
func readField(r *http.Request, name string, trim bool) (string, bool) {
	v := r.PostFormValue(name)
	if trim {
		v = strings.TrimSpace(v)
	}
	return v, len(v) <= maxFieldBytes
}

// codeField is the 6-digit code of an authenticator app.
func codeField(id string) *field {
	return &field{ID: id, Name: "code", Label: "6-digit code", Type: "text", Autocomplete: "one-time-code",
		InputMode: "numeric", Verbatim: true, Required: true, MaxLength: 12,
		Hint: "The code your authenticator app shows now for this account."}
}

// recoveryCodeField is one of the account's recovery codes.
func recoveryCodeField(id string) *field {
	return &field{ID: id, Name: "recovery_code", Label: "Recovery code", Type: "text", Autocomplete: "off",
		Verbatim: true, Required: true, MaxLength: 20,
		Hint: "One of the codes you saved when you set up two-factor authentication, like abcde-fghij. Each works once."}
}

func emailField(id string) *field {
	return &field{ID: id, Name: "email", Label: "Email address", Type: "email", Autocomplete: "email", Required: true, MaxLength: 254}
}

// passwordHint is what a new password must be, shown under its field.
const passwordHint = "10 to 128 characters. A few unrelated words make a strong password that is easy to remember; no need for symbols or digits."

func newPasswordField(id, name, label string) *field {
	return &field{ID: id, Name: name, Label: label, Type: "password", Autocomplete: "new-password",
		Hint: passwordHint, Required: true, MinLength: password.MinLength}
}

func currentPasswordField(id, name, label string) *field {
	return &field{ID: id, Name: name, Label: label, Type: "password", Autocomplete: "current-password", Required: true}
}

// weakPassword explains a refused password on its field.
func weakPassword(f *field, w *password.Weakness) {
	switch w.Code {
	case password.CodeTooShort:
		f.Error = "Use at least 10 characters."
	case password.CodeTooLong:
		f.Error = "Use at most 128 characters."
	case password.CodeContainsEmail:
		f.Error = "Do not use your email address, or the part before the @, in your password."
	default:
		f.Error = "This password is too easy to guess. Choose another one."
		f.Warning = w.Warning
	}
	for _, s := range w.Suggestions {
		// The length rules are in the error already.
		if strings.HasPrefix(s, "Use at least") || strings.HasPrefix(s, "Use at most") {
			continue
		}
		f.Suggestions = append(f.Suggestions, s)
	}
}

// safeNext returns next when it is a path on this site to go to after
// logging in, and "" otherwise: absolute URLs, scheme-relative //host,
// backslashes (which browsers read as slashes) and control characters
// (which browsers drop) could all lead off the site.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") {
		return ""
	}
	for _, r := range next {
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return ""
		}
	}
	return next
}
