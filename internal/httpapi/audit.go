package httpapi

import (
	"net/http"
	"strconv"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/store"
)

// pageParams reads ?limit= and ?cursor= for newest-first listings.
func pageParams(r *http.Request) (limit int, before *store.Cursor, p *Problem) {
	var fe fieldErrors
	limit = 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.add("limit", "out_of_range", "must be a whole number from 1 to 500")
		}
		limit = n
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		c, err := store.ParseCursor(v)
		if err != nil {
			fe.add("cursor", "invalid", "use the next_cursor of a previous answer")
		}
		before = &c
	}
	return limit, before, fe.problem()
}

// cutPage turns the limit+1 rows a listing asked for into a page of at most
// limit and the cursor of the next page ("" when this is the last one).
func cutPage[T any](rows []T, limit int, position func(T) store.Cursor) ([]T, string) {
	if rows == nil {
		rows = []T{} // an empty page is [], not null
	}
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, position(rows[limit-1]).String()
}

type auditPage struct {
	Records    []audit.Record `json:"records"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	limit, before, p := pageParams(r)
	if p != nil {
		return p
	}
	q := r.URL.Query()
	var records []audit.Record
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		records, err = tx.ListAuditRecords(r.Context(), store.AuditFilter{
			UserID: q.Get("user_id"), Action: q.Get("type"), Before: before, Limit: limit + 1,
		})
		return err
	})
	if err != nil {
		return err
	}
	var page auditPage
	page.Records, page.NextCursor = cutPage(records, limit, func(r audit.Record) store.Cursor {
		return store.Cursor{At: r.OccurredAt, ID: r.ID}
	})
	writeJSON(w, http.StatusOK, page)
	return nil
}

type auditVerification struct {
	OK bool `json:"ok"`
	audit.Report
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	var rep audit.Report
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		rep, err = audit.Verify(r.Context(), tx, a.Keys)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, auditVerification{OK: rep.Broken == nil, Report: rep})
	return nil
}
