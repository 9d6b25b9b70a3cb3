package logging

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer lets the test read what the flusher goroutine wrote.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestBufferedWriterBatchesAndFlushes(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, 20*time.Millisecond)
	for range 100 {
		if _, err := w.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(out.String(), "line\n") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("after the interval only %q was written", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes > 5 {
		t.Errorf("100 lines took %d writes; they should be batched", writes)
	}
	if _, err := w.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "last\n") {
		t.Errorf("Close did not write the last line: %q", out.String())
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A line longer than what is left in the buffer is not split across two writes.
func TestBufferedWriterKeepsLinesWhole(t *testing.T) {
	t.Parallel()
	out := &lockedBuffer{}
	w := NewBufferedWriter(out, time.Hour)
	defer w.Close()
	first := strings.Repeat("a", 60<<10) + "\n"
	second := strings.Repeat("b", 8<<10) + "\n"
	_, _ = w.Write([]byte(first))
	_, _ = w.Write([]byte(second))
	if got := out.String(); got != first {
		t.Fatalf("before the second line was buffered, wrote %d bytes, want exactly the first line (%d)", len(got), len(first))
	}
}
