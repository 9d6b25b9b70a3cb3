package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

type deviceView struct {
	ID          string     `json:"id"`
	Summary     string     `json:"summary"`
	UserAgent   string     `json:"user_agent"`
	Current     bool       `json:"current"`
	Trusted     bool       `json:"trusted"`
	TrustedAt   *time.Time `json:"trusted_at"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	LastSeenAt  time.Time  `json:"last_seen_at"`
	LastIP      string     `json:"last_ip"`
	LastPlace   string     `json:"last_place"`
}

func viewDevice(d session.Device, currentID string) deviceView {
	return deviceView{
		ID: d.ID, Summary: d.Summary(), UserAgent: d.UserAgent, Current: d.ID == currentID,
		Trusted: d.Trusted(), TrustedAt: timePtr(d.TrustedAt), FirstSeenAt: d.FirstSeenAt, LastSeenAt: d.LastSeenAt,
		LastIP: d.LastIP, LastPlace: d.LastPlace,
	}
}

// listDevices shows the browsers and apps that logged in to the account.
func (a *API) listDevices(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	devices, err := a.Sessions.Devices(r.Context(), c.account.ID)
	if err != nil {
		return err
	}
	out := make([]deviceView, 0, len(devices))
	for _, d := range devices {
		out = append(out, viewDevice(d, c.session.DeviceID))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// forgetDevice removes a device: its sessions end and its next login is
// treated as a new device's.
func (a *API) forgetDevice(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	// Forgetting another device sends it back to the shared lane and to
	// email confirmations: a stolen session must not do that to the owner.
	if r.PathValue("id") != c.session.DeviceID {
		if err := a.requireStepUp(r, c); err != nil {
			return err
		}
	}
	_, err := a.Sessions.ForgetDevice(r.Context(), c.account, r.PathValue("id"), a.sessionMeta(r))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("device")
	}
	if err != nil {
		return err
	}
	if r.PathValue("id") == c.session.DeviceID {
		a.clearSessionCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
