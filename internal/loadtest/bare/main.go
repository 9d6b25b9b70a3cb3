// Command bare is the reference for the introspection benchmark: a bare
// net/http server whose one handler decodes a small JSON body
// ({"token":"…"}) and answers from an in-memory map, with nothing else —
// no middleware, no authentication, no log, no metrics. It shows what this
// machine and load generator can do at best, so Warden's figure can be read
// as a ratio to it (scripts/bench-introspect.sh).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

type answer struct {
	Active    bool   `json:"active"`
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	tokens := flag.String("tokens", "", "file with one session token per line (the map's keys)")
	flag.Parse()
	known := map[string]answer{}
	if *tokens != "" {
		f, err := os.Open(*tokens)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sc := bufio.NewScanner(f)
		for i := 0; sc.Scan(); i++ {
			known[sc.Text()] = answer{Active: true, UserID: fmt.Sprintf("usr_%026d", i),
				SessionID: fmt.Sprintf("ses_%026d", i), ExpiresAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		}
		f.Close()
	}
	http.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(known[req.Token])
	})
	fmt.Fprintf(os.Stderr, "bare reference on %s with %d tokens\n", *addr, len(known))
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
