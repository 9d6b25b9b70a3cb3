package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Withdrawal protection on the pages (package withdrawal decides; these
// pages only ask and show):
//
//   - /addresses is the address book: each address with its state (waiting
//     for the email's confirmation, on hold with the time left, usable) and
//     a delete button, and the allow-list switch. /addresses/new adds one;
//     like every change that could send funds elsewhere it needs a recent
//     second factor, so it goes through the step-up page first. The email's
//     link opens /addresses/confirm, which asks for a code from the app.
//   - The allow-list turns on at once. Turning it off (/allow-list/off)
//     needs a recent second factor, then the email's link
//     (/allow-list/confirm), and takes effect after the address hold.
//   - /withdraw asks which asset first (a GET form, so the rest of the form
//     can show that asset's addresses and decimals without JavaScript), then
//     the destination, the amount, and shows the limits and what is used of
//     them; static/withdraw-limits.js shows, as the amount is typed, its
//     value and what it leaves of them (limitEstimate), a display only. The
//     form carries an idempotency key made when it was drawn: a second
//     submission of the same form finds the first withdrawal.
//   - /withdrawals/{id} shows a withdrawal and the confirmations it waits
//     for (a code from the app, the email's link at /withdrawals/confirm),
//     then its outcome. /withdrawals is the history.
//   - /console/withdrawals is the review queue of the staff console (roles
//     with withdrawals:read see it, withdrawals:write decide), and the
//     console's user page shows and sets restrictions (users:write).
//
// Email links (/addresses/confirm needs the session as well: its code is
// checked in it) only show a button when opened: mail scanners open links.

// Paths of the withdrawal pages.
const (
	addressesPath          = "/addresses"
	withdrawPath           = "/withdraw"
	withdrawalsPath        = "/withdrawals"
	allowListOffPath       = "/allow-list/off"
	consoleWithdrawalsPath = "/console/withdrawals"
)

// Scopes of the console's withdrawal pages; the admin API's names.
const (
	scopeWithdrawalsRead  = "withdrawals:read"
	scopeWithdrawalsWrite = "withdrawals:write"
)

// historyLimit is how many withdrawals the history and the queue list.
const historyLimit = 200

// maxIdempotencyKey bounds the key a withdraw form carries.
const maxIdempotencyKey = 64

func (p *Pages) registerWithdrawalPages(mux *http.ServeMux) {
	user := func(h memberHandler) http.HandlerFunc { return p.signedIn(userSignIn, h) }
	mux.HandleFunc("GET /addresses", user(p.addressesPage))
	mux.HandleFunc("GET /addresses/new", user(p.newAddressPage))
	mux.Handle("POST /addresses/new", p.post(user(p.addAddress)))
	mux.Handle("POST /addresses/{id}/delete", p.post(user(p.deleteAddress)))
	mux.HandleFunc("GET /addresses/confirm", user(p.confirmAddressPage))
	mux.Handle("POST /addresses/confirm", p.post(user(p.confirmAddress)))

	mux.Handle("POST /allow-list/on", p.post(user(p.allowListOn)))
	mux.HandleFunc("GET /allow-list/off", user(p.allowListOffPage))
	mux.Handle("POST /allow-list/off", p.post(user(p.allowListOff)))
	mux.HandleFunc("GET /allow-list/confirm", p.allowListConfirmPage)
	mux.Handle("POST /allow-list/confirm", p.post(p.confirmAllowListOff))

	mux.HandleFunc("GET /withdraw", user(p.withdrawPage))
	mux.Handle("POST /withdraw", p.post(user(p.requestWithdrawal)))
	mux.HandleFunc("GET /withdrawals", user(p.withdrawalsPage))
	mux.HandleFunc("GET /withdrawals/{id}", user(p.withdrawalPage))
	mux.Handle("POST /withdrawals/{id}/confirm", p.post(user(p.confirmWithdrawalCode)))
	mux.Handle("POST /withdrawals/{id}/cancel", p.post(user(p.cancelWithdrawal)))
	mux.HandleFunc("GET /withdrawals/confirm", p.withdrawalEmailPage)
	mux.Handle("POST /withdrawals/confirm", p.post(p.confirmWithdrawalEmail))

	read := func(h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scopeWithdrawalsRead, h))
	}
	write := func(h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scopeWithdrawalsWrite, h))
	}
	mux.HandleFunc("GET /console/withdrawals", read(p.consoleWithdrawals))
	mux.HandleFunc("GET /console/withdrawals/{id}", read(p.consoleWithdrawal))
	mux.Handle("POST /console/withdrawals/{id}/approve", p.post(write(p.consoleDecideWithdrawal(withdrawal.DecisionApprove))))
	mux.Handle("POST /console/withdrawals/{id}/reject", p.post(write(p.consoleDecideWithdrawal(withdrawal.DecisionReject))))
	users := func(h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scopeUsersWrite, h))
	}
	mux.Handle("POST /console/users/{id}/restrictions", p.post(users(p.consoleRestrict)))
	mux.Handle("POST /console/users/{id}/restrictions/{rid}/lift", p.post(users(p.consoleLift)))
}

// canSeeWithdrawals tells whether a staff member may open the withdrawal
// queue (and it is served at all).
func (p *Pages) canSeeWithdrawals(s *member) bool {
	return p.withdrawals != nil && s != nil && p.allows(s.Account.StaffRole, scopeWithdrawalsRead)
}

// ---- Notices --------------------------------------------------------------------------

const (
	flashAddressAdded        = "address_added"
	flashAddressConfirmed    = "address_confirmed"
	flashAddressDeleted      = "address_deleted"
	flashAddressGone         = "address_gone"
	flashAllowListOn         = "allow_list_on"
	flashAllowListOffSent    = "allow_list_off_sent"
	flashAllowListAlreadyOff = "allow_list_already_off"
	flashWithdrawalRequested = "withdrawal_requested"
	flashWithdrawalRepeat    = "withdrawal_repeat"
	flashWithdrawalCode      = "withdrawal_code_accepted"
	flashWithdrawalApproved  = "withdrawal_approved"
	flashWithdrawalHeld      = "withdrawal_held"
	flashWithdrawalCancelled = "withdrawal_cancelled"
	flashWithdrawalStale     = "withdrawal_stale"
	flashConsoleWApproved    = "console_withdrawal_approved"
	flashConsoleWRejected    = "console_withdrawal_rejected"
	flashConsoleWStale       = "console_withdrawal_stale"
	flashConsoleRestricted   = "console_restricted"
	flashConsoleLifted       = "console_restriction_lifted"
	flashConsoleLiftStale    = "console_restriction_stale"
)

func init() {
	maps.Copy(notices, map[string]notice{
		flashAddressAdded:        {"success", "The address was added. We emailed you a link to confirm it: open it and enter a code from your authenticator app."},
		flashAddressConfirmed:    {"success", "The address was confirmed. It can be used once its hold has passed: see below."},
		flashAddressDeleted:      {"success", "The address was deleted."},
		flashAddressGone:         {"info", "That address had already been deleted."},
		flashAllowListOn:         {"success", "The allow-list is on: withdrawals go only to the usable addresses of your address book."},
		flashAllowListOffSent:    {"info", "We emailed you a link to confirm turning the allow-list off. Until you open it, and for the hold after that, the list stays on."},
		flashAllowListAlreadyOff: {"info", "The allow-list is already off."},
		flashWithdrawalRequested: {"success", "Your withdrawal was requested. Confirm it below."},
		flashWithdrawalRepeat:    {"info", "This form was sent already: here is the withdrawal it made. Nothing was requested twice."},
		flashWithdrawalCode:      {"success", "Code accepted."},
		flashWithdrawalApproved:  {"success", "Your withdrawal was confirmed and approved. It is being sent."},
		flashWithdrawalHeld:      {"info", "Your withdrawal was confirmed. Our team checks it before it is sent; we email you the outcome."},
		flashWithdrawalCancelled: {"success", "The withdrawal was cancelled. Its amount counts against your limits no more."},
		flashWithdrawalStale:     {"info", "This withdrawal was not waiting for that any more, so nothing was done. Its state is below."},
		flashConsoleWApproved:    {"success", "Approved. The payout system was told, and the user emailed."},
		flashConsoleWRejected:    {"success", "Rejected. The user was emailed with your reason."},
		flashConsoleWStale:       {"info", "This withdrawal was not waiting for review any more, so nothing was done. Its state is below."},
		flashConsoleRestricted:   {"success", "Withdrawals are restricted. The user was emailed, and the platform told."},
		flashConsoleLifted:       {"success", "The restriction was lifted."},
		flashConsoleLiftStale:    {"info", "That restriction had already ended."},
	})
}

// ---- Words -----------------------------------------------------------------------------

// timeLeft says a wait to the minute: "23 h 12 min", "12 min", "45 s".
func timeLeft(d time.Duration) string {
	if d <= 0 {
		return "0 s"
	}
	if d < time.Minute {
		return fmt.Sprintf("%d s", int64((d+time.Second-1)/time.Second))
	}
	m := int64((d + time.Minute - 1) / time.Minute)
	switch h := m / 60; {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", h)
	default:
		return fmt.Sprintf("%d h %d min", h, m%60)
	}
}

// plainAmount drops the zeros an amount's decimals end with: 0.25 ETH, not
// 0.250000000000000000 ETH.
func plainAmount(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func minuteUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

var withdrawalStatusWords = map[string]string{
	withdrawal.StatusAwaitingConfirmation: "Waiting for your confirmation",
	withdrawal.StatusPendingReview:        "Being reviewed",
	withdrawal.StatusApproved:             "Approved",
	withdrawal.StatusCompleted:            "Sent",
	withdrawal.StatusRejected:             "Not approved",
	withdrawal.StatusCancelled:            "Cancelled",
	withdrawal.StatusExpired:              "Expired",
}

var withdrawalBadges = map[string]string{
	withdrawal.StatusAwaitingConfirmation: "warning",
	withdrawal.StatusPendingReview:        "info",
	withdrawal.StatusApproved:             "success",
	withdrawal.StatusCompleted:            "success",
	withdrawal.StatusRejected:             "danger",
}

// reviewReasonWords say why monitoring held a withdrawal; others are shown
// as their code in words.
var reviewReasonWords = map[string]string{
	"large_transfer":         "Larger than usual",
	"monitoring_unavailable": "The automatic checks could not run",
	"new_address":            "A new address",
	"unusual_activity":       "Unusual activity on the account",
}

func reasonsInWords(reasons []string) []string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		w := reviewReasonWords[r]
		if w == "" {
			w = strings.TrimSuffix(sentence(strings.ReplaceAll(r, "_", " ")), ".")
		}
		out = append(out, w)
	}
	return out
}

var confirmationWords = map[string]string{
	withdrawal.RequireSecondFactor: "a code from your authenticator app",
	withdrawal.RequireEmail:        "the link in the email we send you",
}

// ---- Assets and networks --------------------------------------------------------------------

// assetChoice is one asset on one network, as the forms offer it.
type assetChoice struct {
	Value    string // ASSET:network, the form's value
	Label    string
	Asset    string
	Network  string
	Decimals int
	// Memo is "required", "optional" or "" (the network takes none).
	Memo     string
	Selected bool
}

func memoKind(n address.Network) string {
	switch {
	case n.MemoRequired:
		return "required"
	case n.MemoPattern != nil:
		return "optional"
	}
	return ""
}

// assetChoices lists the catalog's assets on each of their networks.
func (p *Pages) assetChoices(selected string) []assetChoice {
	var out []assetChoice
	for _, a := range p.withdrawals.Assets {
		for _, n := range a.Networks {
			v := a.Code + ":" + n.Name
			out = append(out, assetChoice{Value: v, Label: a.Code + " on " + n.Name, Asset: a.Code, Network: n.Name,
				Decimals: a.Decimals, Memo: memoKind(n), Selected: v == selected})
		}
	}
	return out
}

// findChoice is the choice of value ("ASSET:network"), if the catalog has it.
func (p *Pages) findChoice(value string) (assetChoice, bool) {
	for _, c := range p.assetChoices(value) {
		if c.Selected {
			return c, true
		}
	}
	return assetChoice{}, false
}

// memoNetworks says which networks take a memo, for the memo field's hint.
func (p *Pages) memoNetworks() (required, optional []string) {
	seen := map[string]bool{}
	for _, a := range p.withdrawals.Assets {
		for _, n := range a.Networks {
			if seen[n.Name] {
				continue
			}
			seen[n.Name] = true
			switch memoKind(n) {
			case "required":
				required = append(required, n.Name)
			case "optional":
				optional = append(optional, n.Name)
			}
		}
	}
	return required, optional
}

// selectOption is an <option> of a select field.
type selectOption struct {
	Value, Label string
	Selected     bool
}

// selectField is a field drawn as a <select> ("select-field" in
// withdrawals-parts.html); the field is the form's, so its error and focus
// are the form's too.
type selectField struct {
	*field
	Prompt  string // the first, empty option; "" for none
	Options []selectOption
}

// ---- Shared reading ---------------------------------------------------------------------------

// currentSession reads u's session from the database: the one resolved may
// come from the session cache, from before a step-up made on another node.
func (p *Pages) currentSession(r *http.Request, u *member) (session.Session, error) {
	sess := u.Session
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		all, err := tx.SessionsOf(r.Context(), u.Account.ID, p.now())
		for _, s := range all {
			if s.ID == u.Session.ID {
				sess = s
			}
		}
		return err
	})
	return sess, err
}

// refusalText says why a withdrawal (or address) was refused, with when it
// ends where it does; links help where there is something to do.
func (p *Pages) refusalText(ref *withdrawal.Refusal) *problem {
	now := p.now()
	in := func() string {
		if ref.Until.IsZero() || !ref.Until.After(now) {
			return ""
		}
		return " That is in " + timeLeft(ref.Until.Sub(now)) + "."
	}
	switch ref.Code {
	case withdrawal.CodeLocked:
		switch ref.Reason {
		case "frozen":
			pr := &problem{Message: "Your account is frozen, so nothing can be withdrawn.", Links: []link{{Href: "/frozen", Text: "What to do now"}}}
			if p.supportURL != "" {
				pr.Links = append(pr.Links, link{Href: p.supportURL, Text: "Contact support"})
			}
			return pr
		case "restricted":
			msg := "Withdrawals are paused on your account: " + strings.TrimSuffix(strings.TrimSpace(ref.Detail), ".") + "."
			if !ref.Until.IsZero() {
				msg += " The pause ends at " + minuteUTC(ref.Until) + "." + in()
			}
			pr := &problem{Message: msg}
			if strings.Contains(ref.Detail, "verification") && p.verification != nil {
				pr.Links = append(pr.Links, link{Href: verificationPath, Text: "Verify your identity"})
			} else if p.supportURL != "" {
				pr.Links = append(pr.Links, link{Href: p.supportURL, Text: "Contact support"})
			}
			return pr
		case "review":
			return &problem{Message: "One of your withdrawals is being reviewed by our team; new withdrawals wait until it is decided. We email you the decision.",
				Links: []link{{Href: withdrawalsPath, Text: "See your withdrawals"}}}
		}
		return &problem{Message: sentence(ref.Detail) + in()}
	case withdrawal.CodeVerificationRequired:
		pr := &problem{Message: sentence(ref.Detail)}
		if p.verification != nil {
			pr.Links = []link{{Href: verificationPath, Text: "Verify your identity"}, {Href: limitsPath, Text: "See the limits"}}
		}
		return pr
	case withdrawal.CodeLimitExceeded:
		return &problem{Message: "This withdrawal is " + strings.TrimSuffix(ref.Detail, ".") + "."}
	case withdrawal.CodeMFARequired:
		return &problem{Message: "Turn on two-factor authentication first: every change to where funds can go is confirmed with it.",
			Links: []link{{Href: securityPath, Text: "Security settings"}}}
	}
	return &problem{Message: sentence(ref.Detail) + in()}
}

// fieldDetail makes a domain's field error a sentence: the error's own
// prefix ("invalid address: ", "invalid amount: ") is the field's label.
func fieldDetail(detail string) string {
	for _, prefix := range []string{address.ErrInvalid.Error() + ": ", money.ErrAmount.Error() + ": "} {
		detail = strings.TrimPrefix(detail, prefix)
	}
	return sentence(detail)
}

// ---- Address book --------------------------------------------------------------------------

type addressRow struct {
	ID, Asset, Network, Address, Memo, Label string
	// Status is the address's at now: pending_confirmation, on_hold or active.
	Status      string
	Badge       string
	StatusText  string
	AvailableAt time.Time
	ConfirmBy   time.Time
	CreatedAt   time.Time
}

func (p *Pages) addressRowOf(a withdrawal.Address, now time.Time) addressRow {
	row := addressRow{ID: a.ID, Asset: a.Asset, Network: a.Network, Address: a.Address, Memo: a.Memo, Label: a.Label,
		Status: a.StatusAt(now), AvailableAt: a.AvailableAt, ConfirmBy: a.ConfirmBy, CreatedAt: a.CreatedAt}
	switch row.Status {
	case withdrawal.AddressActive:
		row.Badge, row.StatusText = "success", "Usable"
	case withdrawal.AddressOnHold:
		row.Badge, row.StatusText = "info", "On hold: usable in "+timeLeft(a.AvailableAt.Sub(now))
	default:
		if now.After(a.ConfirmBy) {
			row.Badge, row.StatusText = "danger", "Not confirmed in time: delete it and add it again"
		} else {
			row.Badge, row.StatusText = "warning", "Waiting for your email confirmation"
		}
	}
	return row
}

// allowListView is the allow-list's state as the address book shows it.
type allowListView struct {
	// On: withdrawals go only to usable book addresses, now.
	On bool
	// Requested: turning it off waits for the email's link, sent at
	// RequestedAt and working until LinkUntil.
	Requested   bool
	RequestedAt time.Time
	LinkUntil   time.Time
	// Scheduled: it turns off at EffectiveAt, in Left.
	Scheduled   bool
	EffectiveAt time.Time
	Left        string
	Hold        string
}

func (p *Pages) allowListViewOf(s withdrawal.Settings, now time.Time) allowListView {
	pol := p.withdrawals.Policy
	v := allowListView{On: s.AllowListAt(now), Hold: durationWords(pol.AddressHold)}
	if !v.On {
		return v
	}
	switch {
	case !s.OffConfirmedAt.IsZero() && !s.OffEffectiveAt.IsZero():
		v.Scheduled, v.EffectiveAt, v.Left = true, s.OffEffectiveAt, timeLeft(s.OffEffectiveAt.Sub(now))
	case !s.OffRequestedAt.IsZero() && now.Before(s.OffRequestedAt.Add(pol.ConfirmationTTL)):
		v.Requested, v.RequestedAt, v.LinkUntil = true, s.OffRequestedAt, s.OffRequestedAt.Add(pol.ConfirmationTTL)
	}
	return v
}

type addressesData struct {
	Addresses []addressRow
	AllowList allowListView
	Hold      string
}

func (p *Pages) addressesPage(w http.ResponseWriter, r *http.Request, u *member) {
	ctx := r.Context()
	list, err := p.withdrawals.Addresses(ctx, u.Account.ID)
	if err != nil {
		p.internalError(w, r, "list addresses", err)
		return
	}
	settings, err := p.withdrawals.Settings(ctx, u.Account.ID)
	if err != nil {
		p.internalError(w, r, "read withdrawal settings", err)
		return
	}
	now := p.now()
	d := addressesData{AllowList: p.allowListViewOf(settings, now), Hold: durationWords(p.withdrawals.Policy.AddressHold)}
	for _, a := range list {
		d.Addresses = append(d.Addresses, p.addressRowOf(a, now))
	}
	p.Render(w, r, http.StatusOK, "addresses", d)
}

type newAddressData struct {
	Form  *form
	Asset selectField
	// NeedsMFA: the account has no second factor to confirm addresses with.
	NeedsMFA bool
	// MemoRequired and MemoOptional name the networks that take a memo;
	// the memo field is left out when none does.
	MemoRequired []string
	MemoOptional []string
	Hold         string
	TTL          string
}

func (p *Pages) newAddressForm() *form {
	return newForm(
		&field{ID: "address-asset", Name: "asset", Label: "Asset and network", Type: "select", Required: true,
			Hint: "Send only this asset to the address, over this network: funds sent over another network are lost."},
		&field{ID: "address-address", Name: "address", Label: "Address", Type: "text", Autocomplete: "off", Verbatim: true,
			Required: true, MaxLength: 200, Hint: "Copy and paste it from the wallet or exchange that receives the funds, and check it."},
		&field{ID: "address-memo", Name: "memo", Label: "Memo or destination tag", Type: "text", Autocomplete: "off", Verbatim: true, MaxLength: 100},
		&field{ID: "address-label", Name: "label", Label: "Label (optional)", Type: "text", Autocomplete: "off", MaxLength: 60,
			Hint: "A name to recognise it by, such as “Cold wallet”. Up to 60 characters."},
	)
}

func (p *Pages) newAddressData(f *form) newAddressData {
	d := newAddressData{Form: f, Hold: durationWords(p.withdrawals.Policy.AddressHold), TTL: durationWords(p.withdrawals.Policy.ConfirmationTTL)}
	d.Asset = selectField{field: f.F("asset"), Prompt: "Choose the asset and network"}
	for _, c := range p.assetChoices(f.F("asset").Value) {
		d.Asset.Options = append(d.Asset.Options, selectOption{Value: c.Value, Label: c.Label, Selected: c.Selected})
	}
	d.MemoRequired, d.MemoOptional = p.memoNetworks()
	memo := f.F("memo")
	var hints []string
	if len(d.MemoRequired) > 0 {
		hints = append(hints, "Needed on "+strings.Join(d.MemoRequired, ", ")+": the receiving exchange tells you which.")
	}
	if len(d.MemoOptional) > 0 {
		hints = append(hints, "Optional on "+strings.Join(d.MemoOptional, ", ")+".")
	}
	hints = append(hints, "Leave it empty on other networks.")
	memo.Hint = strings.Join(hints, " ")
	return d
}

// newAddressPage draws the form that adds an address; like every change of
// where funds may go, it first wants a recent second factor.
func (p *Pages) newAddressPage(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	f := p.newAddressForm()
	if c, ok := p.findChoice(r.URL.Query().Get("asset")); ok {
		f.F("asset").Value = c.Value
	}
	d := p.newAddressData(f)
	d.NeedsMFA = !a.MFAEnabled
	p.renderForm(w, r, http.StatusOK, "addresses-new", f, d)
}

func (p *Pages) addAddress(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, addressesPath+"/new") {
		return
	}
	f := p.newAddressForm()
	values := map[string]string{}
	for _, name := range []string{"asset", "address", "memo", "label"} {
		v, ok := readField(r, name, true)
		if !ok {
			f.fail(name, "This is far too long.")
			continue
		}
		f.F(name).Value, values[name] = v, v
	}
	choice, chosen := p.findChoice(values["asset"])
	switch {
	case f.F("asset").Error != "":
	case values["asset"] == "":
		f.fail("asset", "Choose the asset and network.")
	case !chosen:
		f.fail("asset", "Choose an asset and network from the list.")
	}
	if values["address"] == "" && f.F("address").Error == "" {
		f.fail("address", "Enter the address.")
	}
	if n := utf8.RuneCountInString(values["label"]); n > 60 && f.F("label").Error == "" {
		f.fail("label", "Use at most 60 characters.")
	}
	if chosen && values["address"] != "" && !f.HasErrors() {
		// Checked here too, so that a typo is shown before anything else.
		_, network, err := p.withdrawals.Assets.Find(choice.Asset, choice.Network)
		if err == nil {
			if _, err := address.Validate(network, values["address"], values["memo"]); err != nil {
				p.failAddress(f, choice, err.Error())
			}
		}
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "addresses-new", f, p.newAddressData(f))
		return
	}
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	sess, err := p.currentSession(r, u)
	if err != nil {
		p.internalError(w, r, "read session", err)
		return
	}
	_, err = p.withdrawals.AddAddress(r.Context(), a, sess, withdrawal.NewAddress{
		Asset: choice.Asset, Network: choice.Network, Address: values["address"], Memo: values["memo"], Label: values["label"],
	}, p.accountMeta(r))
	var ref *withdrawal.Refusal
	var invalid *withdrawal.ValidationError
	switch {
	case err == nil:
		p.redirect(w, r, addressesPath, flashAddressAdded)
		return
	case errors.As(err, &ref) && ref.Code == withdrawal.CodeMFARequired && a.MFAEnabled:
		// The second factor got too old while the form was filled in.
		http.Redirect(w, r, "/account/step-up?"+url.Values{"next": {addressesPath + "/new"}}.Encode(), http.StatusSeeOther)
		return
	case errors.As(err, &ref):
		f.Problem = p.refusalText(ref)
	case errors.As(err, &invalid):
		for _, fe := range invalid.Fields {
			switch fe.Field {
			case "address", "memo":
				p.failAddress(f, choice, fe.Detail)
			case "label":
				f.fail("label", "Use at most 60 ordinary characters.")
			default:
				f.fail("asset", "Choose an asset and network from the list.")
			}
		}
	default:
		p.internalError(w, r, "add address", err)
		return
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "addresses-new", f, p.newAddressData(f))
}

// failAddress puts an address validator's refusal on the address or the memo field.
func (p *Pages) failAddress(f *form, c assetChoice, detail string) {
	if strings.Contains(detail, "memo") {
		f.fail("memo", fieldDetail(detail))
		return
	}
	f.fail("address", "This is not a valid "+c.Network+" address: "+lowerFirst(strings.TrimSuffix(fieldDetail(detail), "."))+".")
}

// lowerFirst puts a sentence inside another: "Checksum does not match" →
// "checksum does not match".
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return strings.ToLower(string(r)) + s[n:]
}

func (p *Pages) deleteAddress(w http.ResponseWriter, r *http.Request, u *member) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxTokenLen {
		p.NotFound(w, r)
		return
	}
	err := p.withdrawals.DeleteAddress(r.Context(), u.Account, id, p.accountMeta(r))
	switch {
	case err == nil:
		p.redirect(w, r, addressesPath, flashAddressDeleted)
	case errors.Is(err, withdrawal.ErrNotFound):
		p.redirect(w, r, addressesPath, flashAddressGone)
	default:
		p.internalError(w, r, "delete address", err)
	}
}

// ---- Address confirmation (the email's link) --------------------------------------------------

type confirmAddressData struct {
	Invalid bool
	Address addressRow
	ID      string
	Token   string
	Form    *form
	Hold    string
	Drift   bool
}

func confirmAddressForm() *form { return newForm(codeField("address-code")) }

// linkedAddress finds the pending address an email link names among u's;
// ok is false when the link cannot work (then the page says so).
func (p *Pages) linkedAddress(r *http.Request, u *member, id string) (withdrawal.Address, bool, error) {
	if id == "" || len(id) > maxTokenLen {
		return withdrawal.Address{}, false, nil
	}
	list, err := p.withdrawals.Addresses(r.Context(), u.Account.ID)
	if err != nil {
		return withdrawal.Address{}, false, err
	}
	for _, a := range list {
		if a.ID == id {
			return a, a.Status == withdrawal.AddressPendingConfirmation && !p.now().After(a.ConfirmBy), nil
		}
	}
	return withdrawal.Address{}, false, nil
}

func (p *Pages) confirmAddressPage(w http.ResponseWriter, r *http.Request, u *member) {
	q := r.URL.Query()
	token, id := linkToken(r), q.Get("id")
	a, ok, err := p.linkedAddress(r, u, id)
	if err != nil {
		p.internalError(w, r, "read address", err)
		return
	}
	if !ok || token == "" {
		p.Render(w, r, http.StatusBadRequest, "addresses-confirm", confirmAddressData{Invalid: true})
		return
	}
	f := confirmAddressForm()
	p.renderForm(w, r, http.StatusOK, "addresses-confirm", f, confirmAddressData{
		Address: p.addressRowOf(a, p.now()), ID: a.ID, Token: token, Form: f, Hold: durationWords(p.withdrawals.Policy.AddressHold),
	})
}

func (p *Pages) confirmAddress(w http.ResponseWriter, r *http.Request, u *member) {
	token, id := linkToken(r), r.PostFormValue("id")
	a, ok, err := p.linkedAddress(r, u, id)
	if err != nil {
		p.internalError(w, r, "read address", err)
		return
	}
	if !ok || token == "" {
		p.Render(w, r, http.StatusBadRequest, "addresses-confirm", confirmAddressData{Invalid: true})
		return
	}
	f := confirmAddressForm()
	d := confirmAddressData{Address: p.addressRowOf(a, p.now()), ID: a.ID, Token: token, Form: f, Hold: durationWords(p.withdrawals.Policy.AddressHold)}
	code := readCode(r, f)
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "addresses-confirm", f, d)
		return
	}
	acct, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	if !p.codeAttempt(w, r, acct, f, "addresses-confirm", d) {
		return
	}
	err = p.guard(r, acct, func() error {
		_, err := p.withdrawals.ConfirmAddress(r.Context(), acct, u.Session, a.ID, token, code, p.accountMeta(r))
		return err
	})
	switch {
	case err == nil:
		p.sessions.Forget([]string{u.Session.TokenHash}) // it proved a factor
		p.redirect(w, r, addressesPath, flashAddressConfirmed)
		return
	case errors.Is(err, withdrawal.ErrInvalidToken), errors.Is(err, withdrawal.ErrNotFound):
		p.Render(w, r, http.StatusBadRequest, "addresses-confirm", confirmAddressData{Invalid: true})
		return
	case errors.Is(err, mfa.ErrNotEnabled):
		f.Problem = &problem{Message: "Confirming an address needs a code from an authenticator app, and none is set up.",
			Links: []link{{Href: securityPath, Text: "Security settings"}}}
	default:
		drift, refused := refusedAnswer(f, mfa.MethodTOTP, err)
		if !refused {
			p.internalError(w, r, "confirm address", err)
			return
		}
		d.Drift = drift
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "addresses-confirm", f, d)
}

// ---- Allow-list -----------------------------------------------------------------------------

func (p *Pages) allowListOn(w http.ResponseWriter, r *http.Request, u *member) {
	if _, err := p.withdrawals.EnableAllowList(r.Context(), u.Account, p.accountMeta(r)); err != nil {
		p.internalError(w, r, "turn the allow-list on", err)
		return
	}
	p.redirect(w, r, addressesPath, flashAllowListOn)
}

type allowListOffData struct {
	Form      *form
	AllowList allowListView
	Hold      string
	TTL       string
}

func (p *Pages) allowListOffData(r *http.Request, u *member) (allowListOffData, error) {
	s, err := p.withdrawals.Settings(r.Context(), u.Account.ID)
	pol := p.withdrawals.Policy
	return allowListOffData{Form: newForm(), AllowList: p.allowListViewOf(s, p.now()), Hold: durationWords(pol.AddressHold),
		TTL: durationWords(pol.ConfirmationTTL)}, err
}

// allowListOffPage explains what turning the list off takes, behind a
// recent second factor.
func (p *Pages) allowListOffPage(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, allowListOffPath) {
		return
	}
	d, err := p.allowListOffData(r, u)
	if err != nil {
		p.internalError(w, r, "read withdrawal settings", err)
		return
	}
	if !d.AllowList.On {
		p.redirect(w, r, addressesPath, flashAllowListAlreadyOff)
		return
	}
	p.Render(w, r, http.StatusOK, "allow-list-off", d)
}

func (p *Pages) allowListOff(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, allowListOffPath) {
		return
	}
	d, err := p.allowListOffData(r, u)
	if err != nil {
		p.internalError(w, r, "read withdrawal settings", err)
		return
	}
	if !d.AllowList.On {
		p.redirect(w, r, addressesPath, flashAllowListAlreadyOff)
		return
	}
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	sess, err := p.currentSession(r, u)
	if err != nil {
		p.internalError(w, r, "read session", err)
		return
	}
	_, err = p.withdrawals.DisableAllowList(r.Context(), a, sess, p.accountMeta(r))
	var ref *withdrawal.Refusal
	switch {
	case err == nil:
		p.redirect(w, r, addressesPath, flashAllowListOffSent)
	case errors.As(err, &ref) && ref.Code == withdrawal.CodeMFARequired && a.MFAEnabled:
		http.Redirect(w, r, "/account/step-up?"+url.Values{"next": {allowListOffPath}}.Encode(), http.StatusSeeOther)
	case errors.As(err, &ref):
		d.Form.Problem = p.refusalText(ref)
		p.renderForm(w, r, http.StatusUnprocessableEntity, "allow-list-off", d.Form, d)
	default:
		p.internalError(w, r, "turn the allow-list off", err)
	}
}

type allowListConfirmData struct {
	Invalid     bool
	Token       string
	Done        bool
	EffectiveAt time.Time
	Left        string
}

// allowListConfirmPage is the email's link: only a button, since opening
// the link must not spend it.
func (p *Pages) allowListConfirmPage(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "allow-list-confirm", allowListConfirmData{Invalid: true})
		return
	}
	p.Render(w, r, http.StatusOK, "allow-list-confirm", allowListConfirmData{Token: token})
}

func (p *Pages) confirmAllowListOff(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "allow-list-confirm", allowListConfirmData{Invalid: true})
		return
	}
	s, err := p.withdrawals.ConfirmAllowListOff(r.Context(), token, p.accountMeta(r))
	switch {
	case errors.Is(err, withdrawal.ErrInvalidToken):
		p.Render(w, r, http.StatusBadRequest, "allow-list-confirm", allowListConfirmData{Invalid: true})
	case err != nil:
		p.internalError(w, r, "confirm turning the allow-list off", err)
	default:
		p.Render(w, r, http.StatusOK, "allow-list-confirm", allowListConfirmData{
			Done: true, EffectiveAt: s.OffEffectiveAt, Left: timeLeft(s.OffEffectiveAt.Sub(p.now())),
		})
	}
}

// ---- Withdraw --------------------------------------------------------------------------------

// limitsView is what the account may withdraw, formatted.
type limitsView struct {
	Tier           int
	TierName       string
	PerTransaction string
	Rolling24h     string
	Used           string
	Available      string
	// None: the tier allows no withdrawals.
	None bool
}

func (p *Pages) limitsViewOf(l withdrawal.Limits) limitsView {
	cur := p.withdrawals.Currency
	v := limitsView{Tier: l.Tier, TierName: fmt.Sprintf("Tier %d", l.Tier), PerTransaction: cur.Format(l.PerTransaction),
		Rolling24h: cur.Format(l.Rolling24h), Used: cur.Format(l.Used24h), Available: cur.Format(l.Available()),
		None: l.PerTransaction <= 0 || l.Rolling24h <= 0}
	for _, t := range p.withdrawals.Tiers {
		if t.Level == l.Tier && t.Name != "" {
			v.TierName = fmt.Sprintf("Tier %d: %s", t.Level, t.Name)
		}
	}
	return v
}

type withdrawData struct {
	Limits limitsView
	// NeedsMFA: withdrawals are confirmed with a second factor, and the
	// account has none.
	NeedsMFA bool
	// Choose picks the asset (a GET form); Chosen is the one picked.
	Choose selectField
	Chosen *assetChoice
	Form   *form
	// Destination is the book addresses of the chosen asset and, when
	// Typed, "another address" typed in.
	Destination selectField
	Typed       bool
	AllowList   bool
	// NoAddresses: the allow-list is on and the book has none for this asset.
	NoAddresses bool
	Key         string
	Requires    []string
	TTL         string
	// Estimate feeds the form's live limit display (nil: no form, or a
	// tier without withdrawals).
	Estimate *limitEstimate
}

// limitEstimate is what static/withdraw-limits.js needs to show, as the
// user types an amount, its value in the reference currency and what it
// leaves of the limits: the server's numbers at drawing time, written as
// data- attributes. It is a display only: the request is valued and
// checked again by withdrawal.Service.Request, the authority. Amounts are
// decimal strings as money.Format writes them, without the currency code.
type limitEstimate struct {
	Asset         string
	AssetDecimals int
	// Price is the reference price of one whole unit as the platform fed
	// it, "" when there is none fresh enough to be used (Policy.PriceMaxAge);
	// it stays usable for FreshFor seconds from the drawing.
	Price            string
	PriceAsOf        time.Time
	FreshFor         int64
	Currency         string
	CurrencyDecimals int
	PerTransaction   string
	Rolling24h       string
	Available        string
}

// limitEstimateOf reads the price of c's asset for the live limit display.
func (p *Pages) limitEstimateOf(r *http.Request, c assetChoice, l withdrawal.Limits, now time.Time) (*limitEstimate, error) {
	svc := p.withdrawals
	cur := svc.Currency
	e := &limitEstimate{Asset: c.Asset, AssetDecimals: c.Decimals, Currency: cur.Code, CurrencyDecimals: cur.Decimals,
		PerTransaction: money.Format(l.PerTransaction, cur.Decimals), Rolling24h: money.Format(l.Rolling24h, cur.Decimals),
		Available: money.Format(l.Available(), cur.Decimals)}
	var price withdrawal.Price
	err := svc.View(r.Context(), func(tx withdrawal.Tx) error {
		var err error
		price, err = tx.PriceOf(r.Context(), c.Asset)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return e, nil
	case err != nil:
		return nil, err
	}
	// As withdrawal.Service.Request: a price older than PriceMaxAge is none.
	if left := price.AsOf.Add(svc.Policy.PriceMaxAge).Sub(now); left >= time.Second {
		e.Price, e.PriceAsOf, e.FreshFor = price.Price, price.AsOf, int64(left/time.Second)
	}
	return e, nil
}

// newIdempotencyKey makes the key a withdraw form carries.
func newIdempotencyKey() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validIdempotencyKey(k string) bool {
	return k != "" && len(k) <= maxIdempotencyKey && !strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}

func (p *Pages) withdrawForm(c assetChoice) *form {
	return newForm(
		&field{ID: "withdraw-destination", Name: "address_id", Label: "Send to", Type: "select", Required: true},
		&field{ID: "withdraw-address", Name: "address", Label: "Address", Type: "text", Autocomplete: "off", Verbatim: true, MaxLength: 200,
			Hint: "Only when sending to an address that is not in your address book. Paste it, and check it."},
		&field{ID: "withdraw-memo", Name: "memo", Label: "Memo or destination tag", Type: "text", Autocomplete: "off", Verbatim: true, MaxLength: 100},
		&field{ID: "withdraw-amount", Name: "amount", Label: "Amount in " + c.Asset, Type: "text", Autocomplete: "off", InputMode: "decimal",
			Verbatim: true, Required: true, MaxLength: 60,
			Hint: fmt.Sprintf("Digits with a point, up to %d decimals, such as 0.015.", c.Decimals)},
	)
}

// withdrawData draws the withdraw page for the asset choice value (none
// chosen when it is not one of the catalog's), with the form f (nil: a new one).
func (p *Pages) withdrawData(r *http.Request, a account.Account, value string, f *form) (withdrawData, error) {
	ctx := r.Context()
	pol := p.withdrawals.Policy
	l, err := p.withdrawals.LimitsOf(ctx, a)
	if err != nil {
		return withdrawData{}, err
	}
	d := withdrawData{Limits: p.limitsViewOf(l), NeedsMFA: pol.RequireSecondFactor && !a.MFAEnabled, TTL: durationWords(pol.ConfirmationTTL)}
	if pol.RequireSecondFactor {
		d.Requires = append(d.Requires, confirmationWords[withdrawal.RequireSecondFactor])
	}
	if pol.RequireEmail {
		d.Requires = append(d.Requires, confirmationWords[withdrawal.RequireEmail])
	}
	choices := p.assetChoices(value)
	if len(choices) == 1 {
		choices[0].Selected = true
	}
	d.Choose = selectField{field: &field{ID: "withdraw-asset", Name: "asset", Label: "Asset and network", Required: true}, Prompt: "Choose what to withdraw"}
	for i, c := range choices {
		d.Choose.Options = append(d.Choose.Options, selectOption{Value: c.Value, Label: c.Label, Selected: c.Selected})
		if c.Selected {
			d.Chosen = &choices[i]
		}
	}
	if d.Chosen == nil {
		return d, nil
	}
	c := *d.Chosen
	settings, err := p.withdrawals.Settings(ctx, a.ID)
	if err != nil {
		return d, err
	}
	book, err := p.withdrawals.Addresses(ctx, a.ID)
	if err != nil {
		return d, err
	}
	now := p.now()
	d.AllowList = settings.AllowListAt(now)
	d.Typed = !d.AllowList
	if f == nil {
		f = p.withdrawForm(c)
		d.Key = newIdempotencyKey()
	}
	d.Form = f
	if c.Memo == "" {
		f.F("memo").Hint = ""
	} else {
		f.F("memo").Hint = "Only with an address typed in: " + map[string]string{"required": "needed on ", "optional": "optional on "}[c.Memo] + c.Network + "."
	}
	dest := f.F("address_id")
	d.Destination = selectField{field: dest}
	for _, b := range book {
		if b.Asset != c.Asset || b.Network != c.Network {
			continue
		}
		row := p.addressRowOf(b, now)
		label := b.Address
		if b.Label != "" {
			label = b.Label + ": " + b.Address
		}
		if row.Status != withdrawal.AddressActive {
			label += " (" + lowerFirst(row.StatusText) + ")"
		}
		d.Destination.Options = append(d.Destination.Options, selectOption{Value: b.ID, Label: label, Selected: dest.Value == b.ID})
	}
	if d.Typed {
		d.Destination.Options = append(d.Destination.Options, selectOption{Value: "other", Label: "Another address (type it below)", Selected: dest.Value == "other"})
	}
	d.NoAddresses = len(d.Destination.Options) == 0
	if !d.NoAddresses && !d.Limits.None && !d.NeedsMFA {
		if d.Estimate, err = p.limitEstimateOf(r, c, l, now); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (p *Pages) withdrawPage(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	d, err := p.withdrawData(r, a, r.URL.Query().Get("asset"), nil)
	if err != nil {
		p.internalError(w, r, "read withdrawal limits and addresses", err)
		return
	}
	if d.Form != nil {
		d.Form.finish()
	}
	p.Render(w, r, http.StatusOK, "withdraw", d)
}

func (p *Pages) requestWithdrawal(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	value, _ := readField(r, "asset", true)
	c, ok := p.findChoice(value)
	if !ok {
		http.Redirect(w, r, withdrawPath, http.StatusSeeOther)
		return
	}
	f := p.withdrawForm(c)
	values := map[string]string{}
	for _, name := range []string{"address_id", "address", "memo", "amount"} {
		v, ok := readField(r, name, true)
		if !ok {
			f.fail(name, "This is far too long.")
			continue
		}
		f.F(name).Value, values[name] = v, v
	}
	key, _ := readField(r, "idempotency_key", true)
	if !validIdempotencyKey(key) {
		key = newIdempotencyKey() // a damaged form: this one is its own
	}
	render := func(status int) {
		d, err := p.withdrawData(r, a, c.Value, f)
		if err != nil {
			p.internalError(w, r, "read withdrawal limits and addresses", err)
			return
		}
		d.Key = key
		f.finish()
		p.Render(w, r, status, "withdraw", d)
	}
	if p.withdrawals.Policy.RequireSecondFactor && !a.MFAEnabled {
		f.Problem = p.refusalText(&withdrawal.Refusal{Code: withdrawal.CodeMFARequired})
		render(http.StatusUnprocessableEntity)
		return
	}
	req := withdrawal.Request{Asset: c.Asset, Network: c.Network, Amount: values["amount"], IdempotencyKey: key,
		Session: u.Session, Meta: p.accountMeta(r)}
	switch dest := values["address_id"]; {
	case dest == "" && f.F("address_id").Error == "":
		f.fail("address_id", "Choose where to send it.")
	case dest == "other":
		req.Address, req.Memo = values["address"], values["memo"]
		if req.Address == "" && f.F("address").Error == "" {
			f.fail("address", "Enter the address, or choose one from your address book.")
		}
	default:
		req.AddressID = dest
	}
	if values["amount"] == "" && f.F("amount").Error == "" {
		f.fail("amount", "Enter the amount.")
	}
	if f.HasErrors() {
		render(http.StatusUnprocessableEntity)
		return
	}
	dec, err := p.withdrawals.Request(r.Context(), a, req)
	var ref *withdrawal.Refusal
	var invalid *withdrawal.ValidationError
	switch {
	case err == nil:
		flash := flashWithdrawalRequested
		if dec.Repeat {
			flash = flashWithdrawalRepeat
		}
		p.redirect(w, r, withdrawalsPath+"/"+url.PathEscape(dec.Withdrawal.ID), flash)
		return
	case errors.Is(err, withdrawal.ErrIdempotencyKey):
		f.Problem = &problem{Message: "This form was sent before with other details, and made a withdrawal then. " +
			"Check the form and send it again to make a new one.", Links: []link{{Href: withdrawalsPath, Text: "Your withdrawals"}}}
		key = newIdempotencyKey()
	case errors.As(err, &ref):
		switch ref.Code {
		case withdrawal.CodeLimitExceeded:
			f.fail("amount", p.refusalText(ref).Message)
		case withdrawal.CodeAddressOnHold, withdrawal.CodeAddressNotAllowed:
			name := "address_id"
			if req.AddressID == "" {
				name = "address"
			}
			f.fail(name, p.refusalText(ref).Message)
		default:
			f.Problem = p.refusalText(ref)
		}
	case errors.As(err, &invalid):
		for _, fe := range invalid.Fields {
			switch fe.Field {
			case "amount":
				f.fail("amount", fieldDetail(fe.Detail))
			case "address", "memo":
				p.failAddress(f, c, fe.Detail)
			default:
				f.Problem = &problem{Message: sentence(fe.Detail)}
			}
		}
	default:
		p.internalError(w, r, "request withdrawal", err)
		return
	}
	render(http.StatusUnprocessableEntity)
}

// ---- One withdrawal, and the history ------------------------------------------------------------

type withdrawalView struct {
	ID, Asset, Network, Amount, Address, Memo string
	Value                                     string
	Price                                     string
	Status                                    string
	StatusText                                string
	Badge                                     string
	Reasons                                   []string
	ReviewReason                              string
	TxID                                      string
	CreatedAt, ExpiresAt                      time.Time
	ApprovedAt, CompletedAt, UpdatedAt        time.Time
	// NeedsCode and NeedsEmail are the confirmations still missing;
	// CodeDone and EmailDone the ones given.
	NeedsCode, NeedsEmail bool
	CodeDone, EmailDone   bool
	AskedCode, AskedEmail bool
	Left                  string
	CanCancel             bool
	IP, DeviceID          string
	AccountID             string
	Reviewer              string
}

func (p *Pages) withdrawalViewOf(w withdrawal.Withdrawal, now time.Time) withdrawalView {
	asset, _, _ := p.withdrawals.Assets.Find(w.Asset, w.Network)
	status := w.StatusAt(now)
	v := withdrawalView{ID: w.ID, Asset: w.Asset, Network: w.Network, Address: w.Address, Memo: w.Memo,
		Value: p.withdrawals.Currency.Format(w.ReferenceValue), Price: w.Price, Status: status,
		StatusText: cmpOr(withdrawalStatusWords[status], status), Badge: withdrawalBadges[status],
		Reasons: reasonsInWords(w.Reasons), ReviewReason: w.ReviewReason, TxID: w.TxID,
		CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt, ApprovedAt: w.ApprovedAt, CompletedAt: w.CompletedAt, UpdatedAt: w.UpdatedAt,
		CanCancel: status == withdrawal.StatusAwaitingConfirmation || status == withdrawal.StatusPendingReview,
		IP:        w.IP, DeviceID: w.DeviceID, AccountID: w.AccountID, Reviewer: w.Reviewer}
	if w.Amount != nil {
		v.Amount = plainAmount(money.FormatUnits(w.Amount, asset.Decimals))
	}
	pending := w.Pending()
	v.AskedCode, v.AskedEmail = slices.Contains(w.Required, withdrawal.RequireSecondFactor), slices.Contains(w.Required, withdrawal.RequireEmail)
	if status == withdrawal.StatusAwaitingConfirmation {
		v.NeedsCode, v.NeedsEmail = slices.Contains(pending, withdrawal.RequireSecondFactor), slices.Contains(pending, withdrawal.RequireEmail)
		v.Left = timeLeft(w.ExpiresAt.Sub(now))
	}
	v.CodeDone, v.EmailDone = slices.Contains(w.Satisfied, withdrawal.RequireSecondFactor), slices.Contains(w.Satisfied, withdrawal.RequireEmail)
	return v
}

type withdrawalsData struct{ Withdrawals []withdrawalView }

func (p *Pages) withdrawalsPage(w http.ResponseWriter, r *http.Request, u *member) {
	list, err := p.withdrawals.List(r.Context(), u.Account.ID, "", historyLimit)
	if err != nil {
		p.internalError(w, r, "list withdrawals", err)
		return
	}
	now := p.now()
	var d withdrawalsData
	for _, wd := range list {
		d.Withdrawals = append(d.Withdrawals, p.withdrawalViewOf(wd, now))
	}
	p.Render(w, r, http.StatusOK, "withdrawals", d)
}

type withdrawalData struct {
	W     withdrawalView
	Code  *form
	Drift bool
	Email string
}

func withdrawalCodeForm() *form {
	f := newForm(codeField("withdrawal-code"))
	f.F("code").Hint = "The code your authenticator app shows now for this account, or one of your recovery codes."
	f.F("code").MaxLength = 20
	return f
}

// ownWithdrawal reads one of u's withdrawals; ok is false when it already
// answered (404 or 500).
func (p *Pages) ownWithdrawal(w http.ResponseWriter, r *http.Request, u *member) (withdrawal.Withdrawal, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxTokenLen {
		p.NotFound(w, r)
		return withdrawal.Withdrawal{}, false
	}
	wd, err := p.withdrawals.Get(r.Context(), u.Account.ID, id)
	switch {
	case errors.Is(err, withdrawal.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "You have no withdrawal with this id. Find it in your withdrawals.")
		return wd, false
	case err != nil:
		p.internalError(w, r, "read withdrawal", err)
		return wd, false
	}
	return wd, true
}

func (p *Pages) withdrawalData(wd withdrawal.Withdrawal, u *member, f *form) withdrawalData {
	d := withdrawalData{W: p.withdrawalViewOf(wd, p.now()), Email: u.Account.Email}
	if d.W.NeedsCode {
		if f == nil {
			f = withdrawalCodeForm()
		}
		d.Code = f.finish()
	}
	return d
}

func (p *Pages) withdrawalPage(w http.ResponseWriter, r *http.Request, u *member) {
	wd, ok := p.ownWithdrawal(w, r, u)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "withdrawals-detail", p.withdrawalData(wd, u, nil))
}

// afterConfirmation is the notice for a withdrawal's state after a confirmation.
func afterConfirmation(wd withdrawal.Withdrawal) string {
	switch wd.Status {
	case withdrawal.StatusApproved:
		return flashWithdrawalApproved
	case withdrawal.StatusPendingReview:
		return flashWithdrawalHeld
	}
	return flashWithdrawalCode
}

func (p *Pages) confirmWithdrawalCode(w http.ResponseWriter, r *http.Request, u *member) {
	wd, ok := p.ownWithdrawal(w, r, u)
	if !ok {
		return
	}
	back := withdrawalsPath + "/" + url.PathEscape(wd.ID)
	f := withdrawalCodeForm()
	d := p.withdrawalData(wd, u, f)
	if !d.W.NeedsCode {
		p.redirect(w, r, back, flashWithdrawalStale)
		return
	}
	code := readCode(r, f)
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "withdrawals-detail", f, d)
		return
	}
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	if !p.codeAttempt(w, r, a, f, "withdrawals-detail", d) {
		return
	}
	var done withdrawal.Withdrawal
	err = p.guard(r, a, func() error {
		var err error
		done, err = p.withdrawals.ConfirmCode(r.Context(), a, u.Session, wd.ID, code, p.accountMeta(r))
		return err
	})
	switch {
	case err == nil:
		p.sessions.Forget([]string{u.Session.TokenHash}) // it proved a factor
		p.redirect(w, r, back, afterConfirmation(done))
		return
	case errors.Is(err, withdrawal.ErrNotPending), errors.Is(err, withdrawal.ErrInvalidToken):
		p.redirect(w, r, back, flashWithdrawalStale)
		return
	case errors.Is(err, mfa.ErrNotEnabled):
		f.Problem = &problem{Message: "Confirming needs a code from an authenticator app, and none is set up.",
			Links: []link{{Href: securityPath, Text: "Security settings"}}}
	default:
		drift, refused := refusedAnswer(f, mfa.MethodTOTP, err)
		if !refused {
			p.internalError(w, r, "confirm withdrawal with a code", err)
			return
		}
		d.Drift = drift
		// Enough wrong codes cancel it: show its state as it is now.
		if again, err := p.withdrawals.Get(r.Context(), u.Account.ID, wd.ID); err == nil && again.StatusAt(p.now()) != withdrawal.StatusAwaitingConfirmation {
			p.redirect(w, r, back, "")
			return
		}
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "withdrawals-detail", f, d)
}

func (p *Pages) cancelWithdrawal(w http.ResponseWriter, r *http.Request, u *member) {
	wd, ok := p.ownWithdrawal(w, r, u)
	if !ok {
		return
	}
	back := withdrawalsPath + "/" + url.PathEscape(wd.ID)
	_, err := p.withdrawals.Cancel(r.Context(), u.Account, wd.ID, p.accountMeta(r))
	switch {
	case err == nil:
		p.redirect(w, r, back, flashWithdrawalCancelled)
	case errors.Is(err, withdrawal.ErrNotPending), errors.Is(err, withdrawal.ErrNotFound):
		p.redirect(w, r, back, flashWithdrawalStale)
	default:
		p.internalError(w, r, "cancel withdrawal", err)
	}
}

// ---- The withdrawal email's link ---------------------------------------------------------------

type withdrawalEmailData struct {
	Invalid bool
	// Elsewhere: the browser is signed in to another account than the
	// withdrawal's.
	Elsewhere bool
	Token     string
	Done      bool
	W         withdrawalView
}

// peekEmailLink finds the withdrawal an email link's token confirms without
// spending it; ok is false when it already answered: the link does not work
// (used, voided, its withdrawal no longer waiting), or this browser is
// signed in to another account, whose user should not confirm it.
func (p *Pages) peekEmailLink(w http.ResponseWriter, r *http.Request, token string) (withdrawal.Withdrawal, bool) {
	wd, err := p.withdrawals.PeekEmailToken(r.Context(), token)
	switch {
	case errors.Is(err, withdrawal.ErrInvalidToken):
		p.Render(w, r, http.StatusBadRequest, "withdrawals-confirm", withdrawalEmailData{Invalid: true})
		return wd, false
	case err != nil:
		p.internalError(w, r, "read the withdrawal of an email link", err)
		return wd, false
	}
	if wd.StatusAt(p.now()) != withdrawal.StatusAwaitingConfirmation || !slices.Contains(wd.Pending(), withdrawal.RequireEmail) {
		p.Render(w, r, http.StatusBadRequest, "withdrawals-confirm", withdrawalEmailData{Invalid: true})
		return wd, false
	}
	if u := p.viewer(userSignIn, r); u != nil && u.Account.ID != wd.AccountID {
		p.Render(w, r, http.StatusForbidden, "withdrawals-confirm", withdrawalEmailData{Elsewhere: true})
		return wd, false
	}
	return wd, true
}

// withdrawalEmailPage is the email's link: it shows the withdrawal and a
// button, since opening the link must not spend it. It works without a
// session: the link proves the mailbox, and the code (if asked) is given on
// the withdrawal's page.
func (p *Pages) withdrawalEmailPage(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "withdrawals-confirm", withdrawalEmailData{Invalid: true})
		return
	}
	wd, ok := p.peekEmailLink(w, r, token)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "withdrawals-confirm", withdrawalEmailData{Token: token, W: p.withdrawalViewOf(wd, p.now())})
}

func (p *Pages) confirmWithdrawalEmail(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "withdrawals-confirm", withdrawalEmailData{Invalid: true})
		return
	}
	if _, ok := p.peekEmailLink(w, r, token); !ok {
		return
	}
	wd, err := p.withdrawals.ConfirmEmail(r.Context(), token, p.accountMeta(r))
	switch {
	case errors.Is(err, withdrawal.ErrInvalidToken), errors.Is(err, withdrawal.ErrNotPending):
		p.Render(w, r, http.StatusBadRequest, "withdrawals-confirm", withdrawalEmailData{Invalid: true})
	case err != nil:
		p.internalError(w, r, "confirm withdrawal by email", err)
	default:
		p.Render(w, r, http.StatusOK, "withdrawals-confirm", withdrawalEmailData{Done: true, W: p.withdrawalViewOf(wd, p.now())})
	}
}

// ---- Console: the review queue ---------------------------------------------------------------

var withdrawalQueueStatuses = []selectOption{
	{Value: withdrawal.StatusPendingReview, Label: "Waiting for review"},
	{Value: withdrawal.StatusAwaitingConfirmation, Label: "Waiting for the user's confirmation"},
	{Value: withdrawal.StatusApproved, Label: "Approved"},
	{Value: withdrawal.StatusCompleted, Label: "Sent"},
	{Value: withdrawal.StatusRejected, Label: "Rejected"},
	{Value: withdrawal.StatusCancelled, Label: "Cancelled"},
	{Value: withdrawal.StatusExpired, Label: "Expired"},
	{Value: "all", Label: "All"},
}

type consoleWithdrawalRow struct {
	withdrawalView
	Email string
}

type consoleWithdrawalsData struct {
	Status listFilter
	Rows   []consoleWithdrawalRow
}

// emailsOf names the accounts by their email address.
func (p *Pages) emailsOf(r *http.Request, ids []string) (map[string]string, error) {
	emails := map[string]string{}
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		for _, id := range ids {
			if _, seen := emails[id]; seen {
				continue
			}
			a, err := tx.AccountByID(r.Context(), id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			emails[id] = a.Email
		}
		return nil
	})
	return emails, err
}

func (p *Pages) consoleWithdrawals(w http.ResponseWriter, r *http.Request, s *member) {
	d := consoleWithdrawalsData{Status: listFilterOf(r.URL.Query(), &field{ID: "queue-status", Name: "status", Label: "Show"},
		withdrawalQueueStatuses, withdrawal.StatusPendingReview)}
	status := d.Status.Value
	// A request past its time is stored as awaiting until the expiry duty
	// marks it: expired ones are read from both lists, and each row is
	// kept when its state at now is the one asked for.
	filters := []string{status}
	switch status {
	case "all":
		filters = []string{""}
	case withdrawal.StatusExpired:
		filters = append(filters, withdrawal.StatusAwaitingConfirmation)
	}
	var list []withdrawal.Withdrawal
	for _, filter := range filters {
		part, err := p.withdrawals.List(r.Context(), "", filter, historyLimit)
		if err != nil {
			p.internalError(w, r, "list withdrawals", err)
			return
		}
		list = append(list, part...)
	}
	slices.SortStableFunc(list, func(a, b withdrawal.Withdrawal) int { return b.CreatedAt.Compare(a.CreatedAt) })
	var ids []string
	for _, wd := range list {
		ids = append(ids, wd.AccountID)
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		p.internalError(w, r, "read the accounts of withdrawals", err)
		return
	}
	now := p.now()
	for _, wd := range list {
		if status != "all" && wd.StatusAt(now) != status {
			continue
		}
		d.Rows = append(d.Rows, consoleWithdrawalRow{withdrawalView: p.withdrawalViewOf(wd, now), Email: emails[wd.AccountID]})
	}
	if status == withdrawal.StatusPendingReview {
		slices.Reverse(d.Rows) // oldest first: the longest waiting on top
	}
	p.Render(w, r, http.StatusOK, "console-withdrawals", d)
}

// ---- Console: one withdrawal ----------------------------------------------------------------

type consoleWithdrawalData struct {
	W           withdrawalView
	Email       string
	UserTier    int
	Frozen      bool
	CanReadUser bool
	Device      *deviceRow
	CanDecide   bool
	Approve     *form
	Reject      *form
}

func approveForm() *form {
	return newForm(&field{ID: "approve-note", Name: "reason", Label: "Note (optional)", Type: "textarea", MaxLength: maxReason,
		Hint: "Kept with the decision in the audit log, such as how it was checked."})
}

func rejectWithdrawalForm() *form {
	return newForm(&field{ID: "reject-reason", Name: "reason", Label: "Why is it rejected?", Type: "textarea", Required: true,
		MinLength: minReason, MaxLength: maxReason,
		Hint: "5 to 500 characters. The user reads it in the email that tells them; the platform gets it in the webhook."})
}

// loadConsoleWithdrawal reads a withdrawal with its user and device for
// staff; ok is false when it already answered (404 or 500).
func (p *Pages) loadConsoleWithdrawal(w http.ResponseWriter, r *http.Request, s *member) (consoleWithdrawalData, withdrawal.Withdrawal, bool) {
	id := r.PathValue("id")
	var d consoleWithdrawalData
	if id == "" || len(id) > maxTokenLen {
		p.NotFound(w, r)
		return d, withdrawal.Withdrawal{}, false
	}
	var wd withdrawal.Withdrawal
	var a account.Account
	var dev *session.Device
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		if wd, err = tx.WithdrawalByID(r.Context(), id); err != nil {
			return err
		}
		if a, err = tx.AccountByID(r.Context(), wd.AccountID); err != nil {
			return err
		}
		if wd.DeviceID != "" {
			found, err := tx.DeviceByID(r.Context(), wd.AccountID, wd.DeviceID)
			if err == nil {
				dev = &found
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "There is no withdrawal with this id. Open it from the queue.")
		return d, wd, false
	case err != nil:
		p.internalError(w, r, "read withdrawal", err)
		return d, wd, false
	}
	d = consoleWithdrawalData{W: p.withdrawalViewOf(wd, p.now()), Email: a.Email, UserTier: a.VerificationTier, Frozen: a.Frozen(),
		CanReadUser: p.allows(s.Account.StaffRole, scopeUsersRead)}
	if dev != nil {
		rows := deviceRows([]session.Device{*dev}, "")
		d.Device = &rows[0]
	}
	if wd.Status == withdrawal.StatusPendingReview && p.allows(s.Account.StaffRole, scopeWithdrawalsWrite) {
		d.CanDecide, d.Approve, d.Reject = true, approveForm(), rejectWithdrawalForm()
	}
	return d, wd, true
}

func (p *Pages) consoleWithdrawal(w http.ResponseWriter, r *http.Request, s *member) {
	d, _, ok := p.loadConsoleWithdrawal(w, r, s)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "console-withdrawals-detail", d)
}

func (p *Pages) consoleDecideWithdrawal(decision string) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, s *member) {
		d, wd, ok := p.loadConsoleWithdrawal(w, r, s)
		if !ok {
			return
		}
		back := consoleWithdrawalsPath + "/" + url.PathEscape(wd.ID)
		if !d.CanDecide {
			p.redirect(w, r, back, flashConsoleWStale)
			return
		}
		f := d.Approve
		var reason string
		if decision == withdrawal.DecisionReject {
			f = d.Reject
			reason = readReason(r, f)
		} else {
			var ok bool
			if reason, ok = readField(r, "reason", true); !ok || utf8.RuneCountInString(reason) > maxReason {
				f.fail("reason", "Write at most 500 characters.")
			} else {
				f.F("reason").Value = reason
			}
		}
		if f.HasErrors() {
			f.finish()
			p.Render(w, r, http.StatusUnprocessableEntity, "console-withdrawals-detail", d)
			return
		}
		_, err := p.withdrawals.Decide(r.Context(), wd.ID, decision, reason, p.reviewerMeta(r, s))
		var invalid *withdrawal.ValidationError
		switch {
		case err == nil && decision == withdrawal.DecisionApprove:
			p.redirect(w, r, consoleWithdrawalsPath, flashConsoleWApproved)
		case err == nil:
			p.redirect(w, r, consoleWithdrawalsPath, flashConsoleWRejected)
		case errors.Is(err, withdrawal.ErrNotPending), errors.Is(err, withdrawal.ErrNotFound):
			p.redirect(w, r, back, flashConsoleWStale)
		case errors.As(err, &invalid):
			for _, fe := range invalid.Fields {
				f.fail("reason", sentence(fe.Detail))
			}
			f.finish()
			p.Render(w, r, http.StatusUnprocessableEntity, "console-withdrawals-detail", d)
		default:
			p.internalError(w, r, "decide withdrawal", err)
		}
	}
}

// ---- Console: restrictions on the user page ---------------------------------------------------

type restrictionRow struct {
	ID, Kind, Reason, Source string
	ByVerification           bool
	CreatedAt, ExpiresAt     time.Time
}

// restrictionsBlock is the restrictions part of the console's user page
// ("restrictions" in withdrawals-parts.html).
type restrictionsBlock struct {
	UserID   string
	Rows     []restrictionRow
	CanWrite bool
	Form     *form
	Expiry   selectField
	// LiftOnVerification is the form's checkbox.
	LiftOnVerification bool
	VerificationOn     bool
}

// restrictionExpiries are the ends a restriction may be given.
var restrictionExpiries = []selectOption{
	{Value: "", Label: "Until lifted"},
	{Value: "1h", Label: "1 hour"},
	{Value: "24h", Label: "24 hours"},
	{Value: "168h", Label: "7 days"},
	{Value: "720h", Label: "30 days"},
}

func restrictForm() *form {
	return newForm(
		&field{ID: "restrict-reason", Name: "reason", Label: "Why restrict withdrawals?", Type: "textarea", Required: true,
			MinLength: minReason, MaxLength: maxReason,
			Hint: "5 to 500 characters. The user is told that withdrawals are paused; the reason is kept in the audit log and sent to the platform."},
		&field{ID: "restrict-expires", Name: "expires_in", Label: "For how long?"},
	)
}

func (b *restrictionsBlock) drawExpiry() {
	fl := b.Form.F("expires_in")
	b.Expiry = selectField{field: fl}
	for _, o := range restrictionExpiries {
		o.Selected = o.Value == fl.Value
		b.Expiry.Options = append(b.Expiry.Options, o)
	}
}

// restrictionsOf reads the user's restrictions in force for the console.
func (p *Pages) restrictionsOf(r *http.Request, userID string, canWrite bool) (*restrictionsBlock, error) {
	list, err := p.withdrawals.Restrictions(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	b := &restrictionsBlock{UserID: userID, CanWrite: canWrite, VerificationOn: p.verification != nil}
	for _, rs := range list {
		b.Rows = append(b.Rows, restrictionRow{ID: rs.ID, Kind: rs.Kind, Reason: rs.Reason, Source: rs.Source,
			ByVerification: rs.LiftOn == "verification", CreatedAt: rs.CreatedAt, ExpiresAt: rs.ExpiresAt})
	}
	if canWrite {
		b.Form = restrictForm()
		b.drawExpiry()
	}
	return b, nil
}

func (p *Pages) consoleRestrict(w http.ResponseWriter, r *http.Request, s *member) {
	data, ok := p.loadUser(w, r, s)
	if !ok {
		return
	}
	b := data.Restrictions
	if b == nil || b.Form == nil {
		p.NotFound(w, r)
		return
	}
	f := b.Form
	reason := readReason(r, f)
	expires, _ := readField(r, "expires_in", true)
	var until time.Time
	if slices.ContainsFunc(restrictionExpiries, func(o selectOption) bool { return o.Value == expires }) {
		f.F("expires_in").Value = expires
		if expires != "" {
			d, _ := time.ParseDuration(expires)
			until = p.now().Add(d)
		}
	} else {
		f.fail("expires_in", "Choose how long from the list.")
	}
	b.LiftOnVerification = r.PostFormValue("lift_on") == "verification"
	b.drawExpiry()
	if f.HasErrors() {
		f.finish()
		if data.Form != nil {
			data.Form.finish()
		}
		p.Render(w, r, http.StatusUnprocessableEntity, "console-user", data)
		return
	}
	n := withdrawal.NewRestriction{Kind: "withdrawals", Reason: reason, ExpiresAt: until}
	if b.LiftOnVerification {
		n.LiftOn = "verification"
	}
	_, err := p.withdrawals.Restrict(r.Context(), data.User.ID, n, p.staffMeta(r, s))
	var invalid *withdrawal.ValidationError
	switch {
	case err == nil:
		p.redirect(w, r, "/console/users/"+url.PathEscape(data.User.ID), flashConsoleRestricted)
	case errors.Is(err, withdrawal.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "There is no user with this id.")
	case errors.As(err, &invalid):
		for _, fe := range invalid.Fields {
			if fe.Field == "expires_at" {
				f.fail("expires_in", sentence(fe.Detail))
			} else {
				f.Problem = &problem{Message: sentence(fe.Detail)}
			}
		}
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-user", data)
	default:
		p.internalError(w, r, "restrict withdrawals", err)
	}
}

func (p *Pages) consoleLift(w http.ResponseWriter, r *http.Request, s *member) {
	userID, rid := r.PathValue("id"), r.PathValue("rid")
	if userID == "" || len(userID) > maxTokenLen || rid == "" || len(rid) > maxTokenLen {
		p.NotFound(w, r)
		return
	}
	back := "/console/users/" + url.PathEscape(userID)
	_, err := p.withdrawals.Lift(r.Context(), userID, rid, p.staffMeta(r, s))
	switch {
	case err == nil:
		p.redirect(w, r, back, flashConsoleLifted)
	case errors.Is(err, withdrawal.ErrNotFound):
		p.redirect(w, r, back, flashConsoleLiftStale)
	default:
		p.internalError(w, r, "lift restriction", err)
	}
}
