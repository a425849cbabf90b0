package world_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

const digOut = `;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 61060
;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1
;; WARNING: recursion requested but not available

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; ANSWER SECTION:
_acme-challenge.www.example.com. 3600 IN TXT	"tok \"q\" \\ \065" "second"
x.example.com.	5	IN	CNAME	y.example.com.

;; AUTHORITY SECTION:
example.com.		300	IN	SOA	ns1.example.com. hostmaster.example.com. 2 3600 900 604800 300
`

const kdigOut = `;; ->>HEADER<<- opcode: QUERY; status: SERVFAIL; id: 20583
;; Flags: qr rd ra; QUERY: 1; ANSWER: 1; AUTHORITY: 0; ADDITIONAL: 0

;; ANSWER SECTION:
www.example.com.    	3600	IN	A	192.0.2.80
`

func TestParseDig(t *testing.T) {
	r, err := world.ParseOutput("dig", digOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != "NXDOMAIN" || r.ID != 61060 || !slices.Equal(r.Flags, []string{"qr", "aa", "rd"}) {
		t.Fatalf("header: %+v", r)
	}
	if len(r.Answer) != 2 || len(r.Authority) != 1 || len(r.Additional) != 0 {
		t.Fatalf("sections: %+v", r)
	}
	if got := r.TXTs(); !slices.Equal(got, []string{`tok "q" \ Asecond`}) {
		t.Fatalf("TXT %q", got)
	}
	if rr := r.Answer[1]; rr.Name != "x.example.com." || rr.TTL != 5 || rr.Type != "CNAME" || rr.Data != "y.example.com." {
		t.Fatalf("CNAME %+v", rr)
	}
	if rr := r.Authority[0]; rr.Type != "SOA" || rr.TTL != 300 {
		t.Fatalf("SOA %+v", rr)
	}
}

func TestParseKDig(t *testing.T) {
	r, err := world.ParseOutput("kdig", kdigOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != "SERVFAIL" || r.ID != 20583 || !r.HasFlag("ra") || r.HasFlag("aa") {
		t.Fatalf("header: %+v", r)
	}
	if len(r.Answer) != 1 || r.Answer[0].Data != "192.0.2.80" || r.Answer[0].TTL != 3600 {
		t.Fatalf("answer: %+v", r.Answer)
	}
}

func TestParseNoReply(t *testing.T) {
	out := ";; communications error to 127.77.1.1#25355: connection refused\n;; no servers could be reached\n"
	if _, err := world.ParseOutput("dig", out); err == nil {
		t.Fatal("want an error when there is no reply")
	}
	if _, err := world.ParseOutput("dig", ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; ANSWER SECTION:\ngarbage\n"); err == nil {
		t.Fatal("want an error for an unparsable record line")
	}
}

func TestParseTXT(t *testing.T) {
	for in, want := range map[string]string{
		`"a"`:            "a",
		`"a b" "c"`:      "a bc",
		`"\"x\"\\"`:      `"x"\`,
		`"\255\000"`:     "\xff\x00",
		`plain "quoted"`: "plainquoted",
		`""`:             "",
	} {
		got, err := world.ParseTXT(in)
		if err != nil || got != want {
			t.Errorf("ParseTXT(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"open`, `"\25"`, `"\999"`, `"x\`} {
		if _, err := world.ParseTXT(bad); err == nil {
			t.Errorf("ParseTXT(%s): want an error", bad)
		}
	}
}

// Opts go to the client just before the name and type.
func TestClientArgsOpts(t *testing.T) {
	q := world.Query{Server: netip.MustParseAddrPort("127.0.0.1:5353"), Name: "example.com", Type: "A", Opts: []string{"+norecurse"}}
	for _, f := range []func(world.Query) ([]string, error){world.DigArgs, world.KDigArgs} {
		args, err := f(q)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(args); n < 3 || !slices.Equal(args[n-3:], []string{"+norecurse", "example.com", "A"}) {
			t.Fatalf("args %q: want ... +norecurse example.com A", args)
		}
	}
	q.Server = netip.MustParseAddrPort("192.0.2.1:53")
	if _, err := world.DigArgs(q); err == nil {
		t.Fatal("DigArgs accepted a server outside 127.0.0.0/8")
	}
}
