// Command argon measures bare Argon2id on this machine: G goroutines each
// calling golang.org/x/crypto/argon2.IDKey in a loop for a fixed time, with
// the parameters Warden would use (32-byte key, 16-byte salt, one lane). It
// prints the rate and the CPU time one hash costs (getrusage of this process
// over the run), the two references of the login benchmarks
// (scripts/bench-login.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"
)

func main() {
	memory := flag.Uint("memory", 19456, "memory per hash, KiB")
	iterations := flag.Uint("iterations", 2, "iterations")
	goroutines := flag.Int("goroutines", 2, "hashes at once")
	duration := flag.Duration("duration", 10*time.Second, "how long to hash")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *duration <= 0 || *duration > 10*time.Minute || *goroutines < 1 || *goroutines > 64 {
		fmt.Fprintln(os.Stderr, "argon: duration must be in (0, 10m], goroutines in [1, 64]")
		os.Exit(2)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "argon:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "argon:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	password, salt := []byte("loadtest correct horse battery"), []byte("0123456789abcdef")
	var hashes atomic.Int64
	cpu0 := cpuSeconds()
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	for range *goroutines {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				argon2.IDKey(password, salt, uint32(*iterations), uint32(*memory), 1, 32)
				hashes.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	n := hashes.Load()
	fmt.Printf("argon m=%d t=%d goroutines=%d hashes %d seconds %.2f rate %.1f cpu_ms_per_hash %.2f\n",
		*memory, *iterations, *goroutines, n, elapsed, float64(n)/elapsed, 1000*cpu/float64(n))
}

// cpuSeconds is the user and system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
