package web

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/geoip"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// Devices on the pages: the new-device email's confirmation link, and the
// list of the browsers and apps that logged in to the account.

// confirmDeviceData is the page of the new-device email's link.
type confirmDeviceData struct {
	Token string
	// Invalid: the link is incomplete, used, or expired.
	Invalid bool
	// Done: the login was confirmed.
	Done bool
	// What the login being confirmed was, as far as known.
	Email  string
	At     time.Time
	IP     string
	Place  string
	Device string
}

// confirmDevicePage shows which login the link confirms and a button: mail
// scanners open links to check them, so opening it must not confirm.
func (p *Pages) confirmDevicePage(w http.ResponseWriter, r *http.Request) {
	data, err := confirmDeviceData{}, mfa.ErrChallengeExpired
	if token := linkToken(r); token != "" {
		data, err = p.pendingLogin(r, token)
	}
	p.showConfirmation(w, r, data, err, "read a device confirmation")
}

// showConfirmation draws the link's page, or says that the link no longer
// works (mfa.ErrChallengeExpired), or fails.
func (p *Pages) showConfirmation(w http.ResponseWriter, r *http.Request, data confirmDeviceData, err error, what string) {
	switch {
	case errors.Is(err, mfa.ErrChallengeExpired):
		p.Render(w, r, http.StatusBadRequest, "confirm-device", confirmDeviceData{Invalid: true})
	case err != nil:
		p.internalError(w, r, what, err)
	default:
		p.Render(w, r, http.StatusOK, "confirm-device", data)
	}
}

// pendingLogin describes the login a confirmation link's token names;
// mfa.ErrChallengeExpired when the link no longer confirms anything.
func (p *Pages) pendingLogin(r *http.Request, token string) (confirmDeviceData, error) {
	data := confirmDeviceData{Token: token}
	now := p.now()
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		c, err := tx.ChallengeByEmailToken(r.Context(), mfa.HashChallengeID(token))
		if errors.Is(err, store.ErrNotFound) {
			return mfa.ErrChallengeExpired
		}
		if err != nil {
			return err
		}
		if !c.Open(now, p.mfa.Policy.MaxFailures) || slices.Contains(c.Satisfied, mfa.RequireEmail) {
			return mfa.ErrChallengeExpired
		}
		a, err := tx.AccountByID(r.Context(), c.AccountID)
		if err != nil {
			return err
		}
		data.Email, data.At = a.Email, c.CreatedAt
		if c.LoginEventID != "" {
			events, err := tx.LoginEvents(r.Context(), a.ID, 20)
			if err != nil {
				return err
			}
			if i := slices.IndexFunc(events, func(e login.Event) bool { return e.ID == c.LoginEventID }); i >= 0 {
				e := events[i]
				data.At, data.IP = e.At, e.IP
				if e.Country != "" || e.City != "" {
					data.Place = geoip.Place{Country: e.Country, City: e.City}.Describe()
				}
			}
		}
		if c.DeviceID != "" {
			devices, err := tx.DevicesOf(r.Context(), a.ID)
			if err != nil {
				return err
			}
			if i := slices.IndexFunc(devices, func(d session.Device) bool { return d.ID == c.DeviceID }); i >= 0 {
				data.Device = devices[i].Summary()
			}
		}
		return nil
	})
	return data, err
}

// confirmDevice confirms the login the link names: the page where it was
// started goes on by itself.
func (p *Pages) confirmDevice(w http.ResponseWriter, r *http.Request) {
	err := mfa.ErrChallengeExpired
	if token := linkToken(r); token != "" {
		err = p.login.ConfirmDevice(r.Context(), token, p.sessionMeta(r))
	}
	p.showConfirmation(w, r, confirmDeviceData{Done: true}, err, "confirm a device")
}

// deviceRow is one of the account's devices.
type deviceRow struct {
	ID          string
	Summary     string
	UserAgent   string
	Current     bool
	Trusted     bool
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	LastIP      string
	LastPlace   string
}

func deviceRows(devices []session.Device, currentID string) []deviceRow {
	rows := make([]deviceRow, 0, len(devices))
	for _, d := range devices {
		row := deviceRow{
			ID: d.ID, Summary: d.Summary(), UserAgent: d.UserAgent, Current: d.ID != "" && d.ID == currentID, Trusted: d.Trusted(),
			FirstSeenAt: d.FirstSeenAt, LastSeenAt: d.LastSeenAt, LastIP: d.LastIP, LastPlace: d.LastPlace,
		}
		if row.Current {
			// This device first.
			rows = append([]deviceRow{row}, rows...)
			continue
		}
		rows = append(rows, row)
	}
	return rows
}

type devicesData struct{ Devices []deviceRow }

// devicesPage lists the browsers and apps that logged in to the account.
func (p *Pages) devicesPage(w http.ResponseWriter, r *http.Request, u *member) {
	devices, err := p.sessions.Devices(r.Context(), u.Account.ID)
	if err != nil {
		p.internalError(w, r, "list devices", err)
		return
	}
	p.Render(w, r, http.StatusOK, "account-devices", devicesData{Devices: deviceRows(devices, u.Session.DeviceID)})
}

// forgetDevice removes a device: its sessions end, and its next login is a
// new device's. Removing this one logs out.
func (p *Pages) forgetDevice(w http.ResponseWriter, r *http.Request, u *member) {
	id := r.PostFormValue("device")
	if id == "" || len(id) > maxTokenLen {
		p.redirect(w, r, "/account/devices", "")
		return
	}
	// Forgetting another device sends it back to the shared lane and to
	// email confirmations: a stolen session must not do that to the owner.
	if id != u.Session.DeviceID && p.stepUpFirst(w, r, u, "/account/devices") {
		return
	}
	_, err := p.sessions.ForgetDevice(r.Context(), u.Account, id, p.sessionMeta(r))
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.redirect(w, r, "/account/devices", flashDeviceGone)
	case err != nil:
		p.internalError(w, r, "forget a device", err)
	case id == u.Session.DeviceID:
		p.clearSessionCookie(w, userSignIn)
		p.redirect(w, r, "/login", flashThisDevice)
	default:
		p.redirect(w, r, "/account/devices", flashDeviceForgotten)
	}
}
