package acmeforward

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// filterNames are names of every shape the pass filter reads.
var filterNames = []string{
	"api.payments.svc.cluster.local.", "kubernetes.default.svc.cluster.local",
	"www.example.com.", "WWW.EXAMPLE.COM.", "example.com.", "db.internal.example.com.",
	"ns1.example.com.", "NS1.Example.COM", "ns.provider.test.", "www.google.com.",
	"x.auth.example.net.", "auth.example.net.", "example.net.", "app.apps.example.org.",
	"_acme-challenge.www.example.com.", `\095acme-challenge.example.com.`,
	`www.example\.com.`, `www.example.c\111m.`, `www.example.com\.`, `a\\.com.`, `ns1.ex\097mple.com.`,
	".", "", "com.", "com", "a..com.", "localhost.", "1.0.0.127.in-addr.arpa.",
	strings.Repeat("a.", 130) + "com.",
}

var filterTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypeTXT,
	dns.TypePTR, dns.TypeMX, dns.TypeSRV, dns.TypeHTTPS, dns.TypeANY, 256, 65535}

// randomName is a name from labels that the engines of the test know and
// others, in random letter case.
func randomName(r *rand.Rand) string {
	labels := []string{"www", "ns1", "example", "com", "net", "org", "auth", "apps", "svc", "cluster",
		"local", "internal", "test", "provider", "_acme-challenge", "x"}
	n := 1 + r.IntN(5)
	var b strings.Builder
	for range n {
		l := labels[r.IntN(len(labels))]
		for _, c := range []byte(l) {
			if r.IntN(3) == 0 && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
		}
		b.WriteByte('.')
	}
	return b.String()
}

// The shim's copy of the pass filter never rules out what the core takes:
// with zones, delegated zones, hairpin names, prefetched nameservers and a
// learned CNAME target.
func TestPassFilterNeverHidesWhatTheCoreTakes(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
		"_acme-challenge.www.example.com. 300 IN CNAME token.auth.example.net.",
		"token.auth.example.net. 300 IN TXT \"t\"",
	))
	blocks := map[string]string{
		"listed":       block("example.com", "500ms", up.addr),
		"all zones":    block("", "500ms", up.addr),
		"delegated":    "acmeforward example.com {\n to " + up.addr + "\n delegated auth.example.net\n}",
		"hairpin":      "acmeforward {\n to " + up.addr + "\n hairpin www.example.com *.apps.example.org 10.0.0.80\n}",
		"no discovery": "acmeforward example.com {\n to " + up.addr + "\n discovery off\n}",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for state, b := range blocks {
		a, next := newTestPlugin(t, b)
		if err := a.OnStartup(); err != nil {
			t.Fatal(err)
		}
		if state == "listed" {
			// Learn the CNAME target of a challenge.
			forwarded(t, a, next, challengeQuery(challenge))
		}
		f := a.engine.filter.Load()
		if f == nil {
			t.Fatalf("%s: no pass filter", state)
		}
		check := func(name string, qtype, qclass uint16) {
			if f.passes(name, qtype, qclass) {
				// The filter's generation: the core applies the rules alone.
				if v, _ := a.engine.classifyCore(name, qtype, qclass, f.generation); v != VerdictPass {
					t.Errorf("%s: %q type %d class %d: ruled out by the filter, but the core says %v", state, name, qtype, qclass, v)
				}
			}
		}
		for _, name := range filterNames {
			for _, qtype := range filterTypes {
				check(name, qtype, dns.ClassINET)
				check(name, qtype, dns.ClassCHAOS)
			}
		}
		for range 5000 {
			check(randomName(r), filterTypes[r.IntN(len(filterTypes))], dns.ClassINET)
		}
		// And it does rule out a cluster's own names.
		if !f.passes("api.payments.svc.cluster.local.", dns.TypeA, dns.ClassINET) {
			t.Errorf("%s: a cluster.local A question is not ruled out", state)
		}
	}
}

// The shim's hash is the core's: the bits the core set for what it knows are
// the ones the shim computes for the same names.
func TestPassFilterHashIsTheCores(t *testing.T) {
	up := startUpstream(t, zoneData(t, false, exampleSOA,
		"example.com. 3600 IN NS ns1.example.com.",
		"ns1.example.com. 3600 IN A 192.0.2.53",
	))
	a, _ := newTestPlugin(t, "acmeforward example.com example.net example.org example.io {\n to "+up.addr+"\n}")
	if err := a.OnStartup(); err != nil {
		t.Fatal(err)
	}
	f := a.engine.filter.Load()
	has := func(words *[64]uint64, bit uint) bool { return words[bit/64]&(1<<(bit%64)) != 0 }
	for _, l := range []string{"com", "NET", "org", "io"} {
		if !has(&f.labels, hashBits(l)) {
			t.Errorf("label %q: bit %d not set by the core", l, hashBits(l))
		}
	}
	if has(&f.labels, hashBits("local")) {
		t.Error("label local is set")
	}
	// The prefetched nameserver host, by its first and last labels.
	if !has(&f.pairs, (31*hashBits("ns1")+hashBits("com"))%4096) {
		t.Error("the prefetched host ns1.example.com is not in the pairs")
	}
	if f.passes("ns1.example.com.", dns.TypeA, dns.ClassINET) || !f.passes("db.example.com.", dns.TypeA, dns.ClassINET) {
		t.Error("A ns1.example.com must go to the core, A db.example.com must not")
	}
}

// BenchmarkPassFilter is the shim's filter alone, in a live server's state,
// for a cluster name (ruled out by its last label) and a public name under a
// listed zone (ruled out by the hash of its whole name).
func BenchmarkPassFilter(b *testing.B) {
	a := livePlugin(b)
	f := a.engine.filter.Load()
	for _, name := range []string{"api.payments.svc.cluster.local.", "www.internal.example.com."} {
		b.Run(strings.Split(name, ".")[len(strings.Split(name, "."))-2], func(b *testing.B) {
			if !f.passes(name, dns.TypeA, dns.ClassINET) {
				b.Fatalf("%s is not ruled out", name)
			}
			b.ReportAllocs()
			for b.Loop() {
				f.passes(name, dns.TypeA, dns.ClassINET)
			}
		})
	}
}

// lowerWord lower-cases exactly the ASCII letters, whatever the bytes beside
// them (a carry into a neighbour would change it).
func TestLowerWordIsBytewiseLower(t *testing.T) {
	for pos := range 8 {
		for b := range 256 {
			for _, fill := range []byte{0x00, 0x40, 0x5a, 0x5b, 0x7f, 0x80, 0xc1, 0xff} {
				var in, want [8]byte
				for i := range in {
					in[i] = fill
				}
				in[pos] = byte(b)
				var w uint64
				for i := 7; i >= 0; i-- {
					w = w<<8 | uint64(in[i])
					want[i] = lower(in[i])
				}
				got := lowerWord(w)
				for i := range want {
					if byte(got>>(8*i)) != want[i] {
						t.Fatalf("%x: byte %d is %#x, want %#x", in, i, byte(got>>(8*i)), want[i])
					}
				}
			}
		}
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hashIn over any range of a name is hashBits of that range alone, whatever
// bytes surround it.
func TestHashInIsHashOfTheRange(t *testing.T) {
	name := "Api-Payments_SVC.Cluster.\xffZ@[`{.LOCAL"
	for start := 0; start <= len(name); start++ {
		for end := start; end <= len(name); end++ {
			want := hashBits(strings.Clone(name[start:end]))
			if got := hashIn(name, start, end); got != want {
				t.Fatalf("hashIn(%d, %d) = %d, want %d", start, end, got, want)
			}
			var b strings.Builder
			for _, c := range []byte(name[start:end]) {
				b.WriteByte(lower(c))
			}
			if lowered := hashBits(b.String()); lowered != want {
				t.Fatalf("%q: the hash depends on letter case", name[start:end])
			}
		}
	}
}
