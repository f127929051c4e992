package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.HistogramVec
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "touchpoint_http_request_duration_seconds",
			Help:    "HTTP requests by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route", "status"}),
		// No tenant label: /metrics is public, and a label would list every tenant id to
		// whoever can reach it. Per-tenant counts are in the tenant-scoped metrics API.
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "touchpoint_ingest_events_accepted_total",
			Help: "Events accepted at the HTTP edge and acknowledged by Kafka.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "touchpoint_ingest_events_rejected_total",
			Help: "Events rejected at the HTTP edge, by reason class.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.accepted, m.rejected)
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}
