package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/browsertest"
)

const script = `document.getElementById("go").addEventListener("click", function () {
  document.getElementById("out").textContent = "clicked " + document.getElementById("name").value;
});
console.error("logged on purpose");
`

func testServer(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>t</title></head><body>`+body+`</body></html>`)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<h1>  Start  </h1><a id="next" href="/next?x=1">next</a>`)
	})
	mux.HandleFunc("GET /next", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<h1>Next</h1><label for="name">Name</label><input id="name">
			<button id="go" type="button">Go</button><p id="out"></p><script src="/app.js"></script>`)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, script)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return browsertest.LocalURL(srv.URL)
}

func TestHelpers(t *testing.T) {
	b := browsertest.New(t)
	base := testServer(t)

	if status := b.Navigate(base + "/"); status != 200 {
		t.Errorf("status %d, want 200", status)
	}
	if got := b.Text("h1"); got != "Start" {
		t.Errorf("Text(h1) = %q, want trimmed %q", got, "Start")
	}
	if status := b.ClickNavigate("#next"); status != 200 {
		t.Errorf("ClickNavigate status %d", status)
	}
	if got := b.URL(); got != base+"/next?x=1" {
		t.Errorf("URL() = %q", got)
	}
	if got := b.Text("h1"); got != "Next" {
		t.Errorf("after navigation h1 = %q", got)
	}
	b.SendKeys("#name", "Ada")
	b.Click("#go")
	b.WaitVisible("#out")
	if got := b.Text("#out"); got != "clicked Ada" {
		t.Errorf("#out = %q", got)
	}
	if got := browsertest.Eval[int](b, "1 + 2"); got != 3 {
		t.Errorf("Eval = %d", got)
	}
	b.SetViewport(390, 844)
	if w := browsertest.Eval[int](b, "window.innerWidth"); w != 390 {
		t.Errorf("innerWidth = %d after SetViewport(390, …)", w)
	}
	b.SetColorScheme("dark")
	if !browsertest.Eval[bool](b, "matchMedia('(prefers-color-scheme: dark)').matches") {
		t.Error("SetColorScheme(dark) not seen by the page")
	}
	if status := b.Navigate(base + "/missing"); status != 404 {
		t.Errorf("status %d, want 404", status)
	}
	errs := strings.Join(b.ConsoleErrors(), "\n")
	if !strings.Contains(errs, "logged on purpose") || !strings.Contains(errs, "404") {
		t.Errorf("ConsoleErrors = %q, want the console.error call and the 404", errs)
	}
	path := b.Screenshot("page")
	if data, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
		t.Errorf("screenshot %s is not a PNG (err %v)", path, err)
	}
}

// failingTB reports the test as failed, so New's cleanup takes a screenshot.
type failingTB struct {
	testing.TB
	mu   sync.Mutex
	logs []string
}

func (f *failingTB) Failed() bool { return true }

func (f *failingTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func TestScreenshotOnFailure(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(browsertest.ScreenshotsEnv, dir)
	base := testServer(t)
	ftb := &failingTB{TB: t}
	// Registered before New, so it runs after New's cleanups.
	t.Cleanup(func() {
		logs := strings.Join(ftb.logs, "\n")
		if !strings.Contains(logs, "screenshot of the page at failure ("+base+"/)") {
			t.Errorf("no failure screenshot logged; logs:\n%s", logs)
		}
		shots, _ := filepath.Glob(filepath.Join(dir, "*failure.png"))
		if len(shots) != 1 {
			t.Errorf("failure screenshots in %s: %v", dir, shots)
		}
	})
	b := browsertest.New(ftb)
	b.Navigate(base + "/")
}

func TestFindChromium(t *testing.T) {
	t.Setenv(browsertest.ChromiumEnv, "/opt/some/chrome")
	if got := browsertest.FindChromium(); got != "/opt/some/chrome" {
		t.Errorf("FindChromium() = %q, want the %s value", got, browsertest.ChromiumEnv)
	}
}

func TestLocalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:41234":   "http://localhost:41234",
		"http://[::1]:8080":        "http://localhost:8080",
		"https://127.0.0.1:9/path": "https://localhost:9/path",
	} {
		if got := browsertest.LocalURL(in); got != want {
			t.Errorf("LocalURL(%q) = %q, want %q", in, got, want)
		}
	}
}
