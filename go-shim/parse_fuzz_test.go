package acmeforward

import (
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// FuzzParse feeds arbitrary acmeforward blocks to the Corefile parser: it
// never panics, every error names the Corefile's file and line, and a block
// it accepts builds an engine that shuts down cleanly.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"acmeforward {\n to 127.0.0.1\n}",
		"acmeforward example.com {\n to 127.0.0.1:53 [::1]:5353\n timeout 500ms\n max_time 3s\n max_concurrent 10\n}",
		"acmeforward {\n to 127.0.0.1\n delegated auth.example.net\n discovery off\n upstream_mode authoritative\n allow_ns 127.0.0.0/8\n}",
		"acmeforward example.com {\n to 127.0.0.1\n protect corp.internal\n hairpin www.example.com *.apps.example.com 10.0.0.1\n}",
		"acmeforward svc.cluster.local {\n to 127.0.0.1\n}",
		"acmeforward {\n to 127.0.0.1\n hairpin . 192.0.2.1\n max_learned 16\n max_ttl 0\n}",
		"acmeforward {\n to dns://127.0.0.1:5300 tls://[::1] tls://127.0.0.2:853\n tls\n tls_servername dns.example\n}",
		"acmeforward {\n to quic://127.0.0.1 tls://127.0.0.1%dns.example\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		a, err := parse(caddy.NewTestController("dns", input))
		if err != nil {
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error without the Corefile's file and line: %v", err)
			}
			return
		}
		if err := a.OnShutdown(); err != nil {
			t.Errorf("OnShutdown: %v", err)
		}
	})
}
