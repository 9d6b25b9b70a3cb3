package httpapi_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/httpapi"
)

// The OpenAPI document and the route table must agree: every route is
// documented, and nothing is documented that is not routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw, err := httpapi.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	for _, rt := range f.api.Routes() {
		routed[rt.Method+" "+rt.Path] = true
	}
	for op := range routed {
		if !documented[op] {
			t.Errorf("route %s is not documented in openapi.yaml", op)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("openapi.yaml documents %s, which is not routed", op)
		}
	}
	// Each admin operation declares the scope its route requires.
	var full struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	_ = json.Unmarshal(raw, &full)
	for _, rt := range f.api.Routes() {
		op := full.Paths[rt.Path][strings.ToLower(rt.Method)]
		var scopes []string
		for _, s := range op.Security {
			scopes = append(scopes, s["adminKey"]...)
		}
		if rt.Scope != "" && !slices.Contains(scopes, rt.Scope) {
			t.Errorf("%s %s requires %s but the document says %v", rt.Method, rt.Path, rt.Scope, scopes)
		}
	}
	// And the served document is this one.
	served := f.do(t, "GET", "/openapi.json", "", "", nil)
	if served.status != 200 || !regexp.MustCompile(`"openapi":"3\.1\.0"`).Match(served.body) {
		t.Fatalf("GET /openapi.json: %d", served.status)
	}
}
