// Package browsertest drives a real headless Chromium from tests, through
// chromedp (v0.23 API: chromedp.Do for steps, chromedp.Run for one step with a
// result).
//
//	b := browsertest.New(t)
//	b.Navigate(srv.URL + "/dev/mailbox")
//	b.ClickNavigate(`a.subject`)
//	if got := b.Text("h1"); got != "Welcome" { t.Errorf(…) }
//
// The browser is found in $WARDEN_CHROMIUM, /usr/bin/chromium, or as
// chromium, chromium-browser, google-chrome on PATH. Without one the test is
// skipped, except under CI=true, where that fails it.
//
// Each test gets its own browser with a fresh profile, stopped when the test
// ends. When a test fails, a screenshot of the page is saved in
// $WARDEN_SCREENSHOTS (default: warden-screenshots in the system's temp
// folder, which outlives the test) and its path logged.
//
// The helpers fail the test (t.Fatal) on error, so call them from the test's
// goroutine. For anything else, run chromedp actions on b.Context().
//
// Serve pages on the host name localhost (not 127.0.0.1) when they need a
// secure context, such as WebAuthn: see LocalURL.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Environment variables read by the package.
const (
	// ChromiumEnv names the browser executable to use.
	ChromiumEnv = "WARDEN_CHROMIUM"
	// ScreenshotsEnv names a folder for screenshots; default: the test's temp folder.
	ScreenshotsEnv = "WARDEN_SCREENSHOTS"
)

const (
	// TestTimeout bounds the life of one test's browser.
	TestTimeout = 2 * time.Minute
	// StepTimeout bounds one helper call, such as waiting for a selector.
	StepTimeout = 15 * time.Second
)

// Browser is one headless Chromium with one tab, owned by one test.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []string // console errors and uncaught exceptions, in order
}

// FindChromium returns the path of the browser to use, or "" when none is installed.
func FindChromium() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserSlots bounds how many browsers the tests of one package run at once.
var browserSlots = make(chan struct{}, 2)

// New starts a headless browser for t and returns it once it runs. The
// browser is stopped, and its profile removed, when t ends.
func New(t testing.TB) *Browser {
	t.Helper()
	path := FindChromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium found (set %s, or install chromium): browser tests must run in CI", ChromiumEnv)
		}
		t.Skipf("no Chromium found (set %s, or install chromium): skipping the browser test", ChromiumEnv)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("browser %s: %v", path, err)
	}
	// Chromium is heavy: on a 2-core machine more than two at once, beside
	// the rest of a parallel suite, made single steps exceed StepTimeout.
	browserSlots <- struct{}{}
	t.Cleanup(func() { <-browserSlots })

	timeout := TestTimeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok && time.Until(end)-5*time.Second < timeout {
			timeout = max(time.Until(end)-5*time.Second, time.Second)
		}
	}
	base, cancelBase := context.WithTimeout(context.Background(), timeout)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
		// No user-data-dir flag: chromedp then makes a fresh temporary profile
		// for this browser and removes it when the browser has exited.
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, ctx: ctx}

	// Cleanups run last-in first-out: the failure screenshot is taken while
	// the browser still runs, then the browser is stopped and waited for.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the process to exit and its profile to go
		cancelBase()
	})
	// The first action starts the browser, bound to ctx (no step timeout here).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.console = append(b.console, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshotOnFailure()
		}
	})
	return b
}

// Context is the chromedp context of the tab, for actions the helpers do not
// cover. It ends when the test does (or after TestTimeout).
func (b *Browser) Context() context.Context { return b.ctx }

// step runs fn with a context bounded by StepTimeout.
func (b *Browser) step(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(b.ctx, StepTimeout)
	defer cancel()
	return fn(ctx)
}

// Navigate loads url, waits for the page's load event and returns the HTTP
// status of the document.
func (b *Browser) Navigate(url string) int {
	b.t.Helper()
	var status int64
	err := b.step(func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
		if resp != nil {
			status = resp.Status
		}
		return err
	})
	if err != nil {
		b.t.Fatalf("navigate to %s: %v", url, err)
	}
	return int(status)
}

// Click clicks the first visible element matching the CSS selector, waiting
// for it to appear. Use ClickNavigate when the click loads a new page.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	if err := b.step(func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector)))
	}); err != nil {
		b.t.Fatalf("click %s: %v", selector, err)
	}
}

// ClickNavigate clicks the first visible element matching the CSS selector
// and waits until the page it leads to has loaded; it returns that page's
// HTTP status.
func (b *Browser) ClickNavigate(selector string) int {
	b.t.Helper()
	var status int64
	err := b.step(func(ctx context.Context) error {
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
		if resp != nil {
			status = resp.Status
		}
		return err
	})
	if err != nil {
		b.t.Fatalf("click %s and wait for the next page: %v", selector, err)
	}
	return int(status)
}

// SendKeys types text into the first visible element matching the CSS selector.
func (b *Browser) SendKeys(selector, text string) {
	b.t.Helper()
	if err := b.step(func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(selector), text))
	}); err != nil {
		b.t.Fatalf("type into %s: %v", selector, err)
	}
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	if err := b.step(func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(selector)))
	}); err != nil {
		b.t.Fatalf("wait for %s to be visible: %v", selector, err)
	}
}

// Text returns the visible text of the first element matching the CSS
// selector, waiting for it to appear; surrounding space is trimmed.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	var text string
	err := b.step(func(ctx context.Context) (err error) {
		text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
		return err
	})
	if err != nil {
		b.t.Fatalf("text of %s: %v", selector, err)
	}
	return strings.TrimSpace(text)
}

// URL returns the address of the current page.
func (b *Browser) URL() string {
	b.t.Helper()
	var loc string
	err := b.step(func(ctx context.Context) (err error) {
		loc, err = chromedp.Run(ctx, chromedp.Location())
		return err
	})
	if err != nil {
		b.t.Fatalf("current URL: %v", err)
	}
	return loc
}

// Eval evaluates a JavaScript expression in the page and decodes its result into T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	var v T
	err := b.step(func(ctx context.Context) (err error) {
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		return err
	})
	if err != nil {
		b.t.Fatalf("evaluate %q: %v", expr, err)
	}
	return v
}

// SetViewport sets the size of the page's viewport in CSS pixels, such as
// 390×844 for a phone. Pages with width=device-width then lay out for it.
func (b *Browser) SetViewport(width, height int) {
	b.t.Helper()
	if err := b.step(func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
	}); err != nil {
		b.t.Fatalf("set viewport %dx%d: %v", width, height, err)
	}
}

// SetColorScheme makes the page see prefers-color-scheme as "light" or
// "dark"; "" ends the override.
func (b *Browser) SetColorScheme(scheme string) {
	b.t.Helper()
	var features []*emulation.MediaFeature
	if scheme != "" {
		features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if err := b.step(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	}); err != nil {
		b.t.Fatalf("set color scheme %q: %v", scheme, err)
	}
}

// ConsoleErrors returns the console errors and uncaught exceptions the pages
// logged so far, such as resources refused by the Content-Security-Policy.
func (b *Browser) ConsoleErrors() []string {
	// Let events already sent by the browser reach the collector.
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Screenshot saves a PNG of the whole page in $WARDEN_SCREENSHOTS (or the
// test's temp folder, deleted when the test ends), named after the test and
// name; it logs the path and returns it.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		dir = b.t.TempDir()
	}
	path, err := b.saveScreenshot(dir, name)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

func (b *Browser) screenshotOnFailure() {
	// Not t.TempDir: that is deleted when the test ends, and the picture is
	// needed afterwards.
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "warden-screenshots")
	}
	path, err := b.saveScreenshot(dir, "failure")
	if err != nil {
		b.t.Logf("no screenshot of the failure: %v", err)
		return
	}
	url := "(unknown)"
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		url = loc
	}
	b.t.Logf("screenshot of the page at failure (%s): %s", url, path)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (b *Browser) saveScreenshot(dir, name string) (string, error) {
	if b.ctx.Err() != nil {
		return "", errors.New("the browser is gone: " + b.ctx.Err().Error())
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	file := unsafeFileChars.ReplaceAllString(b.t.Name()+"-"+name, "_") + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// LocalURL rewrites the address of an httptest server (http://127.0.0.1:PORT)
// to use the host name localhost, which browsers treat as a secure context.
func LocalURL(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Host = "localhost:" + u.Port()
	return u.String()
}
