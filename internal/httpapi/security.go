package httpapi

import (
	"net/http"

	"github.com/wardenhq/warden/internal/securitycenter"
)

// getSecurity is the security center: the checklist of what protects the
// account, each item with its live state and the page that fixes it, and
// the level it adds up to (package securitycenter, as the pages show it).
func (a *API) getSecurity(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	acct, err := a.freshAccount(r.Context())
	if err != nil {
		return err
	}
	src := securitycenter.Sources{Factors: a.MFA, Devices: a.Sessions}
	if a.Withdrawals != nil {
		src.Withdrawals, src.Tiers = a.Withdrawals, a.Withdrawals.Tiers
	}
	if a.Verification != nil {
		src.Tiers = a.Verification.Policy.Tiers
	}
	rep, err := securitycenter.Check(r.Context(), src, acct, c.session.DeviceID, a.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
