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
		forward   []string // challenge names the config must forward
		pass      []string // challenge names the config must pass
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
			if got := a.config.Upstreams(); !slices.Equal(got, tc.upstreams) {
				t.Errorf("upstreams = %q, want %q", got, tc.upstreams)
			}
			if a.timeout != tc.timeout {
				t.Errorf("timeout = %v, want %v", a.timeout, tc.timeout)
			}
			for _, name := range tc.forward {
				if v := a.config.Classify(name, dns.TypeTXT, dns.ClassINET); v != VerdictForward {
					t.Errorf("Classify(%q) = %d, want forward", name, v)
				}
			}
			for _, name := range tc.pass {
				if v := a.config.Classify(name, dns.TypeTXT, dns.ClassINET); v != VerdictPass {
					t.Errorf("Classify(%q) = %d, want pass", name, v)
				}
			}
		})
	}
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
		{"twice in a server block", "acmeforward {\n to 127.0.0.1\n}\nacmeforward {\n to 127.0.0.2\n}", []string{"Testfile:4", "only be used once"}},
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
	if v := h.config.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictForward {
		t.Errorf("before shutdown: Classify = %d, want forward", v)
	}
	if err := h.OnShutdown(); err != nil {
		t.Fatalf("OnShutdown: %v", err)
	}
	// After shutdown (a reload) the config is freed: no C call is made and
	// every question passes.
	if v := h.config.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictError {
		t.Errorf("after shutdown: Classify = %d, want error (pass)", v)
	}
	if _, err := h.config.newExchange([]byte{0}, 1); err == nil {
		t.Error("after shutdown: newExchange succeeded, want an error")
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
		if got := a.config.Classify(name, dns.TypeTXT, dns.ClassINET); got != want {
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
				switch v := a.config.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v {
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
	if v := a.config.Classify("_acme-challenge.example.com.", dns.TypeTXT, dns.ClassINET); v != VerdictError {
		t.Errorf("Classify after shutdown = %d, want error", v)
	}
}
