package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series Warden exports. Each server has its own
// registry: nothing global, so tests and several servers in one process do
// not collide.
type Metrics struct {
	Registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
}

// NewMetrics registers Warden's series; outboxDepth, if given, is asked for
// the queue's depth at each scrape.
func NewMetrics(outboxDepth func() (pending, dead float64)) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warden_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_outbox_deliveries_total", Help: "Outbox delivery attempts by kind and outcome (delivered, retry, dead).",
		}, []string{"kind", "outcome"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if outboxDepth != nil {
		m.Registry.MustRegister(&depthCollector{depth: outboxDepth, desc: prometheus.NewDesc(
			"warden_outbox_depth", "Messages in the outbox by status (pending, dead).", []string{"status"}, nil)})
	}
	return m
}

// WatchSessionCache exports whether the session cache is trusted (1) or off
// because the revocation channel between nodes is down (0).
func (m *Metrics) WatchSessionCache(enabled func() bool) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "warden_session_cache_enabled",
		Help: "1 while the session cache is in use; 0 while the revocation channel between nodes is down.",
	}, func() float64 {
		if enabled() {
			return 1
		}
		return 0
	}))
}

// ObserveDelivery counts one outbox delivery attempt; the outbox worker calls it.
func (m *Metrics) ObserveDelivery(kind, outcome string) {
	m.deliveries.WithLabelValues(kind, outcome).Inc()
}

func (m *Metrics) observeRequest(method, route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(elapsed.Seconds())
}

type depthCollector struct {
	depth func() (pending, dead float64)
	desc  *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	pending, dead := c.depth()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, pending, "pending")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, dead, "dead")
}

func (a *API) metrics(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func logLevelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
