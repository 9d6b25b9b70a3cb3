// Package web serves Warden's server-rendered pages: a base layout, the home
// page, the error page, static files, the account pages (sign up, email
// confirmation, log in and out, password reset and change, sessions,
// anti-phishing code, activity, freeze), the staff console under /console
// (console.go) and, in dev mode, the mailbox that keeps the email Warden
// would have sent. Templates and static files are embedded in the binary.
//
// Every page works without JavaScript: forms post to their own page, the
// handler calls the account or session service, and answers with a redirect
// (Post/Redirect/Get) or the form again with its errors.
//
// # Adding a page
//
// A page is a file templates/NAME.html that defines the templates "title" and
// "main" (and, if it needs one, "head" for extra tags such as its own script).
// A handler draws it inside the layout with
//
//	p.Render(w, r, http.StatusOK, "NAME", data)
//
// and the template reads data as .Data; .Platform, .Dev and .Path describe the
// request. Link static files with {{static "file.css"}}, which adds the content
// hash that makes them cacheable for a year.
//
// A page with a form draws it with the shared templates of forms.html
// ("error-summary", "field") from a *form (forms.go), and its handler is
// registered through p.post, which refuses cross-origin posts (CSRF) and
// bounds the body; p.signedIn guards the pages of a signed-in user or staff
// member (signin.go), and p.scoped the console's pages by role.
//
// Every page is sent with a strict Content-Security-Policy: no inline scripts,
// no inline styles, nothing from other origins. Put behaviour in a file under
// static/ and switch it on with data- attributes (see static/warden.js).
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config configures the pages.
type Config struct {
	// PlatformName is the name of the platform Warden protects, shown in the
	// header and titles. Empty means "Warden".
	PlatformName string
	// Dev adds the dev mailbox pages under /dev/.
	Dev bool
	// Mailbox is where the dev mailbox reads captured email. Required when
	// Dev is true, ignored otherwise.
	Mailbox Mailbox
	// Now is the clock, used for "5 minutes ago". Nil means time.Now.
	Now func() time.Time
	// Logger receives errors that are not shown to users. Nil means slog.Default().
	Logger *slog.Logger

	// Accounts and Sessions switch on the account pages; set both, Audit,
	// MFA and Login, or none of them.
	Accounts *account.Service
	Sessions *session.Service
	// Login runs the logins of both sides: lockout, risk decision, the
	// new-device email and the second factor.
	Login *login.Service
	// MFA is the second-factor service: security settings, login challenges,
	// step-up, and the enrolment every staff member must make.
	MFA *mfa.Service
	// Verification runs the verification wizard, the limits page, the
	// console's review queue and the 2FA reset.
	Verification *verification.Service
	// Currency is the reference currency limits are shown in.
	Currency money.Currency
	// Withdrawals runs the address book, the withdraw form and its history.
	Withdrawals *withdrawal.Service
	// Monitoring runs the console's alert queue and rules pages
	// (monitoring.go); nil leaves them out.
	Monitoring *monitor.Service
	// Cases runs the report of a compromised account (/account/report) and
	// the console's case queue (cases.go); nil leaves them out.
	Cases *cases.Service
	// Audit is where the account pages read the activity list, the console
	// a user's login decisions; *store.Store implements it.
	Audit AuditStore
	// BaseURL is WARDEN_BASE_URL: cookies are Secure when it is https.
	BaseURL string
	// RequestInfo returns the client's IP address as Warden believes it and
	// the request id, both for audit records (httpapi.RequestInfo, which
	// knows the trusted proxies). Nil means the connection's address and no id.
	RequestInfo func(r *http.Request) (clientIP, requestID string)
	// SupportURL is WARDEN_SUPPORT_URL: where users reach the platform's
	// support (an http(s) or mailto: URL). The frozen-account page and the
	// frozen-login error link to it; empty means no link.
	SupportURL string
	// LoginLimit, if set, is asked before every password or code check: a
	// positive retryAfter refuses the attempt with 429. It is meant to take
	// a token from the client address's bucket that the JSON API uses; the
	// account is guarded by login.Service's lockout lanes. Nil means no limit.
	LoginLimit func(r *http.Request) (retryAfter time.Duration, err error)
}

// Pages renders Warden's pages. Build it with New; it is safe for concurrent use.
type Pages struct {
	platform string
	dev      bool
	mailbox  Mailbox
	now      func() time.Time
	log      *slog.Logger
	assets   *assets
	pages    map[string]*template.Template

	accounts    *account.Service
	sessions    *session.Service
	mfa         *mfa.Service
	login       *login.Service
	audit       AuditStore
	secure      bool // cookies are Secure
	requestInfo func(r *http.Request) (clientIP, requestID string)
	csrf        *http.CrossOriginProtection
	supportURL  string
	loginLimit  func(r *http.Request) (time.Duration, error)
	// allows tells whether a staff role holds an admin scope: staff.Allows.
	allows func(role, scope string) bool

	// verification runs the verification pages (verification.go); nil
	// leaves them out. currency is what limits are shown in.
	verification *verification.Service
	currency     money.Currency
	// withdrawals runs the withdrawal pages; nil leaves them out.
	withdrawals *withdrawal.Service
	// monitoring runs the alert queue and the rules pages; nil leaves them out.
	monitoring *monitor.Service
	// cases runs the report page and the case queue; nil leaves them out.
	cases *cases.Service
	// driftLimiter bounds the help's drift checks per account (help.go).
	driftLimiter *ratelimit.Limiter
}

// layoutFile is the base layout that every page is drawn in; partialFiles
// hold the templates pages share (form fields, error summaries, the upload
// forms of the verification pages).
const layoutFile = "layout.html"

var partialFiles = []string{"forms.html", "verification-parts.html", "withdrawals-parts.html", "console-alerts-parts.html"}

// New parses the embedded templates and hashes the static files. It fails
// when a template does not parse, or when Dev is set without a Mailbox.
func New(cfg Config) (*Pages, error) {
	if cfg.Dev && cfg.Mailbox == nil {
		return nil, errors.New("web: Config.Dev needs a Config.Mailbox")
	}
	if on := cfg.Accounts != nil; on != (cfg.Sessions != nil) || on != (cfg.Audit != nil) || on != (cfg.MFA != nil) || on != (cfg.Login != nil) {
		return nil, errors.New("web: Config.Accounts, Config.Sessions, Config.Audit, Config.MFA and Config.Login go together")
	}
	p := &Pages{
		platform: strings.TrimSpace(cfg.PlatformName),
		dev:      cfg.Dev,
		mailbox:  cfg.Mailbox,
		now:      cfg.Now,
		log:      cfg.Logger,
		pages:    map[string]*template.Template{},

		accounts:    cfg.Accounts,
		sessions:    cfg.Sessions,
		mfa:         cfg.MFA,
		login:       cfg.Login,
		audit:       cfg.Audit,
		secure:      strings.HasPrefix(cfg.BaseURL, "https://"),
		requestInfo: cfg.RequestInfo,
		supportURL:  strings.TrimSpace(cfg.SupportURL),
		loginLimit:  cfg.LoginLimit,
		allows:      staff.Allows,

		verification: cfg.Verification,
		currency:     cfg.Currency,
		withdrawals:  cfg.Withdrawals,
		monitoring:   cfg.Monitoring,
		cases:        cfg.Cases,
	}
	if p.accounts == nil {
		p.verification = nil // its pages need the account pages
		p.withdrawals = nil  // and so do these
		p.monitoring = nil
		p.cases = nil
	}
	if p.currency.Code == "" {
		p.currency = money.Currency{Code: "USD", Decimals: 2}
	}
	if p.requestInfo == nil {
		p.requestInfo = connectionInfo
	}
	p.csrf = http.NewCrossOriginProtection()
	p.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.renderError(w, r, http.StatusForbidden,
			"This form was sent from another site, so it was refused. Open the page on this site again and send the form from there.")
	}))
	if p.platform == "" {
		p.platform = "Warden"
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if !p.dev {
		p.mailbox = nil
	}
	if p.audit != nil {
		p.driftLimiter = newDriftLimiter(p.audit, p.now)
	}
	var err error
	if p.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if err := p.parseTemplates(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pages) parseTemplates() error {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: list templates: %w", err)
	}
	funcs := template.FuncMap{
		"static":     p.assets.url,
		"pathEscape": url.PathEscape,
		"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"utc":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"ago":        func(t time.Time) string { return ago(p.now(), t) },
		// verificationOn tells whether the verification pages (and the 2FA
		// reset) are served.
		"verificationOn": func() bool { return p.verification != nil },
		// withdrawalsOn tells whether the withdrawal pages are served.
		"withdrawalsOn": func() bool { return p.withdrawals != nil },
		// casesOn tells whether a compromised account can be reported (cases.go).
		"casesOn": func() bool { return p.cases != nil },
	}
	shared := []string{"templates/" + layoutFile}
	for _, f := range partialFiles {
		shared = append(shared, "templates/"+f)
	}
	for _, file := range files {
		base := path.Base(file)
		if base == layoutFile || slices.Contains(partialFiles, base) {
			continue
		}
		name := strings.TrimSuffix(base, ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, append(slices.Clone(shared), file)...)
		if err != nil {
			return fmt.Errorf("web: parse template %s: %w", base, err)
		}
		for _, required := range []string{"title", "main"} {
			if t.Lookup(required) == nil {
				return fmt.Errorf("web: template %s does not define %q", base, required)
			}
		}
		p.pages[name] = t
	}
	return nil
}

// Register adds the pages to mux: the home page, the static files, the
// account pages when configured and, in dev mode, the dev mailbox.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /static/", p.serveStatic)
	mux.HandleFunc("GET "+helpPath, p.helpPage)
	if p.accounts != nil {
		p.registerAccountPages(mux)
		p.registerSecurityPages(mux)
		p.registerConsolePages(mux)
		p.registerMFAPages(mux)
		if p.verification != nil {
			p.registerVerificationPages(mux)
		}
		if p.withdrawals != nil {
			p.registerWithdrawalPages(mux)
		}
		if p.monitoring != nil {
			p.registerMonitoringPages(mux)
		}
		if p.cases != nil {
			p.registerCasePages(mux)
		}
		p.registerDashboardPages(mux)
	}
	if p.dev {
		mux.HandleFunc("GET /dev/mailbox", p.mailboxList)
		mux.HandleFunc("GET /dev/mailbox.json", p.mailboxJSON)
		mux.HandleFunc("GET /dev/mailbox/{id}", p.mailboxMessage)
		mux.HandleFunc("GET /dev/mailbox/{id}/html", p.mailboxHTML)
	}
}

func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	p.Render(w, r, http.StatusOK, "home", nil)
}

// navLink is an entry of the navigation in the page header.
type navLink struct {
	Label   string
	Href    string
	Current bool // the page being shown; marked aria-current="page"
	// Post makes the entry a button that posts a form to Href (log out).
	Post bool
}

// view is what every template receives.
type view struct {
	Platform string
	Dev      bool
	Path     string
	Nav      []navLink
	// Notice is a one-time message left by the action before a redirect.
	Notice *notice
	// User is the signed-in account, nil when signed out (always nil in the console).
	User *member
	// Console is set on the pages of the staff console (under /console),
	// and Staff is then the signed-in staff member, nil when signed out.
	Console bool
	Staff   *member
	// SupportURL is where users reach support, "" when not configured.
	SupportURL string
	// Reset is the user's 2FA reset in progress, shown on the account and
	// security pages with a way to cancel it (verification.go); nil for none.
	Reset *resetBanner
	// Paused says why the user's withdrawals are paused and what lifts
	// that, on the account and withdraw pages (monitoring.go); nil when
	// they are not.
	Paused *pausedNotice
	Data   any
}

func (p *Pages) nav(r *http.Request, u *member) []navLink {
	links := []navLink{{Label: "Home", Href: "/"}}
	if p.dev {
		links = append(links, navLink{Label: "Mailbox", Href: "/dev/mailbox"})
	}
	switch {
	case p.accounts == nil:
	case u != nil:
		links = append(links, navLink{Label: "Security", Href: securityCenterPath}, navLink{Label: "Account", Href: "/account"})
		if p.verification != nil {
			links = append(links, navLink{Label: "Verification", Href: verificationPath}, navLink{Label: "Limits", Href: limitsPath})
		}
		if p.withdrawals != nil {
			links = append(links, navLink{Label: "Withdraw", Href: withdrawPath}, navLink{Label: "Withdrawals", Href: withdrawalsPath},
				navLink{Label: "Addresses", Href: addressesPath})
		}
		links = append(links, navLink{Label: "Help", Href: helpPath}, navLink{Label: "Log out", Href: "/logout", Post: true})
	default:
		links = append(links, navLink{Label: "Help", Href: helpPath}, navLink{Label: "Log in", Href: "/login"}, navLink{Label: "Sign up", Href: "/signup"})
	}
	// The page is the entry whose address is the longest match: the
	// security center (/account/security-center) is not under Account.
	best := -1
	for i, l := range links {
		if !l.Post && (r.URL.Path == l.Href || (l.Href != "/" && strings.HasPrefix(r.URL.Path, l.Href+"/"))) &&
			(best < 0 || len(l.Href) > len(links[best].Href)) {
			best = i
		}
	}
	if best >= 0 {
		links[best].Current = true
	}
	return links
}

// Render writes the page templates/<page>.html inside the base layout with
// the given status. data is available to the template as .Data. The page is
// rendered into a buffer first, so a template error becomes a clean 500 page
// instead of half a page.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := p.pages[page]
	if !ok {
		p.log.ErrorContext(r.Context(), "web: no such page template", "page", page, "path", r.URL.Path)
		p.renderError(w, r, http.StatusInternalServerError, "")
		return
	}
	v := view{
		Platform:   p.platform,
		Dev:        p.dev,
		Path:       r.URL.Path,
		Notice:     noticeFor(flashOf(r)),
		SupportURL: p.supportURL,
		Data:       data,
	}
	if isConsolePath(r.URL.Path) {
		// The console has its own navigation and knows only staff sessions.
		v.Console, v.Staff = true, p.viewer(staffSignIn, r)
		v.Nav = p.consoleNav(r, v.Staff)
	} else {
		v.User = p.viewer(userSignIn, r)
		v.Nav = p.nav(r, v.User)
		if v.User != nil && (page == "account" || page == "account-security" || page == "security-center") {
			v.Reset = p.resetBannerOf(r, v.User)
		}
		if v.User != nil && (page == "account" || page == "withdraw" || page == "security-center") {
			v.Paused = p.pausedNoticeOf(r, v.User)
		}
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", v)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: render page", "page", page, "path", r.URL.Path, "err", err)
		if page == "error" {
			setSecurityHeaders(w.Header())
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		p.renderError(w, r, http.StatusInternalServerError, "")
		return
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if flashOf(r) != "" {
		p.clearFlash(w) // shown once
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Title   string
	Message string
}

// Error writes the error page with the given status. An empty message is
// replaced by a generic one for the status; never put internal details in it.
func (p *Pages) Error(w http.ResponseWriter, r *http.Request, status int, message string) {
	p.renderError(w, r, status, message)
}

// NotFound writes the 404 error page.
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) {
	p.renderError(w, r, http.StatusNotFound, "")
}

func (p *Pages) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	if message == "" {
		switch {
		case status == http.StatusNotFound:
			message = "There is nothing at this address. Check the link, or start again from the home page."
		case status >= 500:
			message = "Something went wrong on our side. Please try again in a moment."
		default:
			message = "The request could not be handled."
		}
	}
	p.Render(w, r, status, "error", errorPage{Status: status, Title: http.StatusText(status), Message: message})
}

// pageCSP is the Content-Security-Policy of every page: everything from this
// origin only, no inline script or style, images also as data: URLs (QR codes),
// never framed.
const pageCSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// ago says how long before now t was, in words.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < -time.Minute:
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	default:
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
}
