package servertest

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify/smtptest"
)

// Process is a `warden serve` running as a process of its own, built from
// this module's cmd/warden: what "two warden serve processes on one
// PostgreSQL" means, with nothing shared with the test but the database and
// the mail server.
type Process struct {
	// Base is its URL, such as http://127.0.0.1:41234.
	Base string
}

// built is the warden binary, built once per test binary.
var built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// wardenBinary builds cmd/warden into a directory that outlives the tests
// that use it (the test binary's temporary directory would not be shared).
func wardenBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "warden-servertest-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "warden")
		cmd := exec.Command("go", "build", "-o", built.path, "github.com/wardenhq/warden/cmd/warden")
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build cmd/warden: %v\n%s", built.err, built.out)
	}
	return built.path
}

// StartProcess runs `warden serve` as a process on dbURL until the test
// ends, configured as Start configures a node (Env, then overrides), its
// mail going to mail. It returns once the process answers /healthz.
func StartProcess(t testing.TB, dbURL, adminKey string, mail *smtptest.Server, overrides map[string]string) *Process {
	t.Helper()
	bin := wardenBinary(t)
	if mail == nil {
		mail = smtptest.Start(t)
	}
	env := Env(dbURL, adminKey, mail)
	for k, v := range overrides {
		env[k] = v
	}
	addr := freeAddr(t)
	env["WARDEN_ADDR"] = addr
	cmd := exec.Command(bin, "serve")
	// Only the test's settings and what a process needs to run: nothing
	// from the environment the tests run in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var output lockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("warden serve exited before answering: %v\n%s", err, output.String())
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Process{Base: base}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("warden serve did not answer /healthz within 30 s\n%s", output.String())
		}
	}
}

// freeAddr is a loopback address with a port free a moment ago: the
// process must be told its port before it starts.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// lockedBuffer is the process's output, written by exec's copying
// goroutines while a failing test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
