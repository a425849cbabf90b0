package conformance_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// lookup is one query that reached CoreDNS, from its `log` plugin.
type lookup struct {
	Proto, QType, QName, Rcode string
	// DO is the question's DO bit. RD and CD are those of CoreDNS's reply,
	// which carries the question's (the log plugin shows the reply's
	// flags only).
	RD, DO, CD bool
}

// CoreDNS's log plugin, default format:
// [INFO] 127.0.0.1:52413 - 28564 "A IN example.org. udp 41 false 4096" NOERROR qr,aa,rd 68 0.000165s
var logLine = regexp.MustCompile(`\[INFO\] \S+ - \d+ "(\S+) (\S+) (\S+) (udp|tcp) \d+ (\S+) \d+" (\S+) (\S*) `)

// parseQueryLog gives the lookups in a piece of CoreDNS's log.
func parseQueryLog(text string) []lookup {
	var out []lookup
	for _, line := range strings.Split(text, "\n") {
		m := logLine.FindStringSubmatch(line)
		if m == nil || m[2] != "IN" {
			continue
		}
		flags := strings.Split(m[7], ",")
		out = append(out, lookup{Proto: m[4], QType: m[1], QName: strings.ToLower(m[3]), Rcode: m[6],
			DO: m[5] == "true", RD: slices.Contains(flags, "rd"), CD: slices.Contains(flags, "cd")})
	}
	return out
}

// queryLog is CoreDNS's log from a point on.
type queryLog struct {
	s     *coreDNS
	start int
}

func beginLog(s *coreDNS) queryLog { return queryLog{s: s, start: len(s.Log())} }

// end gives the lookups logged since beginLog. It sends a marker query and
// waits (bounded) until the marker is in the log, so that every query the
// client made before is there too.
func (q queryLog) end(t *testing.T) []lookup {
	t.Helper()
	marker := fmt.Sprintf("logmark-%08x.invalid.", rand.Uint32())
	if _, err := world.Probe(q.s.Addr, marker, world.TypeA, false, 2*time.Second); err != nil {
		t.Fatalf("marker query to %s: %v", q.s, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := q.s.Log()
		if i := strings.Index(text[min(q.start, len(text)):], marker); i >= 0 {
			piece := text[q.start : q.start+i]
			// Cut the marker's own (partial) line.
			if j := strings.LastIndexByte(piece, '\n'); j >= 0 {
				piece = piece[:j+1]
			}
			return parseQueryLog(piece)
		}
		if time.Now().After(deadline) {
			t.Fatalf("marker %s not in %s's log after 5s", marker, q.s.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder collects the lookups of a test's positive client runs and writes
// them, at the end of the test, to testdata/querylog/<Test>.txt and the
// test's log.
type recorder struct {
	mu   sync.Mutex
	rows [][]string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.rows) == 0 {
			return
		}
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "client\tmode\tcoredns\tqtype\tqname\trcode\tproto\trd\tdo\tcd\n")
		for _, row := range r.rows {
			fmt.Fprintf(tw, "%s\n", strings.Join(row, "\t"))
		}
		_ = tw.Flush()
		status := ""
		if t.Failed() {
			status = " (test FAILED)"
		}
		text := fmt.Sprintf("# %s%s: the lookups the clients made through CoreDNS (its log plugin), in order.\n%s"+
			"# rd, cd: the bits of CoreDNS's reply (a reply carries its question's); do: the question's DO bit.\n%s", t.Name(), status, logNames, b.String())
		t.Logf("query log%s:\n%s", status, text)
		dir := filepath.Join("testdata", "querylog")
		path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".txt")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("query log: %v", err)
			return
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Errorf("query log: %v", err)
			return
		}
		t.Logf("query log written to %s", path)
	})
	return r
}

// logNames is the line of a query log that names the world's zones, for
// cmd/clientsdoc: it writes them as these placeholders in docs/CLIENTS.md.
var logNames = fmt.Sprintf("# names: <zone>=%s <cname-zone>=%s <id>=%s\n", zone, authZone, cnameLabel)

// add records the lookups of one client run.
func (r *recorder) add(client, mode, corednsLabel string, ls []lookup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range ls {
		r.rows = append(r.rows, []string{client, mode, corednsLabel, l.QType, l.QName, l.Rcode, l.Proto, bit(l.RD), bit(l.DO), bit(l.CD)})
	}
}

// has reports whether ls holds a qtype question for qname (lower case,
// trailing dot).
func has(ls []lookup, qtype, qname string) bool {
	for _, l := range ls {
		if l.QType == qtype && l.QName == qname {
			return true
		}
	}
	return false
}

func formatLookups(ls []lookup) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "  %s %s %s %s rd=%s do=%s cd=%s\n", l.Proto, l.QType, l.QName, l.Rcode, bit(l.RD), bit(l.DO), bit(l.CD))
	}
	return b.String()
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
