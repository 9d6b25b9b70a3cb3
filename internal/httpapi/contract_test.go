package httpapi_test

import (
	"strings"
	"testing"
)

// Tests of points where the API must match API.md, the binding contract.

// API.md lists GET/POST/DELETE /admin/v1/webhooks: DELETE with ?id= removes
// the endpoint and answers as DELETE /admin/v1/webhooks/{id} does.
func TestWebhookDeleteByQueryAnswersAsByPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	create := func() string {
		t.Helper()
		r := f.do(t, "POST", "/admin/v1/webhooks", bootstrapKey, "application/json",
			[]byte(`{"url": "https://payouts.example/hooks", "event_types": ["*"]}`))
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	listed := func() int {
		t.Helper()
		return len(f.do(t, "GET", "/admin/v1/webhooks", bootstrapKey, "", nil).json(t)["endpoints"].([]any))
	}
	byQuery, byPath := create(), create()

	// Who may: the scope of the {id} form, webhooks:write.
	reader := adminKeyWith(t, f.store, "audit:read")
	for _, path := range []string{"/admin/v1/webhooks?id=" + byQuery, "/admin/v1/webhooks/" + byQuery} {
		expectProblem(t, f.do(t, "DELETE", path, "", "", nil), 401, "unauthenticated")
		if p := expectProblem(t, f.do(t, "DELETE", path, reader, "", nil), 403, "insufficient_scope"); p["required_scope"] != "webhooks:write" {
			t.Fatalf("DELETE %s: %v", path, p)
		}
	}
	if n := listed(); n != 2 {
		t.Fatalf("refused deletes removed endpoints: %d left", n)
	}

	// Without an id: validation_failed on field id.
	for _, path := range []string{"/admin/v1/webhooks", "/admin/v1/webhooks?id=", "/admin/v1/webhooks?other=" + byQuery} {
		p := expectProblem(t, f.do(t, "DELETE", path, bootstrapKey, "", nil), 400, "validation_failed")
		errs, _ := p["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != "id" || errs[0].(map[string]any)["code"] != "required" {
			t.Fatalf("DELETE %s: errors %v, want one for field id", path, p["errors"])
		}
	}

	// Both forms: 204, then 404 for the same id, and an unknown id is 404.
	for _, path := range []string{"/admin/v1/webhooks?id=" + byQuery, "/admin/v1/webhooks/" + byPath} {
		if r := f.do(t, "DELETE", path, bootstrapKey, "", nil); r.status != 204 || len(r.body) != 0 {
			t.Fatalf("DELETE %s: %d %s", path, r.status, r.body)
		}
		expectProblem(t, f.do(t, "DELETE", path, bootstrapKey, "", nil), 404, "not_found")
	}
	expectProblem(t, f.do(t, "DELETE", "/admin/v1/webhooks?id=whe_nothing", bootstrapKey, "", nil), 404, "not_found")
	if n := listed(); n != 0 {
		t.Fatalf("%d endpoints left after deleting both", n)
	}

	// Each removal is audited alike, by the key that made it.
	records := f.do(t, "GET", "/admin/v1/audit?type=webhook.endpoint_deleted", bootstrapKey, "", nil).json(t)["records"].([]any)
	seen := map[string]bool{}
	for _, rec := range records {
		m := rec.(map[string]any)
		data, _ := m["data"].(map[string]any)
		if m["actor"] != "admin_key:key_bootstrap" {
			t.Errorf("audit record by %v", m["actor"])
		}
		if data != nil {
			id, _ := data["endpoint_id"].(string)
			seen[id] = true
		}
	}
	if len(records) != 2 || !seen[byQuery] || !seen[byPath] {
		t.Fatalf("audit records of the deletions: %v", records)
	}

	// The path now answers DELETE; other methods still learn what it has.
	r := f.do(t, "PUT", "/admin/v1/webhooks", bootstrapKey, "application/json", []byte(`{}`))
	expectProblem(t, r, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "DELETE") {
		t.Fatalf("Allow = %q, want DELETE among the methods", allow)
	}
}
