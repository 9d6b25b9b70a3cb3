package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// Issue 8's ingest target: at least 10,000 events/s sustained through the
// batch API with the default rules active, on SQLite on this 2-core
// machine, PostgreSQL beside it. A real server (HTTP, admin key, JSON,
// validation, the store) takes 1,000-event batches from two clients while
// its evaluation loop runs the default rules; the test reports the ingest
// rate and how long the evaluation took to catch up.
//
// By default 10 batches (a smoke test); the measurement:
//
//	WARDEN_BENCH_INGEST_BATCHES=200 go test ./internal/httpapi -run TestEventIngestThroughput -v -count 1
func TestEventIngestThroughput(t *testing.T) {
	batches := 10
	if v := os.Getenv("WARDEN_BENCH_INGEST_BATCHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		batches = n
	}
	// One database after the other, not servertest.EachDatabase's parallel
	// subtests: each measures the rate with the machine to itself.
	for name, open := range map[string]func(testing.TB, ...store.Option) (*store.Store, string){
		"sqlite": storetest.SQLiteURL, "postgres": storetest.PostgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			_, dbURL := open(t)
			n := startMonitoringNode(t, dbURL, nil)
			const users = 1000
			var sb strings.Builder
			sb.WriteString(`INSERT INTO accounts (id, realm, email, email_key, email_verified_at, password_hash, created_at) VALUES `)
			now := time.Now().UTC()
			for i := range users {
				if i > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "('usr_ingest%05d', 'user', 'i%d@example.com', 'i%d@example.com', 1, 'x', %d)", i, i, i, now.UnixMicro())
			}
			if err := n.store.ExecRaw(context.Background(), sb.String()); err != nil {
				t.Fatal(err)
			}
			bodies := make([][]byte, batches)
			for b := range bodies {
				events := make([]map[string]any, 1000)
				for i := range events {
					events[i] = map[string]any{"id": fmt.Sprintf("dep-%d-%d", b, i), "user_id": fmt.Sprintf("usr_ingest%05d", (b*1000+i)%users),
						"type": []string{"deposit", "trade", "transfer"}[i%3], "asset": "BTC", "amount": "0.015", "reference_value": "900.00",
						"occurred_at": now.Add(-time.Duration(i) * time.Second).Format(time.RFC3339), "attributes": map[string]any{"venue": "spot"}}
				}
				var err error
				if bodies[b], err = json.Marshal(map[string]any{"events": events}); err != nil {
					t.Fatal(err)
				}
			}
			jobs := make(chan []byte)
			var wg sync.WaitGroup
			start := time.Now()
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for body := range jobs {
						req, _ := http.NewRequest("POST", n.Base+"/admin/v1/events", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+kycAdminKey)
						req.Header.Set("Content-Type", "application/json")
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						var out struct{ Accepted int }
						_ = json.NewDecoder(res.Body).Decode(&out)
						res.Body.Close()
						if res.StatusCode != 200 || out.Accepted != 1000 {
							t.Errorf("batch: %d, accepted %d", res.StatusCode, out.Accepted)
						}
					}
				}()
			}
			for _, b := range bodies {
				jobs <- b
			}
			close(jobs)
			wg.Wait()
			ingest := time.Since(start)
			// The evaluation loop runs every half second: wait for the queue.
			for {
				var pending int
				if err := n.store.Read(context.Background(), func(tx *store.Tx) error {
					events, err := tx.PendingEvents(context.Background(), 1)
					pending = len(events)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if pending == 0 {
					break
				}
				if time.Since(start) > 10*time.Minute {
					t.Fatal("the evaluation did not catch up in 10 minutes")
				}
				time.Sleep(100 * time.Millisecond)
			}
			total := time.Since(start)
			t.Logf("%s: %d events through POST /admin/v1/events in %s: %.0f events/s; all evaluated %s after the first batch (%.0f events/s)",
				name, batches*1000, ingest.Round(time.Millisecond), float64(batches*1000)/ingest.Seconds(),
				total.Round(time.Millisecond), float64(batches*1000)/total.Seconds())
		})
	}
}
