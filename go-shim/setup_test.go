package acmeforward

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/miekg/dns"
)

func TestSetupValid(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		upstreams []string
		timeout   time.Duration
		forward   []string // questions the engine must forward: "NAME" (TXT) or "NAME TYPE"
		pass      []string // questions the engine must pass, the same way
		hairpin   []string // questions the engine must answer as a hairpin, the same way
	}{
		{
			name:      "minimal, all zones",
			input:     "acmeforward {\n to 127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com.", "_acme-challenge.www.example.org."},
		},
		{
			name: "zones, ports, IPv6, all options",
			input: `acmeforward example.com Example.NET. {
				to 127.0.0.1:5300 [::1]:53 127.0.0.2
				timeout 500ms
				max_ttl 60
			}`,
			upstreams: []string{"127.0.0.1:5300", "[::1]:53", "127.0.0.2:53"},
			timeout:   500 * time.Millisecond,
			forward:   []string{"_acme-challenge.example.com.", "_acme-challenge.a.b.example.net."},
			pass:      []string{"_acme-challenge.example.org.", "_acme-challenge.com."},
		},
		{
			name:      "options in any order",
			input:     "acmeforward example.com {\n max_ttl 0\n timeout 60s\n to 127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   60 * time.Second,
			forward:   []string{"_acme-challenge.example.com."},
			pass:      []string{"_acme-challenge.example.org."},
		},
		{
			name:      "root zone",
			input:     "acmeforward . {\n to 127.0.0.1\n timeout 1ms\n max_ttl 604800\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   time.Millisecond,
			forward:   []string{"_acme-challenge.example.com."},
			// No zone listed explicitly: no SOA/NS discovery at all.
			pass: []string{"example.com. SOA", "cluster.local. SOA", "svc.cluster.local. NS"},
		},
		{
			name:      "discovery on by default",
			input:     "acmeforward example.com {\n to 127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"example.com. SOA", "www.example.com. NS", "Example.COM SOA"},
			pass:      []string{"example.com. A", "example.org. SOA", "com. SOA"},
		},
		{
			name:      "discovery on",
			input:     "acmeforward example.com {\n to 127.0.0.1\n discovery on\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"example.com. SOA", "example.com. NS"},
		},
		{
			name:      "discovery off",
			input:     "acmeforward example.com {\n to 127.0.0.1\n discovery off\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com.", "_acme-challenge.example.com. SOA"},
			pass:      []string{"example.com. SOA", "example.com. NS"},
		},
		{
			name: "delegated, repeated, several zones",
			input: `acmeforward example.com {
				to 127.0.0.1
				delegated auth.example.net Acme.Example.ORG.
				delegated third.example
			}`,
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward: []string{
				"x.auth.example.net. TXT", "x.auth.example.net. CNAME", "auth.example.net. NS",
				"a.b.acme.example.org. TXT", "third.example. SOA",
				"example.net. SOA", "example.org. NS", // above a delegated zone (discovery)
			},
			pass: []string{"xauth.example.net. TXT", "other.example.net. SOA", "www.example.com. A"},
		},
		{
			name: "protect and allow_ns, repeated",
			input: `acmeforward {
				to 127.0.0.1
				protect corp.internal
				protect Lab.Example. internal
				allow_ns 127.0.0.0/8 fd00::/8
				allow_ns 10.0.0.53
			}`,
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com. TXT", "_acme-challenge.example.org. A"},
			pass: []string{
				"_acme-challenge.db.corp.internal. TXT", "_acme-challenge.x.lab.example. TXT",
				"_acme-challenge.internal. TXT", "_acme-challenge.svc.cluster.local. TXT",
				"_acme-challenge.1.0.0.10.in-addr.arpa. TXT",
			},
		},
		{
			name:      "delegated with discovery off",
			input:     "acmeforward {\n to 127.0.0.1\n delegated auth.example.net\n discovery off\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"x.auth.example.net. TXT"},
			pass:      []string{"example.net. SOA"},
		},
		{
			name:      "default labels: dns-01, dns-persist-01, dns-account-01",
			input:     "acmeforward example.com {\n to 127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward: []string{
				"_acme-challenge.www.example.com.", "_validation-persist.www.example.com.",
				"_ujmmovf2vn55tgye._acme-challenge.www.example.com.",
				"_UJMMOVF2VN55TGYE._acme-challenge.www.example.com.",
			},
			pass: []string{
				"foo._acme-challenge.www.example.com.", "_validation-persist.example.org.",
				"_ujmmovf2vn55tgy1._acme-challenge.www.example.com.",
			},
		},
		{
			name:      "labels replace the defaults",
			input:     "acmeforward example.com {\n to 127.0.0.1\n labels _Custom-1 _validation-persist\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_custom-1.www.example.com.", "_validation-persist.example.com."},
			pass: []string{
				"_acme-challenge.www.example.com.",
				"_ujmmovf2vn55tgye._acme-challenge.www.example.com.",
				"_custom-1.example.org.",
			},
		},
		{
			name:      "labels with _acme-challenge keep dns-account-01",
			input:     "acmeforward {\n to 127.0.0.1\n labels _acme-challenge\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com.", "_ujmmovf2vn55tgye._acme-challenge.example.com."},
			pass:      []string{"_validation-persist.example.com."},
		},
		{
			name:      "upstream_mode recursive",
			input:     "acmeforward example.com {\n to 127.0.0.1:5300\n upstream_mode recursive\n}",
			upstreams: []string{"127.0.0.1:5300"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com."},
		},
		{
			name: "every option",
			input: `acmeforward example.com {
				to 127.0.0.1:5300 [::1]:5301
				timeout 750ms
				max_ttl 10
				discovery on
				delegated auth.example.net
				upstream_mode authoritative
				max_learned 16
			}`,
			upstreams: []string{"127.0.0.1:5300", "[::1]:5301"},
			timeout:   750 * time.Millisecond,
			forward:   []string{"_acme-challenge.example.com.", "x.auth.example.net. TXT", "example.com. NS"},
			pass:      []string{"www.example.com. A"},
		},
		{
			name: "hairpin lines, repeated",
			input: `acmeforward example.com {
				to 127.0.0.1
				hairpin www.example.com 10.96.0.80
				hairpin *.apps.example.com   ingress-nginx-controller.ingress-nginx.svc.cluster.local
				hairpin one.example.com Two.Example.COM. 10.0.0.1 fd00::1
				hairpin *.deep.example.com exact.apps.example.com 10.0.0.2
			}`,
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			hairpin: []string{
				"www.example.com. A", "WWW.example.com AAAA", "x.apps.example.com. A", "a.b.apps.example.com. AAAA",
				"one.example.com. AAAA", "two.example.com. A", "x.deep.example.com. A", "exact.apps.example.com. A",
			},
			// Challenges (any type) and SOA/NS (discovery) are forwarded first.
			forward: []string{"_acme-challenge.www.example.com. A", "_acme-challenge.x.apps.example.com. AAAA", "www.example.com. SOA"},
			pass:    []string{"www.example.com. TXT", "www.example.com. MX", "apps.example.com. A", "deep.example.com. A", "www.example.org. A"},
		},
		{
			name:      "hairpin only, all zones",
			input:     "acmeforward {\n to 127.0.0.1\n hairpin *.example.com 10.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			hairpin:   []string{"www.example.com. A"},
			forward:   []string{"_acme-challenge.www.example.com. A"},
			pass:      []string{"example.com. A", "www.example.com. TXT"},
		},
		{
			name:      "max_learned upper bound",
			input:     "acmeforward {\n to 127.0.0.1\n max_learned 1048576\n}",
			upstreams: []string{"127.0.0.1:53"},
			timeout:   2 * time.Second,
			forward:   []string{"_acme-challenge.example.com."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			a, err := parse(c)
			if err != nil {
				t.Fatalf("parse: unexpected error: %v", err)
			}
			defer a.OnShutdown()
			if got := failoverOrder(t, a.engine); !slices.Equal(got, tc.upstreams) {
				t.Errorf("upstreams = %q, want %q", got, tc.upstreams)
			}
			for _, q := range tc.forward {
				name, qtype := question(t, q)
				if v := a.engine.Classify(name, qtype, dns.ClassINET); v != VerdictForward {
					t.Errorf("Classify(%q) = %d, want forward", q, v)
				}
			}
			for _, q := range tc.pass {
				name, qtype := question(t, q)
				if v := a.engine.Classify(name, qtype, dns.ClassINET); v != VerdictPass {
					t.Errorf("Classify(%q) = %d, want pass", q, v)
				}
			}
			for _, q := range tc.hairpin {
				name, qtype := question(t, q)
				if v := a.engine.Classify(name, qtype, dns.ClassINET); v != VerdictHairpin {
					t.Errorf("Classify(%q) = %d, want hairpin", q, v)
				}
			}
		})
	}
}

// failoverOrder returns the servers an exchange of e tries in turn when each fails:
// the normalised `to` addresses, in configuration order.
func failoverOrder(t *testing.T, e *Engine) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("_acme-challenge.upstreams.test.", dns.TypeTXT)
	query, err := m.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	x, err := e.newExchange(nil, query, false, 1, 0)
	if err != nil {
		t.Fatalf("newExchange: %v", err)
	}
	defer x.Close()
	var servers []string
	buf := make([]byte, 512)
	for {
		a, err := x.poll(buf)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if a.kind != actionSend {
			return servers
		}
		servers = append(servers, a.server.String())
		if err := x.failed(0); err != nil {
			t.Fatalf("failed: %v", err)
		}
	}
}

// question splits "NAME" or "NAME TYPE" (TXT when no type is given).
func question(t *testing.T, q string) (string, uint16) {
	t.Helper()
	name, typ, ok := strings.Cut(q, " ")
	if !ok {
		return name, dns.TypeTXT
	}
	qtype, known := dns.StringToType[typ]
	if !known {
		t.Fatalf("bad type in %q", q)
	}
	return name, qtype
}

func TestSetupInvalid(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // substrings of the error, in addition to the file name
	}{
		{"missing to, no block", "acmeforward", []string{"missing 'to'"}},
		{"missing to, empty block", "acmeforward {\n}", []string{"missing 'to'"}},
		{"missing to, other options", "acmeforward {\n timeout 1s\n}", []string{"missing 'to'"}},
		{"to without address", "acmeforward {\n to\n}", []string{"Testfile:2", "Wrong argument count", "'to'"}},
		{"bad address", "acmeforward {\n to not-an-address\n}", []string{"Testfile:2", "invalid 'to' address \"not-an-address\""}},
		{"bad address, hostname", "acmeforward {\n to dns.example.com:53\n}", []string{"Testfile:2", "invalid 'to' address"}},
		{"bad port", "acmeforward {\n to 127.0.0.1:99999\n}", []string{"Testfile:2", "invalid 'to' address \"127.0.0.1:99999\""}},
		{"bad second address", "acmeforward {\n to 127.0.0.1 127.0.0.1:x\n}", []string{"Testfile:2", "\"127.0.0.1:x\""}},
		{"unknown option", "acmeforward {\n to 127.0.0.1\n bogus 1\n}", []string{"Testfile:3", "unknown option \"bogus\""}},
		{"bad zone, empty label", "acmeforward exa..mple.com {\n to 127.0.0.1\n}", []string{"Testfile:1", "invalid zone \"exa..mple.com\""}},
		{"bad zone, long label", "acmeforward " + strings.Repeat("a", 64) + ".com {\n to 127.0.0.1\n}", []string{"Testfile:1", "invalid zone"}},
		{"bad zone, escape", `acmeforward ex\256mple.com {` + "\n to 127.0.0.1\n}", []string{"Testfile:1", "invalid zone"}},
		{"bad duration", "acmeforward {\n to 127.0.0.1\n timeout fast\n}", []string{"Testfile:3", "invalid timeout \"fast\""}},
		{"duration without unit", "acmeforward {\n to 127.0.0.1\n timeout 5\n}", []string{"Testfile:3", "invalid timeout \"5\""}},
		{"timeout zero", "acmeforward {\n to 127.0.0.1\n timeout 0s\n}", []string{"Testfile:3", "invalid timeout \"0s\""}},
		{"timeout below 1ms", "acmeforward {\n to 127.0.0.1\n timeout 500us\n}", []string{"Testfile:3", "invalid timeout \"500us\""}},
		{"timeout negative", "acmeforward {\n to 127.0.0.1\n timeout -1s\n}", []string{"Testfile:3", "invalid timeout \"-1s\""}},
		{"timeout too long", "acmeforward {\n to 127.0.0.1\n timeout 61s\n}", []string{"Testfile:3", "invalid timeout \"61s\""}},
		{"timeout without value", "acmeforward {\n to 127.0.0.1\n timeout\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"timeout extra args", "acmeforward {\n to 127.0.0.1\n timeout 1s 2s\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"max_ttl not a number", "acmeforward {\n to 127.0.0.1\n max_ttl abc\n}", []string{"Testfile:3", "invalid max_ttl \"abc\""}},
		{"max_ttl negative", "acmeforward {\n to 127.0.0.1\n max_ttl -1\n}", []string{"Testfile:3", "invalid max_ttl \"-1\""}},
		{"max_ttl above u32", "acmeforward {\n to 127.0.0.1\n max_ttl 4294967296\n}", []string{"Testfile:3", "invalid max_ttl"}},
		{"max_ttl too large", "acmeforward {\n to 127.0.0.1\n max_ttl 604801\n}", []string{"Testfile:3", "invalid max_ttl \"604801\""}},
		{"max_ttl extra args", "acmeforward {\n to 127.0.0.1\n max_ttl 1 2\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"duplicate to", "acmeforward {\n to 127.0.0.1\n to 127.0.0.2\n}", []string{"Testfile:3", "duplicate option \"to\""}},
		{"duplicate timeout", "acmeforward {\n to 127.0.0.1\n timeout 1s\n timeout 2s\n}", []string{"Testfile:4", "duplicate option \"timeout\""}},
		{"duplicate max_ttl", "acmeforward {\n to 127.0.0.1\n max_ttl 1\n max_ttl 2\n}", []string{"Testfile:4", "duplicate option \"max_ttl\""}},
		{"discovery without value", "acmeforward {\n to 127.0.0.1\n discovery\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"discovery two values", "acmeforward {\n to 127.0.0.1\n discovery on off\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"discovery bad word", "acmeforward {\n to 127.0.0.1\n discovery yes\n}", []string{"Testfile:3", "invalid discovery \"yes\"", "on or off"}},
		{"discovery wrong case", "acmeforward {\n to 127.0.0.1\n discovery OFF\n}", []string{"Testfile:3", "invalid discovery \"OFF\""}},
		{"duplicate discovery", "acmeforward {\n to 127.0.0.1\n discovery on\n discovery off\n}", []string{"Testfile:4", "duplicate option \"discovery\""}},
		{"delegated without zone", "acmeforward {\n to 127.0.0.1\n delegated\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"delegated empty label", "acmeforward {\n to 127.0.0.1\n delegated auth..example.net\n}", []string{"Testfile:3", "invalid delegated zone \"auth..example.net\"", "empty label"}},
		{"delegated long label", "acmeforward {\n to 127.0.0.1\n delegated " + strings.Repeat("b", 64) + ".net\n}", []string{"Testfile:3", "invalid delegated zone"}},
		{"delegated bad escape", "acmeforward {\n to 127.0.0.1\n delegated a\\999.net\n}", []string{"Testfile:3", "invalid delegated zone"}},
		{"delegated second zone bad", "acmeforward {\n to 127.0.0.1\n delegated ok.example a..b\n}", []string{"Testfile:3", "\"a..b\""}},
		{"delegated bad in repeat", "acmeforward {\n to 127.0.0.1\n delegated ok.example\n delegated x..y\n}", []string{"Testfile:4", "\"x..y\""}},
		{"upstream_mode without value", "acmeforward {\n to 127.0.0.1\n upstream_mode\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"upstream_mode two values", "acmeforward {\n to 127.0.0.1\n upstream_mode recursive authoritative\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"upstream_mode bad word", "acmeforward {\n to 127.0.0.1\n upstream_mode direct\n}", []string{"Testfile:3", "invalid upstream_mode \"direct\"", "recursive or authoritative"}},
		{"duplicate upstream_mode", "acmeforward {\n to 127.0.0.1\n upstream_mode recursive\n upstream_mode authoritative\n}", []string{"Testfile:4", "duplicate option \"upstream_mode\""}},
		{"max_learned without value", "acmeforward {\n to 127.0.0.1\n max_learned\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"max_learned extra args", "acmeforward {\n to 127.0.0.1\n max_learned 16 32\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"max_learned not a number", "acmeforward {\n to 127.0.0.1\n max_learned lots\n}", []string{"Testfile:3", "invalid max_learned \"lots\""}},
		{"max_learned negative", "acmeforward {\n to 127.0.0.1\n max_learned -1\n}", []string{"Testfile:3", "invalid max_learned \"-1\""}},
		{"max_learned above u64", "acmeforward {\n to 127.0.0.1\n max_learned 18446744073709551616\n}", []string{"Testfile:3", "invalid max_learned"}},
		{"max_learned zero", "acmeforward {\n to 127.0.0.1\n max_learned 0\n}", []string{"Testfile:3", "invalid max_learned \"0\"", "16"}},
		{"max_learned too small", "acmeforward {\n to 127.0.0.1\n max_learned 15\n}", []string{"Testfile:3", "invalid max_learned \"15\""}},
		{"max_learned too large", "acmeforward {\n to 127.0.0.1\n max_learned 1048577\n}", []string{"Testfile:3", "invalid max_learned \"1048577\""}},
		{"max_learned huge", "acmeforward {\n to 127.0.0.1\n max_learned 18446744073709551615\n}", []string{"Testfile:3", "invalid max_learned"}},
		{"duplicate max_learned", "acmeforward {\n to 127.0.0.1\n max_learned 16\n max_learned 32\n}", []string{"Testfile:4", "duplicate option \"max_learned\""}},
		{"new option, missing to", "acmeforward {\n upstream_mode authoritative\n}", []string{"missing 'to'"}},
		{"protect without zone", "acmeforward {\n to 127.0.0.1\n protect\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"protect the root", "acmeforward {\n to 127.0.0.1\n protect .\n}", []string{"Testfile:3", "invalid protected zone \".\"", "root"}},
		{"protect bad name", "acmeforward {\n to 127.0.0.1\n protect a..b\n}", []string{"Testfile:3", "invalid protected zone \"a..b\""}},
		{"listed zone inside cluster.local", "acmeforward svc.cluster.local {\n to 127.0.0.1\n}", []string{"Testfile:1", "invalid zone \"svc.cluster.local\"", "protected"}},
		{"protect hides a listed zone", "acmeforward db.corp.internal {\n to 127.0.0.1\n protect corp.internal\n}", []string{"Testfile:3", "invalid protected zone \"corp.internal\"", "listed zone is inside"}},
		{"delegated inside a protected zone", "acmeforward {\n to 127.0.0.1\n protect corp.internal\n delegated acme.corp.internal\n}", []string{"Testfile:4", "invalid delegated zone \"acme.corp.internal\"", "protected"}},
		{"allow_ns without network", "acmeforward {\n to 127.0.0.1\n allow_ns\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"allow_ns bad prefix", "acmeforward {\n to 127.0.0.1\n allow_ns 10.0.0.0/33\n}", []string{"Testfile:3", "invalid allow_ns network \"10.0.0.0/33\"", "IP/PREFIX"}},
		{"allow_ns a name", "acmeforward {\n to 127.0.0.1\n allow_ns ns1.example.com\n}", []string{"Testfile:3", "invalid allow_ns network \"ns1.example.com\""}},
		{"hairpin without arguments", "acmeforward {\n to 127.0.0.1\n hairpin\n}", []string{"Testfile:3", "invalid hairpin \"\"", "at least one NAME and one TARGET"}},
		{"hairpin without target", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com\n}", []string{"Testfile:3", "invalid hairpin \"www.example.com\"", "TARGET"}},
		{"hairpin name is an address", "acmeforward {\n to 127.0.0.1\n hairpin 10.0.0.1 svc.cluster.local\n}", []string{"Testfile:3", "\"10.0.0.1 svc.cluster.local\"", "IP address"}},
		{"hairpin addresses only", "acmeforward {\n to 127.0.0.1\n hairpin 10.0.0.1 127.0.0.1\n}", []string{"Testfile:3", "IP address"}},
		{"hairpin address before a target name", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com 127.0.0.1 svc.cluster.local\n}", []string{"Testfile:3", "IP address"}},
		{"hairpin wildcard in the middle", "acmeforward {\n to 127.0.0.1\n hairpin foo.*.example.com 127.0.0.1\n}", []string{"Testfile:3", "\"foo.*.example.com 127.0.0.1\"", "wildcard"}},
		{"hairpin wildcard in a label", "acmeforward {\n to 127.0.0.1\n hairpin *foo.example.com 127.0.0.1\n}", []string{"Testfile:3", "wildcard"}},
		{"hairpin root wildcard", "acmeforward {\n to 127.0.0.1\n hairpin *. 127.0.0.1\n}", []string{"Testfile:3", "wildcard"}},
		{"hairpin bad target", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com ingress..svc.cluster.local\n}", []string{"Testfile:3", "\"www.example.com ingress..svc.cluster.local\"", "target"}},
		{"hairpin bad name", "acmeforward {\n to 127.0.0.1\n hairpin a..example.com 127.0.0.1\n}", []string{"Testfile:3", "empty label"}},
		{"hairpin duplicate in one line", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com WWW.example.com. 127.0.0.1\n}", []string{"Testfile:3", "twice"}},
		{"hairpin duplicate in two lines", "acmeforward {\n to 127.0.0.1\n hairpin *.example.com 127.0.0.1\n hairpin *.Example.COM svc.cluster.local\n}", []string{"Testfile:4", "twice"}},
		{"hairpin target with a port", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com 10.1.2.3:443\n}", []string{"Testfile:3", "invalid hairpin \"www.example.com 10.1.2.3:443\"", "neither an IP address nor a host name"}},
		{"hairpin target in brackets", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com [2001:db8::5]\n}", []string{"Testfile:3", "neither an IP address nor a host name"}},
		{"hairpin target with a prefix", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com 10.1.2.3/32\n}", []string{"Testfile:3", "neither an IP address nor a host name"}},
		{"hairpin target with a zone", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com fe80::1%eth0\n}", []string{"Testfile:3", "neither an IP address nor a host name"}},
		{"hairpin target with leading zeros", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com 010.001.002.003\n}", []string{"Testfile:3", "neither an IP address nor a host name"}},
		{"hairpin address with a port before the targets", "acmeforward {\n to 127.0.0.1\n hairpin www.example.com 10.1.2.3:443 10.0.0.1\n}", []string{"Testfile:3", "NAME is not a host name"}},
		{"hairpin name inside cluster.local", "acmeforward {\n to 127.0.0.1\n hairpin api.svc.cluster.local 10.0.0.1\n}", []string{"Testfile:3", "invalid hairpin \"api.svc.cluster.local 10.0.0.1\"", "protected zone"}},
		{"hairpin wildcard inside a protected zone", "acmeforward {\n to 127.0.0.1\n protect corp.internal\n hairpin *.corp.internal 10.0.0.1\n}", []string{"Testfile:4", "invalid hairpin", "protected zone"}},
		{"protect over a hairpin name", "acmeforward {\n to 127.0.0.1\n hairpin db.corp.internal 10.0.0.1\n protect corp.internal\n}", []string{"Testfile:4", "invalid protected zone \"corp.internal\"", "hairpin NAME"}},
		{"to with a block", "acmeforward {\n to 127.0.0.1 {\n  tls_servername dns.example\n }\n}", []string{"Testfile:2", "'to' takes no block", "acmeforward block itself"}},
		{"to with an empty block", "acmeforward {\n to tls://127.0.0.1 {\n }\n timeout 1s\n}", []string{"Testfile:2", "'to' takes no block"}},
		{"to without address, with a block", "acmeforward {\n to {\n }\n}", []string{"Testfile:2", "'to' takes no block"}},
		{"other option with a block", "acmeforward {\n to 127.0.0.1\n max_concurrent 5 {\n  policy sequential\n }\n}", []string{"Testfile:3", "option \"max_concurrent\" takes no block"}},
		{"hairpin bad line after good ones", "acmeforward {\n to 127.0.0.1\n hairpin a.example.com 127.0.0.1\n max_ttl 5\n hairpin b.example.com\n}", []string{"Testfile:5", "invalid hairpin \"b.example.com\""}},
		{"twice in a server block", "acmeforward {\n to 127.0.0.1\n}\nacmeforward {\n to 127.0.0.2\n}", []string{"Testfile:4", "only be used once"}},
		{"labels without label", "acmeforward {\n to 127.0.0.1\n labels\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"labels without underscore", "acmeforward {\n to 127.0.0.1\n labels acme-challenge\n}", []string{"Testfile:3", "invalid label \"acme-challenge\"", "start with `_`"}},
		{"labels empty", "acmeforward {\n to 127.0.0.1\n labels _ok \"\"\n}", []string{"Testfile:3", "invalid label \"\"", "empty"}},
		{"labels too long", "acmeforward {\n to 127.0.0.1\n labels _" + strings.Repeat("a", 63) + "\n}", []string{"Testfile:3", "invalid label", "longer than 63"}},
		{"labels with a dot", "acmeforward {\n to 127.0.0.1\n labels _acme-challenge.x\n}", []string{"Testfile:3", "invalid label \"_acme-challenge.x\"", "letters, digits"}},
		{"labels with an escape", "acmeforward {\n to 127.0.0.1\n labels \\095acme\n}", []string{"Testfile:3", "invalid label", "start with `_`"}},
		{"labels bad character", "acmeforward {\n to 127.0.0.1\n labels _a*b\n}", []string{"Testfile:3", "invalid label \"_a*b\"", "letters, digits"}},
		{"labels duplicate", "acmeforward {\n to 127.0.0.1\n labels _acme-challenge _ACME-Challenge\n}", []string{"Testfile:3", "invalid label \"_ACME-Challenge\"", "twice"}},
		{"labels too many", "acmeforward {\n to 127.0.0.1\n labels _1 _2 _3 _4 _5 _6 _7 _8 _9 _10 _11 _12 _13 _14 _15 _16 _17\n}", []string{"Testfile:3", "invalid label \"_17\"", "at most 16"}},
		{"duplicate labels", "acmeforward {\n to 127.0.0.1\n labels _a\n max_ttl 5\n labels _b\n}", []string{"Testfile:5", "duplicate option \"labels\""}},
		{"public_hosts without host", "acmeforward {\n to 127.0.0.1\n public_hosts\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"public_hosts root", "acmeforward {\n to 127.0.0.1\n public_hosts ns1.example.com .\n}", []string{"Testfile:3", "invalid public_hosts name \".\"", "cannot be the root"}},
		{"public_hosts protected", "acmeforward {\n to 127.0.0.1\n public_hosts ns.kube-system.svc.cluster.local\n}", []string{"Testfile:3", "invalid public_hosts name", "inside a protected zone"}},
		{"public_hosts then protect", "acmeforward {\n to 127.0.0.1\n public_hosts ns1.corp.example\n protect corp.example\n}", []string{"Testfile:4", "invalid protected zone \"corp.example\"", "public_hosts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			a, err := parse(c)
			if err == nil {
				a.OnShutdown()
				t.Fatalf("parse(%q): want an error, got none", tc.input)
			}
			msg := err.Error()
			for _, want := range append([]string{"Testfile"}, tc.want...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if err := setup(caddy.NewTestController("dns", tc.input)); err == nil {
				t.Errorf("setup(%q): want an error, got none", tc.input)
			} else if !strings.Contains(err.Error(), "acmeforward") {
				t.Errorf("setup error %q does not name the plugin", err)
			}
		})
	}
}

// allow_ns is used in authoritative mode only: in recursive mode (the default,
// or given before or after it) it is warned about, with its line.
func TestSetupWarnsAllowNSInRecursiveMode(t *testing.T) {
	for _, tc := range []struct {
		input string
		at    string // the allow_ns line the warning names; "" for no warning
	}{
		{"acmeforward {\n to 127.0.0.1\n allow_ns 10.0.0.0/8\n}", "Testfile:3"},
		{"acmeforward {\n to 127.0.0.1\n allow_ns 10.0.0.0/8\n upstream_mode recursive\n}", "Testfile:3"},
		{"acmeforward {\n to 127.0.0.1\n upstream_mode recursive\n allow_ns 10.0.0.0/8\n}", "Testfile:4"},
		{"acmeforward {\n to 127.0.0.1\n allow_ns 10.0.0.0/8\n upstream_mode authoritative\n}", ""},
		{"acmeforward {\n to 127.0.0.1\n upstream_mode authoritative\n allow_ns 10.0.0.0/8\n}", ""},
		{"acmeforward {\n to 127.0.0.1\n}", ""},
	} {
		logs := captureLog(t)
		a, err := parse(caddy.NewTestController("dns", tc.input))
		if err != nil {
			t.Fatalf("parse(%q): %v", tc.input, err)
		}
		a.OnShutdown()
		got := logs.String()
		warned := strings.Contains(got, "allow_ns applies to upstream_mode authoritative only")
		if warned != (tc.at != "") {
			t.Errorf("parse(%q): warned %v, want %v; log:\n%s", tc.input, warned, tc.at != "", got)
		}
		if tc.at != "" && !strings.Contains(got, tc.at+": allow_ns") {
			t.Errorf("parse(%q): the warning does not name %s; log:\n%s", tc.input, tc.at, got)
		}
	}
}

func TestSetupRegistersHandler(t *testing.T) {
	c := caddy.NewTestController("dns", "acmeforward example.com {\n to 127.0.0.1:5300\n}")
	if err := setup(c); err != nil {
		t.Fatalf("setup: %v", err)
	}
	plugins := dnsserver.GetConfig(c).Plugin
	if len(plugins) != 1 {
		t.Fatalf("setup added %d plugins, want 1", len(plugins))
	}
	h, ok := plugins[0](nil).(*AcmeForward)
	if !ok {
		t.Fatalf("setup added a %T, want *AcmeForward", plugins[0](nil))
	}
	if h.Name() != "acmeforward" {
		t.Errorf("Name() = %q, want acmeforward", h.Name())
	}
	if v := h.engine.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictForward {
		t.Errorf("before shutdown: Classify = %d, want forward", v)
	}
	if err := h.OnShutdown(); err != nil {
		t.Fatalf("OnShutdown: %v", err)
	}
	// After shutdown (a reload) the config is freed: no C call is made and
	// every question passes.
	if v := h.engine.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictError {
		t.Errorf("after shutdown: Classify = %d, want error (pass)", v)
	}
	if _, err := h.engine.newExchange(nil, []byte{0}, false, 1, nowMs()); err == nil {
		t.Error("after shutdown: newExchange succeeded, want an error")
	}
	if n := h.engine.LearnedLen(); n != 0 {
		t.Errorf("after shutdown: LearnedLen = %d, want 0", n)
	}
	if err := h.OnShutdown(); err != nil {
		t.Errorf("second OnShutdown: %v", err)
	}
}

func TestClassifyNameForms(t *testing.T) {
	a, err := parse(caddy.NewTestController("dns", "acmeforward example.com {\n to 127.0.0.1:5300\n}"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.OnShutdown()
	for name, want := range map[string]Verdict{
		"":                                 VerdictPass, // an empty name reaches C as NULL, length 0
		".":                                VerdictPass,
		"_acme-challenge.example.com":      VerdictForward, // no trailing dot
		"_ACME-CHALLENGE.EXAMPLE.COM.":     VerdictForward,
		"_acme-challenge.example.com.":     VerdictForward,
		"www._acme-challenge.example.com.": VerdictPass,
	} {
		if got := a.engine.Classify(name, dns.TypeTXT, dns.ClassINET); got != want {
			t.Errorf("Classify(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestResultText(t *testing.T) {
	err := error(&Error{Op: "afwd_config_new", Code: resultNoUpstream})
	if s := err.Error(); !strings.Contains(s, "afwd_config_new") || len(s) <= len("afwd_config_new: ") {
		t.Errorf("Error() = %q, want the op and the core's text", s)
	}
	if resultOK.String() == "" || resultTruncated.String() == resultOK.String() {
		t.Errorf("afwd_result_text gives %q for OK and %q for TRUNCATED", resultOK.String(), resultTruncated.String())
	}
}

func TestCloseWhileServing(t *testing.T) {
	a, err := parse(caddy.NewTestController("dns", "acmeforward example.com {\n to 127.0.0.1:5300\n}"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			<-start
			for range 2000 {
				switch v := a.engine.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v {
				case VerdictForward, VerdictError:
				default:
					t.Errorf("Classify = %d during shutdown, want forward or error", v)
					return
				}
			}
		})
	}
	close(start)
	if err := a.OnShutdown(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if v := a.engine.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictError {
		t.Errorf("Classify after shutdown = %d, want error", v)
	}
}
