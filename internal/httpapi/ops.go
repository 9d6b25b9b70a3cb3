package httpapi

import (
	"context"
	"net/http"
	"time"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 only while the database answers, so a load balancer
// takes a node out when it cannot serve.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		a.Log.WarnContext(ctx, "readiness check failed", "error", err)
		writeProblem(w, NewProblem(http.StatusServiceUnavailable, "unavailable", "the database does not answer"))
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
