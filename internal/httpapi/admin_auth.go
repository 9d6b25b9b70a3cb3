package httpapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/store"
)

// bootstrapKeyID names the WARDEN_ADMIN_KEY key in audit records.
const bootstrapKeyID = "key_bootstrap"

// authenticateAdmin checks the Bearer admin key and that it holds scope.
func (a *API) authenticateAdmin(r *http.Request, scope string) (adminkey.Key, *Problem) {
	unauthenticated := func(detail string) *Problem {
		return NewProblem(http.StatusUnauthorized, "unauthenticated", detail)
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return adminkey.Key{}, unauthenticated("send an admin API key as Authorization: Bearer wdn_…")
	}
	token = strings.TrimSpace(token)
	var key adminkey.Key
	switch {
	case a.BootstrapAdminKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.BootstrapAdminKey)) == 1:
		key = adminkey.Key{ID: bootstrapKeyID, Name: "WARDEN_ADMIN_KEY", Scopes: adminkey.Scopes}
	case adminkey.LooksLikeKey(token):
		found, err := a.Store.AdminKeyByHash(r.Context(), adminkey.Hash(token))
		if errors.Is(err, store.ErrNotFound) {
			return adminkey.Key{}, unauthenticated("the admin API key is unknown or revoked")
		}
		if err != nil {
			a.Log.ErrorContext(r.Context(), "admin key lookup", "request_id", requestID(r.Context()), "error", err)
			return adminkey.Key{}, errInternal()
		}
		key = found
	default:
		return adminkey.Key{}, unauthenticated("the admin API key is unknown or revoked")
	}
	if !key.Allows(scope) {
		return adminkey.Key{}, NewProblem(http.StatusForbidden, "insufficient_scope",
			"this admin API key lacks the scope "+scope).With("required_scope", scope)
	}
	return key, nil
}

// adminActor names the admin key acting on this request, for audit records.
func adminActor(r *http.Request) string {
	key, _ := r.Context().Value(adminKeyCtx{}).(adminkey.Key)
	return "admin_key:" + key.ID
}
