// Package logging holds what the process's logs are written through.
package logging

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter batches log lines and writes them at most every interval
// (or when 64 KiB are waiting), so that a busy server does not pay one
// write(2) per access-log line; the benchmark in docs/BENCHMARKS.md put
// that syscall at a tenth of an introspection's cost. A line waits at most
// one interval, and Close writes what is left.
type BufferedWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewBufferedWriter starts flushing to w every interval until Close.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

// Write keeps p whole: slog hands over one complete line per call, and a
// line never straddles two writes to w unless it is longer than the buffer.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.buf.Available() && b.buf.Buffered() > 0 {
		if err := b.buf.Flush(); err != nil {
			return 0, err
		}
	}
	return b.buf.Write(p)
}

// Flush writes what is waiting.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close stops the timer and writes what is waiting. Writes after Close
// still work but wait for the next Flush or Close.
func (b *BufferedWriter) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
	}
	return b.Flush()
}

func (b *BufferedWriter) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}
