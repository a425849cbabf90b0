package e2e_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The metrics a real CoreDNS serves after a challenge lookup, scraped from
// /metrics: the `to` label takes only the Corefile's upstream or
// "authoritative" (knot, the zone's nameserver that discovery found, never
// shows by address), the decision and rcode of the reply are counted, and the
// lookup is logged at info level.
func TestMetricsOfAChallengeLookup(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := world.New(t, poisonOptions(t))
	resolver := w.UnboundT(t, true)
	for _, upstream := range []string{"recursive", "authoritative"} {
		t.Run(upstream, func(t *testing.T) {
			acme := world.Acme{To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30}
			wantTo := w.Knot.Addr.String()
			if upstream == "authoritative" {
				acme.To = []netip.AddrPort{resolver.Addr}
				acme.UpstreamMode = "authoritative"
				acme.AllowNS = []string{"127.0.0.0/8"}
				wantTo = "authoritative"
			}
			addr, metrics := world.Addr(t), world.Addr(t)
			block := "    prometheus " + metrics.String() + "\n" + acme.String()
			s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-metrics", Binary: bin, Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, block), Addr: addr})

			world.WantTXT(t, ask(t, digUDP, s, "_acme-challenge.example.com", "TXT"), poisonToken("example.com"))

			tries := world.ByLabel(metricSamples(t, metrics, "coredns_acmeforward_upstream_requests_total"), "to")
			if tries[wantTo] < 1 {
				t.Errorf("upstream_requests_total by to = %v, want %s", tries, wantTo)
			}
			allowed := map[string]bool{acme.To[0].String(): true, "authoritative": true}
			for _, name := range []string{
				"coredns_acmeforward_upstream_requests_total",
				"coredns_acmeforward_upstream_duration_seconds_count",
				"coredns_acmeforward_upstream_failures_total",
			} {
				for to := range world.ByLabel(metricSamples(t, metrics, name), "to") {
					if !allowed[to] {
						t.Errorf("%s has to=%q, want only the Corefile's upstream or authoritative", name, to)
					}
				}
			}
			lookups := sum(metricSamples(t, metrics, "coredns_acmeforward_discovery_lookups_total"))
			if (upstream == "authoritative") != (lookups > 0) {
				t.Errorf("discovery_lookups_total = %v in %s mode", lookups, upstream)
			}
			replies := metricSamples(t, metrics, "coredns_acmeforward_responses_total")
			if n := sumWhere(replies, `decision="challenge"`, `rcode="NOERROR"`); n != 1 {
				t.Errorf("responses_total{decision=challenge,rcode=NOERROR} = %v, want 1 (all: %v)", n, replies)
			}
			durations := metricSamples(t, metrics, "coredns_acmeforward_request_duration_seconds_count")
			if n := sumWhere(durations, `decision="challenge"`); n != 1 {
				t.Errorf("request_duration_seconds_count{decision=challenge} = %v, want 1", n)
			}

			line := "[INFO] plugin/acmeforward: _acme-challenge.example.com. TXT to=" + wantTo + " rcode=NOERROR duration="
			if log := s.Log(); !strings.Contains(log, line) {
				t.Errorf("the CoreDNS log has no line %q:\n%s", line, log)
			}
		})
	}
}

func sum(samples map[string]float64) float64 {
	var n float64
	for _, v := range samples {
		n += v
	}
	return n
}

// sumWhere sums the samples whose label set holds every one of labels.
func sumWhere(samples map[string]float64, labels ...string) float64 {
	var n float64
	for set, v := range samples {
		all := true
		for _, l := range labels {
			all = all && strings.Contains(set, l)
		}
		if all {
			n += v
		}
	}
	return n
}
