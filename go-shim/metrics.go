package acmeforward

import (
	"errors"

	"github.com/coredns/coredns/plugin"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics, registered the way CoreDNS v1.15's forward and cache plugins do
// (promauto into the default registry, which the prometheus plugin serves).
var (
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "requests_total",
		Help:      "Counter of ACME challenge queries forwarded to the external nameservers.",
	}, []string{"server"})

	upstreamRequestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_requests_total",
		Help:      "Counter of queries sent to each upstream, per transport (udp or tcp).",
	}, []string{"server", "to", "proto"})

	upstreamFailureCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_failures_total",
		Help:      "Counter of failed upstream tries, by reason (timeout, network, truncated, invalid_reply, upstream_error, not_authoritative).",
	}, []string{"server", "to", "reason"})

	servfailCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "servfail_total",
		Help:      "Counter of forwarded (or hairpin) queries answered with SERVFAIL (every upstream failed, the query could not be forwarded, or a hairpin target's lookup failed).",
	}, []string{"server"})

	hairpinAnswerCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "hairpin_answers_total",
		Help:      "Counter of A/AAAA questions for hairpin names answered with the hairpin target's addresses (NODATA included).",
	}, []string{"server"})

	learnedEntries = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "learned_entries",
		Help:      "Gauge of the entries in the learned state (nameserver host names, CNAME targets, zone nameservers), set after each forwarded query.",
	}, []string{"server"})

	upstreamDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_duration_seconds",
		Help:      "Histogram of the time each upstream try took, from sending the query to its outcome.",
		Buckets:   prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25ms .. ~8s
	}, []string{"server", "to"})
)

// Failure reasons, the values of upstream_failures_total's "reason" label.
const (
	reasonTimeout       = "timeout"
	reasonNetwork       = "network"
	reasonTruncated     = "truncated"
	reasonInvalidReply  = "invalid_reply"
	reasonUpstreamError = "upstream_error"
	reasonNotAuth       = "not_authoritative"
)

// failureReason maps an upstream try's error to a reason label. I/O errors are
// timeout or network; core results are mapped by code only: AFWD_TRUNCATED,
// AFWD_ERR_REPLY_UPSTREAM_FAILURE, AFWD_ERR_REPLY_NOT_AUTHORITATIVE, and every
// other code (the reply-validation range and the generic errors) as
// invalid_reply.
func failureReason(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		switch {
		case ce.Code == resultTruncated:
			return reasonTruncated
		case ce.Code == resultUpstreamFailure:
			return reasonUpstreamError
		case ce.Code == resultNotAuthoritative:
			return reasonNotAuth
		default:
			return reasonInvalidReply
		}
	}
	if isTimeout(err) {
		return reasonTimeout
	}
	return reasonNetwork
}
