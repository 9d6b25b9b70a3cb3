package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docs/CONFIGURATION.md is rendered from the schema; it must be what the
// schema renders now.
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	t.Parallel()
	got, err := os.ReadFile("../../" + ReferencePath)
	if err != nil {
		t.Fatalf("%v: create it with `%s`", err, RegenerateCommand)
	}
	want := Reference()
	if string(got) == want {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("%s is out of date with internal/config/schema.go: regenerate it with `%s` (from the repository root).\nfirst difference, line %d:\n  file:   %q\n  schema: %q",
				ReferencePath, RegenerateCommand, i+1, g, w)
		}
	}
}

// Every key of the schema is in exactly one section of the reference, and
// the sections name no key the schema does not have.
func TestReferenceSectionsCoverTheSchema(t *testing.T) {
	t.Parallel()
	inSchema := map[string]bool{}
	for _, k := range Keys() {
		inSchema[k.Env] = true
	}
	seen := map[string]string{}
	for _, s := range sections {
		if s.Title == "" || len(s.Keys) == 0 {
			t.Errorf("section %q: needs a title and keys", s.Title)
		}
		for _, env := range s.Keys {
			if !inSchema[env] {
				t.Errorf("section %q lists %s, which is not in schema.go", s.Title, env)
			}
			if prev, dup := seen[env]; dup {
				t.Errorf("%s is in sections %q and %q", env, prev, s.Title)
			}
			seen[env] = s.Title
		}
	}
	for _, k := range Keys() {
		if _, ok := seen[k.Env]; !ok {
			t.Errorf("%s is in no section of the reference: add it to a section in internal/config/reference.go", k.Env)
		}
	}
	for env := range devNotes {
		if !inSchema[env] {
			t.Errorf("devNotes names %s, which is not in schema.go", env)
		}
	}
}

// The reference's rendering: each key once, with its YAML name, default,
// dev default and help.
func TestReferenceRendersEveryKey(t *testing.T) {
	t.Parallel()
	ref := Reference()
	for _, k := range Keys() {
		row := "| `" + k.Env + "` | `" + k.YAMLName() + "` | "
		if n := strings.Count(ref, row); n != 1 {
			t.Errorf("%s: %d rows, want 1", k.Env, n)
			continue
		}
		line := ref[strings.Index(ref, row):]
		line = line[:strings.IndexByte(line, '\n')]
		if k.Default != "" && !strings.Contains(line, code(k.Default)) {
			t.Errorf("%s: row %q lacks the default %q", k.Env, line, k.Default)
		}
		if k.DevDefault != "" && !strings.Contains(line, "(`--dev`: "+code(k.DevDefault)+")") {
			t.Errorf("%s: row %q lacks the dev default %q", k.Env, line, k.DevDefault)
		}
		if !strings.Contains(line, cell(k.Help)) {
			t.Errorf("%s: row %q lacks the help text", k.Env, line)
		}
	}
	if strings.Contains(ref, "## Other") {
		t.Error("the reference has an Other section: some keys are in no section")
	}
	for _, tc := range []struct{ in, want string }{
		{"plain", "`plain`"}, {"a`b", "``a`b``"}, {"`x", "`` `x ``"},
	} {
		if got := code(tc.in); got != tc.want {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := cell("a|b\nc"); got != `a\|b c` {
		t.Errorf("cell = %q", got)
	}
	if got := anchor("Login risk, devices and lockout"); got != "login-risk-devices-and-lockout" {
		t.Errorf("anchor = %q", got)
	}
}

// The YAML example of the reference is a valid configuration file.
func TestReferenceExampleLoads(t *testing.T) {
	t.Parallel()
	c, err := Load(Source{LookupEnv: env(), YAML: []byte(referenceExample)}, false)
	if err != nil {
		t.Fatalf("the reference's example does not load: %v", err)
	}
	if c.Addr != "0.0.0.0:8080" || c.BaseURL != "https://security.example.com" || len(c.TrustedProxies) != 2 ||
		len(c.VerificationTiers) != 3 || c.AddressHold.Hours() != 48 {
		t.Errorf("example loaded as %+v", c)
	}
}

// The dev note of WARDEN_BASE_URL says what Load does.
func TestReferenceDevBaseURL(t *testing.T) {
	t.Parallel()
	c, err := Load(Source{LookupEnv: env("WARDEN_ADDR", "127.0.0.1:9123")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://localhost:9123" {
		t.Errorf("dev BaseURL = %s; update devNotes in reference.go if this changed", c.BaseURL)
	}
}

// --- docs/INTEGRATION.md against the served OpenAPI document ---

// openAPIOperations reads the paths of internal/httpapi/openapi.yaml with
// their methods (upper case).
func openAPIOperations(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../httpapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string][]string{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
				ops[path] = append(ops[path], strings.ToUpper(method))
			}
		}
	}
	if len(ops) < 50 {
		t.Fatalf("openapi.yaml has %d paths: not parsed right", len(ops))
	}
	return ops
}

// matchPath finds the OpenAPI path a path written in the guide means:
// literal segments must be equal; a template segment ({id}) matches any
// segment ({id}, $SHELL_VAR, wdr_…). Literal matches are preferred.
func matchPath(ops map[string][]string, path string) (string, bool) {
	if _, ok := ops[path]; ok {
		return path, true
	}
	segs := strings.Split(path, "/")
	var found []string
	for p := range ops {
		ps := strings.Split(p, "/")
		if len(ps) != len(segs) {
			continue
		}
		ok := true
		for i := range ps {
			if ps[i] != segs[i] && !strings.HasPrefix(ps[i], "{") {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return "", false
	}
	// The most literal match: fewest template segments.
	slices.SortFunc(found, func(a, b string) int { return strings.Count(a, "{") - strings.Count(b, "{") })
	return found[0], true
}

var (
	// A path of the API: /v1/… or /admin/v1/…, up to a character that
	// cannot be in one.
	apiPath = regexp.MustCompile(`(?:/admin)?/v1/[A-Za-z0-9_\-{}$.…/]*`)
	// A method and a path in prose: `POST /v1/sessions`.
	methodPath = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE) ((?:/admin)?/v1/[A-Za-z0-9_\-{}$.…/]*)`)
	curlMethod = regexp.MustCompile(`-X ([A-Z]+)`)
)

func cleanPath(p string) string {
	return strings.TrimRight(p, "./")
}

// Every API path the integration guide mentions exists in the OpenAPI
// document, and with the method the guide uses.
func TestIntegrationGuideMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/INTEGRATION.md")
	if err != nil {
		t.Fatal(err)
	}
	guide := string(b)
	ops := openAPIOperations(t)

	checked := 0
	check := func(where, method, path string) {
		checked++
		p, ok := matchPath(ops, path)
		if !ok {
			t.Errorf("docs/INTEGRATION.md %s: %s is not a path of internal/httpapi/openapi.yaml", where, path)
			return
		}
		if method != "" && !slices.Contains(ops[p], method) {
			t.Errorf("docs/INTEGRATION.md %s: %s %s: %s has only %v", where, method, path, p, ops[p])
		}
	}

	// Every path, with or without a method.
	for _, m := range apiPath.FindAllString(guide, -1) {
		check("mentions", "", cleanPath(m))
	}
	// Methods named in prose.
	for _, m := range methodPath.FindAllStringSubmatch(guide, -1) {
		check("names", m[1], cleanPath(m[2]))
	}
	// curl commands, continuation lines joined.
	joined := strings.ReplaceAll(guide, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		i := strings.Index(line, "curl ")
		if i < 0 {
			continue
		}
		cmd := line[i:]
		loc := apiPath.FindStringIndex(cmd)
		if loc == nil {
			continue
		}
		method := "GET"
		if m := curlMethod.FindStringSubmatch(cmd); m != nil {
			method = m[1]
		} else if strings.Contains(cmd, " -d ") || strings.Contains(cmd, " -F ") || strings.Contains(cmd, "--data") {
			method = "POST"
		}
		check("runs curl", method, cleanPath(cmd[loc[0]:loc[1]]))
	}
	if checked < 40 {
		t.Errorf("only %d paths checked: the patterns no longer find the guide's paths", checked)
	}
}

// The refusal codes the guide's tables explain are codes of the API.
func TestIntegrationGuideCodesExist(t *testing.T) {
	t.Parallel()
	guide, err := os.ReadFile("../../docs/INTEGRATION.md")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../httpapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\|")
	rows := row.FindAllStringSubmatch(string(guide), -1)
	if len(rows) < 15 {
		t.Fatalf("found %d code rows in the guide's tables", len(rows))
	}
	for _, r := range rows {
		if !strings.Contains(string(spec), "`"+r[1]+"`") && !strings.Contains(string(spec), r[1]+",") {
			t.Errorf("docs/INTEGRATION.md explains code %s, which internal/httpapi/openapi.yaml does not name", r[1])
		}
	}
}
