package conformance_test

// Two CoreDNS replicas behind one Service address, as a cluster runs its DNS:
// kube-proxy spreads each query at random over the replicas, so the lookups
// of one propagation check land on both, and what one replica learned from a
// reply the other never saw. The real clients must pass on their first try
// every time.
//
// The whole world runs in a private network namespace (world.InNetns): the
// Service is iptables DNAT there (`-m statistic --mode random`, UDP and
// TCP), which must not touch the machine's own rules.

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// replicaTrials is how many times each client runs, each time against fresh
// replicas, and must pass on its first try.
const replicaTrials = 20

// replicaRow is one client in one configuration.
type replicaRow struct {
	client    string // "cert-manager" or "lego"
	check     cmMode // cert-manager's mode (lego: its default, authoritative check)
	ch        challenge
	upstream  string // "recursive" (`to` knot) or "authoritative" (`to` a caching resolver)
	legoCheck bool
}

func (r replicaRow) name() string {
	return fmt.Sprintf("%s/%s/%s/%s", r.client, r.check.name, r.ch.name, r.upstream)
}

var replicaRows = func() []replicaRow {
	var rows []replicaRow
	for _, up := range []string{"recursive", "authoritative"} {
		for _, m := range cmModes {
			rows = append(rows, replicaRow{client: "cert-manager", check: m, ch: apexChallenge, upstream: up})
		}
		rows = append(rows, replicaRow{client: "cert-manager", check: cmModes[1], ch: cnameChall, upstream: up})
		rows = append(rows, replicaRow{client: "lego", check: cmMode{name: legoAuthoritative.name}, ch: apexChallenge, upstream: up, legoCheck: true})
	}
	return rows
}()

// legoSeq numbers the lego trials' domains.
var legoSeq atomic.Int64

// replicaStats collects a row's trials.
type replicaStats struct {
	trials, passed int
	queries        [2]int // lookups logged by replica a and b
	both           int    // trials in which both replicas were asked
	failures       map[string]int
}

// Each client of replicaRows, replicaTrials times, through two fresh
// replicas behind a Service; a table of the outcomes, and a failure unless
// every trial passed and both replicas were asked.
func TestReplicas(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	if !world.InNetns(t, 8*time.Minute, []string{envChecker + "=" + checker(t)}, "-test.parallel=10") {
		return
	}
	bin := world.CoreDNSBinary(t)
	w := world.New(t, conformanceOptions(t))
	caching := w.UnboundT(t, false)
	pebble := w.PebbleT(t, w.Knot.Addr)
	blocks := map[string]string{
		"recursive":     recursiveBlock(w).String(),
		"authoritative": authoritativeBlock(caching.Addr).String(),
	}

	var mu sync.Mutex
	stats := map[string]*replicaStats{}
	for _, r := range replicaRows {
		stats[r.name()] = &replicaStats{failures: map[string]int{}}
	}
	t.Run("trials", func(t *testing.T) {
		for i := 1; i <= replicaTrials; i++ {
			for _, row := range replicaRows {
				t.Run(fmt.Sprintf("%s/%02d", row.name(), i), func(t *testing.T) {
					t.Parallel()
					var queries [2]int
					reason := "(did not finish)"
					t.Cleanup(func() {
						mu.Lock()
						defer mu.Unlock()
						s := stats[row.name()]
						s.trials++
						s.queries[0] += queries[0]
						s.queries[1] += queries[1]
						if queries[0] > 0 && queries[1] > 0 {
							s.both++
						}
						if t.Failed() {
							s.failures[reason]++
						} else {
							s.passed++
						}
					})
					queries, reason = replicaTrial(t, bin, w, pebble, row, blocks[row.upstream])
				})
			}
		}
	})

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "client/check/challenge/upstream\tpassed first try\tqueries replica a\tqueries replica b\ttrials asking both\tfailures\n")
	for _, row := range replicaRows {
		s := stats[row.name()]
		var fails []string
		for reason, n := range s.failures {
			fails = append(fails, fmt.Sprintf("%d× %s", n, reason))
		}
		sort.Strings(fails)
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%d\t%d\t%s\n", row.name(), s.passed, s.trials, s.queries[0], s.queries[1], s.both, strings.Join(fails, "; "))
		if s.passed != replicaTrials {
			t.Errorf("%s: %d of %d trials passed on the first try, want all", row.name(), s.passed, replicaTrials)
		}
		// The rig itself: both replicas behind the Service were asked.
		if s.queries[0] == 0 || s.queries[1] == 0 {
			t.Errorf("%s: replica a was asked %d times and replica b %d times: the Service does not spread", row.name(), s.queries[0], s.queries[1])
		}
	}
	_ = tw.Flush()
	t.Logf("%d trials per row, two fresh replicas behind one Service each:\n%s", replicaTrials, b.String())
}

// replicaTrial runs the row's client once in a pod whose resolver is a
// Service in front of two fresh replicas. It gives the lookups each replica
// logged, and the client's reason when it failed.
func replicaTrial(t *testing.T, bin string, w *world.World, pebble *world.Pebble, row replicaRow, block string) ([2]int, string) {
	t.Helper()
	var queries [2]int
	// The replicas' own world: its cleanup stops them by PID, and shows
	// their logs if the trial failed.
	rw := world.New(t, world.Options{})
	var replicas [2]*world.Server
	for i := range replicas {
		addr := world.AddrPort(t, 53)
		replicas[i] = rw.CoreDNST(t, world.CoreDNS{Name: fmt.Sprintf("replica-%c", 'a'+i), Binary: bin, Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, block), Addr: addr})
	}
	svcAddr := world.AddrPort(t, 53)
	svc, err := world.NewService(svcAddr, replicas[0].Addr, replicas[1].Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("removing the service: %v", err)
		}
	})
	rc := filepath.Join(rw.Dir, "resolv.conf")
	if err := world.WriteResolvConf(rc, svcAddr); err != nil {
		t.Fatal(err)
	}
	// The pod's resolver is the Service: the replicas behind it are what
	// the clients ask.
	pod := &coreDNS{Server: &world.Server{Name: "service", Addr: svcAddr}, label: row.upstream, resolvConf: rc}

	var out, reason string
	passed := false
	if row.legoCheck {
		// A name of its own: trials that run at once do not add their TXT
		// values to one RRset (which would soon not fit in a UDP reply).
		domains := []string{fmt.Sprintf("lego%d.%s", legoSeq.Add(1), zone)}
		r := legoRun{c: pod, pebble: pebble, knot: w.Knot, domains: domains, mode: legoAuthoritative, propLimit: 1, oneCheck: true}.run(t)
		out = r.String() + "\nexec log:\n" + r.execLog
		if passed = r.code == 0; passed {
			r.wantCert(t, domains)
		} else if reason = strings.TrimSpace(lineWith(r.output, "time limit exceeded")); reason == "" {
			reason = fmt.Sprintf("exit %d", r.code)
		}
	} else {
		r := runCheck(t, pod, row.ch.domain, row.ch.key, row.check)
		out = r.String()
		if passed = r.code == 0; !passed {
			reason = lastLine(r.output, "FAIL: ")
		}
	}

	// Stopped, the replicas have written every lookup to their logs.
	for i, s := range replicas {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, l := range parseQueryLog(s.Log()) {
			if !strings.HasSuffix(l.QName, ".invalid.") { // readiness probes
				queries[i]++
			}
		}
	}
	if !passed {
		var logs strings.Builder
		for _, s := range replicas {
			fmt.Fprintf(&logs, "lookups at %s (%s):\n%s", s.Name, s.Addr, formatLookups(parseQueryLog(s.Log())))
		}
		t.Errorf("%s failed on its first try through the Service %s:\n%s\n%s", row.client, svcAddr, out, logs.String())
	}
	return queries, shortReason(reason)
}

// shortReason keeps what tells failures apart: the text after the last
// "FAIL: " or "error: ", without addresses and ports (each trial has its own).
func shortReason(s string) string {
	for _, cut := range []string{"FAIL: ", "last error: "} {
		if i := strings.LastIndex(s, cut); i >= 0 {
			s = s[i+len(cut):]
		}
	}
	var words []string
	for _, f := range strings.Fields(s) {
		if ap, err := netip.ParseAddrPort(strings.Trim(f, "\":,")); err == nil && ap.IsValid() {
			f = "ADDR"
		}
		words = append(words, f)
	}
	return strings.Join(words, " ")
}
