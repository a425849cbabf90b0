package acmeforward

import (
	"errors"
	"sync"

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

	droppedReplyCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "dropped_replies_total",
		Help:      "Counter of UDP messages that were no reply to the query of their try (forged, stale or stray), dropped while the try kept waiting, by reason (id_mismatch, question_mismatch, not_a_response, source_mismatch, late).",
	}, []string{"server", "reason"})

	sharedAnswerCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "shared_answers_total",
		Help:      "Counter of queries answered from the exchange of an identical question already in flight (same name, type, class, DO and CD), without an upstream exchange of their own.",
	}, []string{"server"})

	maxConcurrentRejectCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "max_concurrent_rejects_total",
		Help:      "Counter of queries answered REFUSED because max_concurrent exchanges were in flight.",
	}, []string{"server"})

	prefetchCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "prefetch_lookups_total",
		Help:      "Counter of the prefetch's lookups (NS of the listed and delegated zones, their nameservers' addresses), by result (ok, or the upstream failure reason).",
	}, []string{"server", "result"})

	upstreamDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_duration_seconds",
		Help:      "Histogram of the time each upstream try took, from sending the query to its outcome.",
		Buckets:   prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25ms .. ~8s
	}, []string{"server", "to"})
)

// Drop reasons, the values of dropped_replies_total's "reason" label.
const (
	dropIDMismatch       = "id_mismatch"
	dropQuestionMismatch = "question_mismatch"
	dropNotAResponse     = "not_a_response"
	dropSourceMismatch   = "source_mismatch"
	dropLate             = "late"
)

// unsolicited reports whether err is the core's word that a message was no
// reply to the query of its try (over UDP the try keeps waiting), with the
// drop reason.
func unsolicited(err error) (string, bool) {
	var ce *Error
	if !errors.As(err, &ce) {
		return "", false
	}
	switch ce.Code {
	case resultIDMismatch:
		return dropIDMismatch, true
	case resultQuestionMismatch:
		return dropQuestionMismatch, true
	case resultNotAResponse, resultOpcodeMismatch:
		return dropNotAResponse, true
	}
	return "", false
}

// isLate reports whether err is the core's word that a reply came after its
// try's deadline.
func isLate(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Code == resultReplyLate
}

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

// refusedDesc is the counter of facts from upstream replies that the core's
// rules refused, by reason (the core's labels: protected, out_of_bailiwick,
// internal_name, internal_lookup_failed, address_policy, limit).
var refusedDesc = prometheus.NewDesc(
	prometheus.BuildFQName(plugin.Namespace, "acmeforward", "refused_facts_total"),
	"Counter of facts from upstream replies (CNAME targets, nameserver hosts and addresses) that the rules on public data refused, by reason.",
	[]string{"server", "reason"}, nil)

// refusals reads the core's counters at scrape time: the engines alive now
// (one per server block), plus what engines already shut down had counted
// (so the counter never goes back on a reload).
type refusals struct {
	mu      sync.Mutex
	live    map[*Engine]string // engine -> server label
	retired map[string][]uint64
}

var refused = &refusals{live: map[*Engine]string{}, retired: map[string][]uint64{}}

func init() { prometheus.MustRegister(refused) }

// add starts reporting an engine's counters under server.
func (r *refusals) add(e *Engine, server string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[e] = server
}

// retire keeps an engine's final counts; call it before closing the engine.
func (r *refusals) retire(e *Engine) {
	counts := e.Refused()
	r.mu.Lock()
	defer r.mu.Unlock()
	server, ok := r.live[e]
	if !ok {
		return
	}
	delete(r.live, e)
	r.retired[server] = addCounts(r.retired[server], counts)
}

func addCounts(into, from []uint64) []uint64 {
	if into == nil {
		into = make([]uint64, len(refusalReasons))
	}
	for i := range min(len(into), len(from)) {
		into[i] += from[i]
	}
	return into
}

// Describe implements prometheus.Collector.
func (r *refusals) Describe(ch chan<- *prometheus.Desc) { ch <- refusedDesc }

// Collect implements prometheus.Collector.
func (r *refusals) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	totals := map[string][]uint64{}
	for server, counts := range r.retired {
		totals[server] = addCounts(nil, counts)
	}
	live := make(map[*Engine]string, len(r.live))
	for e, server := range r.live {
		live[e] = server
	}
	r.mu.Unlock()
	for e, server := range live {
		totals[server] = addCounts(totals[server], e.Refused())
	}
	for server, counts := range totals {
		for i, reason := range refusalReasons {
			ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(counts[i]), server, reason)
		}
	}
}
