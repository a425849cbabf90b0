package acmeforward

import (
	"errors"
	"sync"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/rcode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/miekg/dns"
)

// Metrics, registered the way CoreDNS v1.15's forward and cache plugins do
// (promauto into the default registry, which the prometheus plugin serves;
// durations in plugin.TimeBuckets). Every label takes a bounded set of
// values: "to" is a configured upstream or "authoritative" (upstreams.label),
// never an address found in DNS.
var (
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "requests_total",
		Help:      "Counter of the questions acmeforward takes, by decision (challenge, discovery, delegated, hairpin, other).",
	}, []string{"server", "decision"})

	suppressedLogCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "log_lines_suppressed_total",
		Help:      "Counter of the info lines of forwarded challenge lookups not written because more than 100 came in one second.",
	}, []string{"server"})

	responseCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "responses_total",
		Help:      "Counter of the replies acmeforward gave, by decision and rcode (SERVFAIL and REFUSED included).",
	}, []string{"server", "decision", "rcode"})

	requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:                   plugin.Namespace,
		Subsystem:                   "acmeforward",
		Name:                        "request_duration_seconds",
		Buckets:                     plugin.TimeBuckets,
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
		Help:                        "Histogram of the time acmeforward took to answer a question, every try and lookup included, by decision.",
	}, []string{"server", "decision"})

	upstreamRequestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_requests_total",
		Help:      "Counter of queries sent to each upstream (or to the zones' nameservers: authoritative), per transport (udp or tcp).",
	}, []string{"server", "to", "proto"})

	upstreamFailureCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "upstream_failures_total",
		Help:      "Counter of failed upstream tries, by reason (timeout, network, truncated, invalid_reply, upstream_error, not_authoritative).",
	}, []string{"server", "to", "reason"})

	invalidReplyCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "invalid_replies_total",
		Help:      "Counter of the upstream replies that validation rejected (the invalid_reply failures), by the core's reason (malformed, foreign_record, id_mismatch, question_mismatch, not_a_response, late, other).",
	}, []string{"server", "to", "reason"})

	discoveryLookupCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "acmeforward",
		Name:      "discovery_lookups_total",
		Help:      "Counter of the lookups (SOA, NS, nameserver addresses) sent to the to resolvers in authoritative mode to find a zone's nameservers; each is also a try in upstream_requests_total.",
	}, []string{"server"})

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
		Namespace:                   plugin.Namespace,
		Subsystem:                   "acmeforward",
		Name:                        "upstream_duration_seconds",
		Buckets:                     plugin.TimeBuckets,
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
		Help:                        "Histogram of the time each upstream try took, from sending the query to its outcome.",
	}, []string{"server", "to"})
)

// Decisions, the values of the "decision" label: which rule took the
// question, numbered as in docs/ARCHITECTURE.md.
const (
	decisionChallenge = "challenge" // rule 1
	decisionDiscovery = "discovery" // rules 2, 3 and 5: the propagation check's SOA, NS, A and AAAA
	decisionDelegated = "delegated" // rule 4: a delegated zone or a learned CNAME target
	decisionHairpin   = "hairpin"
	// decisionOther: a forward verdict whose classification names no rule
	// the shim knows; not expected, counted rather than dropped.
	decisionOther = "other"
)

// decisionOf is the decision label of a classification.
func decisionOf(c classification) string {
	if Verdict(c.verdict) == VerdictHairpin {
		return decisionHairpin
	}
	switch Rule(c.rule) {
	case RuleChallenge:
		return decisionChallenge
	case RuleDiscovery, RuleNSHost, RuleAncestor:
		return decisionDiscovery
	case RuleDelegated, RuleCNAMETarget:
		return decisionDelegated
	}
	return decisionOther
}

// toAuthoritative is the "to" label of every server that is not a
// configured upstream: a zone's nameserver found by discovery (authoritative
// mode), whose address DNS data chose.
const toAuthoritative = "authoritative"

// lookupLogLimit bounds report's info lines, over every server block of the
// process: they share its log.
var lookupLogLimit = &logLimiter{max: maxLookupLogLines}

// report counts the reply the client got (rc, as ServeDNS returns it) and how
// long it took, and logs a challenge lookup at info level (the check an
// operator wants to see), at most about maxLookupLogLines a second. upstream is the "to" label of the try that gave
// the answer (of the last try when none did), "shared" for an answer from an
// identical question's exchange, "-" when nothing was sent.
func report(server, decision string, q *dns.Question, rc int, upstream string, start time.Time) {
	d := time.Since(start)
	rcodeName := rcode.ToString(rc)
	responseCount.WithLabelValues(server, decision, rcodeName).Inc()
	requestDuration.WithLabelValues(server, decision).Observe(d.Seconds())
	if decision == decisionChallenge {
		if lookupLogLimit.allow(time.Now().Unix()) {
			log.Infof("%s %s to=%s rcode=%s duration=%s", q.Name, dns.TypeToString[q.Qtype], upstream, rcodeName, d)
		} else {
			suppressedLogCount.WithLabelValues(server).Inc()
		}
	}
}

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

// Reasons of invalid_replies_total besides those shared with dropped replies
// (id_mismatch, question_mismatch, not_a_response, late).
const (
	invalidMalformed        = "malformed"
	invalidForeignRecord    = "foreign_record"
	invalidNxdomainWithData = "nxdomain_with_data"
	invalidOther            = "other"
)

// invalidReason is the core's reason for an invalid_reply failure: the
// afwd_result of the reply's rejection, bounded.
func invalidReason(err error) string {
	var ce *Error
	if !errors.As(err, &ce) {
		return invalidOther
	}
	switch ce.Code {
	case resultMalformed:
		return invalidMalformed
	case resultForeignRecord:
		return invalidForeignRecord
	case resultNxdomainWithData:
		return invalidNxdomainWithData
	case resultReplyLate:
		return dropLate
	}
	if reason, ok := unsolicited(err); ok {
		// Over TCP (a stream holds no other reply) these end the try.
		return reason
	}
	return invalidOther
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
