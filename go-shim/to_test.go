package acmeforward

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/miekg/dns"
)

// testPKI is a CA made for one test and a server certificate it signs for
// the name dns.acmeforward.test and 127.0.0.1, in dir.
type testPKI struct {
	ca, cert, key string // PEM files
	server        tls.Certificate
}

func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "acmeforward test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "dns.acmeforward.test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"dns.acmeforward.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{p.ca, "CERTIFICATE", caDER}, {p.cert, "CERTIFICATE", der}, {p.key, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if p.server, err = tls.LoadX509KeyPair(p.cert, p.key); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFile writes text to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsAddrs lists the tls:// upstreams of a, sorted.
func tlsAddrs(a *AcmeForward) []string {
	if a.up.tls == nil {
		return nil
	}
	var out []string
	for ap := range a.up.tls.addrs {
		out = append(out, ap.String())
	}
	slices.Sort(out)
	return out
}

func TestSetupToForms(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	resolv := writeFile(t, dir, "resolv.conf", "search example.com\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:5\n")
	tests := []struct {
		name       string
		input      string
		upstreams  []string
		tls        []string // the tls:// upstreams, sorted
		serverName string
		rootCAs    bool // `tls` gave a CA
		clientCert bool // `tls` gave a certificate and key
	}{
		{
			name:      "dns://, default port",
			input:     "acmeforward {\n to dns://127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:53"},
		},
		{
			name:      "dns:// with ports, IPv6 in brackets, plain forms",
			input:     "acmeforward {\n to dns://127.0.0.1:5300 dns://[::1] dns://[::1]:5301 127.0.0.2 [::2]:5302\n}",
			upstreams: []string{"127.0.0.1:5300", "[::1]:53", "[::1]:5301", "127.0.0.2:53", "[::2]:5302"},
		},
		{
			name:      "resolv.conf: its nameservers, port 53",
			input:     "acmeforward {\n to " + resolv + "\n}",
			upstreams: []string{"127.0.0.53:53", "[::1]:53"},
		},
		{
			name:      "tls://, default port 853, system CAs",
			input:     "acmeforward {\n to tls://127.0.0.1\n}",
			upstreams: []string{"127.0.0.1:853"},
			tls:       []string{"127.0.0.1:853"},
		},
		{
			name: "tls:// with ports and IPv6, tls CA, tls_servername",
			input: `acmeforward {
				to tls://127.0.0.1:8853 tls://[::1] tls://[::ffff:127.0.0.3]:853
				tls ` + pki.ca + `
				tls_servername dns.acmeforward.test
			}`,
			upstreams:  []string{"127.0.0.1:8853", "[::1]:853", "127.0.0.3:853"},
			tls:        []string{"127.0.0.1:8853", "127.0.0.3:853", "[::1]:853"},
			serverName: "dns.acmeforward.test",
			rootCAs:    true,
		},
		{
			name: "tls options before to; tls CERT KEY",
			input: `acmeforward {
				tls_servername dns.acmeforward.test
				tls ` + pki.cert + " " + pki.key + `
				to tls://127.0.0.1
			}`,
			upstreams:  []string{"127.0.0.1:853"},
			tls:        []string{"127.0.0.1:853"},
			serverName: "dns.acmeforward.test",
			clientCert: true,
		},
		{
			name:       "tls CERT KEY CA",
			input:      "acmeforward {\n to tls://127.0.0.1\n tls " + pki.cert + " " + pki.key + " " + pki.ca + "\n}",
			upstreams:  []string{"127.0.0.1:853"},
			tls:        []string{"127.0.0.1:853"},
			rootCAs:    true,
			clientCert: true,
		},
		{
			name:      "tls with no argument: system CAs",
			input:     "acmeforward {\n to tls://127.0.0.1\n tls\n}",
			upstreams: []string{"127.0.0.1:853"},
			tls:       []string{"127.0.0.1:853"},
		},
		{
			name:      "tls:// mixed with plain ones, and a file, in order",
			input:     "acmeforward {\n to 127.0.0.9 tls://127.0.0.1 dns://127.0.0.2:5300 " + resolv + "\n}",
			upstreams: []string{"127.0.0.9:53", "127.0.0.1:853", "127.0.0.2:5300", "127.0.0.53:53", "[::1]:53"},
			tls:       []string{"127.0.0.1:853"},
		},
		{
			name:      "the same address twice, one way",
			input:     "acmeforward {\n to tls://127.0.0.1 tls://127.0.0.1:853 dns://127.0.0.2 127.0.0.2:53\n}",
			upstreams: []string{"127.0.0.1:853", "127.0.0.2:53"},
			tls:       []string{"127.0.0.1:853"},
		},
		{
			name:      "tls options without a tls:// upstream are unused",
			input:     "acmeforward {\n to 127.0.0.1\n tls " + pki.ca + "\n tls_servername dns.acmeforward.test\n}",
			upstreams: []string{"127.0.0.1:53"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parse(caddy.NewTestController("dns", tc.input))
			if err != nil {
				t.Fatalf("parse: unexpected error: %v", err)
			}
			defer a.OnShutdown()
			if got := failoverOrder(t, a.engine); !slices.Equal(got, tc.upstreams) {
				t.Errorf("upstreams = %q, want %q", got, tc.upstreams)
			}
			if got := tlsAddrs(a); !slices.Equal(got, tc.tls) {
				t.Errorf("tls:// upstreams = %q, want %q", got, tc.tls)
			}
			if a.up.tls == nil {
				return
			}
			cfg := a.up.tls.config
			if cfg.ServerName != tc.serverName {
				t.Errorf("ServerName = %q, want %q", cfg.ServerName, tc.serverName)
			}
			if (cfg.RootCAs != nil) != tc.rootCAs {
				t.Errorf("RootCAs set = %v, want %v", cfg.RootCAs != nil, tc.rootCAs)
			}
			if (len(cfg.Certificates) == 1) != tc.clientCert {
				t.Errorf("%d client certificates, want one: %v", len(cfg.Certificates), tc.clientCert)
			}
			if cfg.MinVersion < tls.VersionTLS12 || cfg.ClientSessionCache == nil {
				t.Errorf("MinVersion %x, session cache %v: want TLS 1.2 at least and a bounded session cache", cfg.MinVersion, cfg.ClientSessionCache)
			}
		})
	}
}

// Relative `tls` paths are under the server block's root, as in forward.
func TestSetupTLSRelativeToRoot(t *testing.T) {
	dir := t.TempDir()
	newTestPKI(t, dir)
	c := caddy.NewTestController("dns", "acmeforward {\n to tls://127.0.0.1\n tls ca.pem\n}")
	dnsserver.GetConfig(c).Root = dir
	a, err := parse(c)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	defer a.OnShutdown()
	if a.up.tls == nil || a.up.tls.config.RootCAs == nil {
		t.Fatal("the CA under the root was not loaded")
	}
}

func TestSetupToInvalid(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	resolv := writeFile(t, dir, "resolv.conf", "nameserver 127.0.0.53\n")
	empty := writeFile(t, dir, "empty.conf", "search example.com\n")
	tests := []struct {
		name  string
		input string
		want  []string // substrings of the error, in addition to the file name
	}{
		{"quic://", "acmeforward {\n to quic://127.0.0.1\n}", []string{"Testfile:2", "invalid 'to' address \"quic://127.0.0.1\"", "quic:// is not supported"}},
		{"https://", "acmeforward {\n to https://127.0.0.1\n}", []string{"Testfile:2", "https:// is not supported"}},
		{"grpc://", "acmeforward {\n to 127.0.0.1 grpc://127.0.0.2\n}", []string{"Testfile:2", "\"grpc://127.0.0.2\"", "grpc:// is not supported"}},
		{"scheme alone", "acmeforward {\n to tls://\n}", []string{"Testfile:2", "\"tls://\"", "no address"}},
		{"dns:// bad port", "acmeforward {\n to dns://127.0.0.1:0\n}", []string{"Testfile:2", "\"dns://127.0.0.1:0\"", "port must be a number"}},
		{"tls:// bad port", "acmeforward {\n to tls://127.0.0.1:65536\n}", []string{"Testfile:2", "\"tls://127.0.0.1:65536\"", "port must be a number"}},
		{"tls:// hostname", "acmeforward {\n to tls://dns.example.com\n}", []string{"Testfile:2", "\"tls://dns.example.com\"", "not an IP address or file"}},
		{"dns:// hostname with port", "acmeforward {\n to dns://dns.example.com:53\n}", []string{"Testfile:2", "not an IP address or file"}},
		{"tls:// server name suffix", "acmeforward {\n to tls://127.0.0.1%dns.example.com\n}", []string{"Testfile:2", "%NAME", "tls_servername"}},
		{"IPv6 zone", "acmeforward {\n to dns://[fe80::1%eth0]:53\n}", []string{"Testfile:2", "%ZONE"}},
		{"tls:// on a file", "acmeforward {\n to tls://" + resolv + "\n}", []string{"Testfile:2", "tls:// takes an IP address, not a resolv.conf file"}},
		{"missing file", "acmeforward {\n to " + filepath.Join(dir, "nothere.conf") + "\n}", []string{"Testfile:2", "nothere.conf", "not an IP address or file"}},
		{"file without nameserver", "acmeforward {\n to " + empty + "\n}", []string{"Testfile:2", "no nameserver in"}},
		{"one address both ways", "acmeforward {\n to 127.0.0.1:853 tls://127.0.0.1\n}", []string{"Testfile:2", "\"tls://127.0.0.1\"", "127.0.0.1:853 is given both with and without tls://"}},
		{"one address both ways, mapped", "acmeforward {\n to tls://127.0.0.1 dns://[::ffff:127.0.0.1]:853\n}", []string{"Testfile:2", "both with and without tls://"}},
		{"tls four arguments", "acmeforward {\n to tls://127.0.0.1\n tls a b c d\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"tls missing CA", "acmeforward {\n to tls://127.0.0.1\n tls " + filepath.Join(dir, "noca.pem") + "\n}", []string{"Testfile:3", "invalid tls", "noca.pem"}},
		{"tls CA is no certificate", "acmeforward {\n to tls://127.0.0.1\n tls " + resolv + "\n}", []string{"Testfile:3", "invalid tls", "could not read root certs"}},
		{"tls bad key pair", "acmeforward {\n to tls://127.0.0.1\n tls " + pki.cert + " " + pki.ca + "\n}", []string{"Testfile:3", "invalid tls", "could not load TLS cert"}},
		{"tls bad CA after a key pair", "acmeforward {\n to tls://127.0.0.1\n tls " + pki.cert + " " + pki.key + " " + resolv + "\n}", []string{"Testfile:3", "invalid tls"}},
		{"duplicate tls", "acmeforward {\n to tls://127.0.0.1\n tls\n tls " + pki.ca + "\n}", []string{"Testfile:4", "duplicate option \"tls\""}},
		{"tls_servername without name", "acmeforward {\n to tls://127.0.0.1\n tls_servername\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"tls_servername two names", "acmeforward {\n to tls://127.0.0.1\n tls_servername a.example b.example\n}", []string{"Testfile:3", "Wrong argument count"}},
		{"duplicate tls_servername", "acmeforward {\n to tls://127.0.0.1\n tls_servername a.example\n tls_servername b.example\n}", []string{"Testfile:4", "duplicate option \"tls_servername\""}},
		{"tls without to", "acmeforward {\n tls " + pki.ca + "\n}", []string{"missing 'to'"}},
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
			}
		})
	}
}

// tlsUpstream is a miekg/dns server of DNS over TLS on 127.0.0.1 with the
// test PKI's certificate; it counts the queries that came over TLS.
type tlsUpstream struct {
	addr    netip.AddrPort
	queries atomic.Int32
}

func startTLSUpstream(t *testing.T, pki testPKI, h func(w dns.ResponseWriter, r *dns.Msg)) *tlsUpstream {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	u := &tlsUpstream{addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	srv := &dns.Server{Listener: ln, Net: "tcp-tls", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if cs, ok := w.(dns.ConnectionStater); !ok || cs.ConnectionState() == nil || !cs.ConnectionState().HandshakeComplete {
			t.Errorf("a query to the TLS upstream without TLS")
			return
		}
		u.queries.Add(1)
		h(w, r)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

// A tls:// upstream gets every try over TLS, for UDP and TCP clients alike,
// its certificate checked against `tls CA` for `tls_servername`, or for its
// IP address without one; a certificate that does not check out fails the
// try (SERVFAIL, or the next upstream).
func TestTLSUpstreamRoundTrip(t *testing.T) {
	pki := newTestPKI(t, t.TempDir())
	up := startTLSUpstream(t, pki, txtAnswer("over-tls", 60))
	tlsTo := "tls://" + up.addr.String()
	tests := []struct {
		name    string
		options string
		want    bool // the answer comes back
	}{
		{"tls_servername", "tls " + pki.ca + "\n tls_servername dns.acmeforward.test", true},
		{"the IP address as the name", "tls " + pki.ca, true},
		{"wrong tls_servername", "tls " + pki.ca + "\n tls_servername other.acmeforward.test", false},
		{"CA not trusted", "tls_servername dns.acmeforward.test", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestPlugin(t, "acmeforward example.com {\n to "+tlsTo+"\n timeout 2s\n "+tc.options+"\n}")
			for _, tcp := range []bool{false, true} {
				before := up.queries.Load()
				q := challengeQuery(challenge)
				rc, err, cw, _ := serve(t, a, q, tcp)
				if !tc.want {
					if rc != dns.RcodeServerFailure || err == nil || cw.count() != 0 {
						t.Errorf("tcp=%v: ServeDNS = %d, %v, %d replies written; want SERVFAIL for CoreDNS to write", tcp, rc, err, cw.count())
					}
					if n := up.queries.Load() - before; n != 0 {
						t.Errorf("tcp=%v: the upstream got %d queries through a certificate that does not check out", tcp, n)
					}
					continue
				}
				if err != nil || rc != dns.RcodeSuccess {
					t.Fatalf("tcp=%v: ServeDNS = %d, %v; want NOERROR", tcp, rc, err)
				}
				checkAnswer(t, cw.reply(t), q, "over-tls")
				if n := up.queries.Load() - before; n != 1 {
					t.Errorf("tcp=%v: the upstream got %d queries over TLS, want 1", tcp, n)
				}
			}
		})
	}

	t.Run("a failing tls:// upstream, then a plain one", func(t *testing.T) {
		plain := startUpstream(t, txtAnswer("over-udp", 60))
		a, _ := newTestPlugin(t, "acmeforward example.com {\n to "+tlsTo+" "+plain.addr+"\n timeout 2s\n tls "+pki.ca+"\n tls_servername other.acmeforward.test\n}")
		tries := upstreamRequestCount.WithLabelValues("", up.addr.String(), "tcp")
		before := testutil.ToFloat64(tries)
		q := challengeQuery(challenge)
		rc, err, cw, _ := serve(t, a, q, false)
		if err != nil || rc != dns.RcodeSuccess {
			t.Fatalf("ServeDNS = %d, %v; want NOERROR", rc, err)
		}
		checkAnswer(t, cw.reply(t), q, "over-udp")
		if plain.udp.Load() != 1 || plain.tcp.Load() != 0 {
			t.Errorf("the plain upstream got %d UDP and %d TCP queries, want 1 UDP", plain.udp.Load(), plain.tcp.Load())
		}
		if got := testutil.ToFloat64(tries) - before; got != 1 {
			t.Errorf("upstream_requests_total{proto=tcp} of the tls:// upstream grew by %v, want 1", got)
		}
	})

	t.Run("prefetch", func(t *testing.T) {
		zone := startTLSUpstream(t, pki, zoneData(t, false, exampleSOA,
			"example.com. 3600 IN NS ns1.example.com.",
			"ns1.example.com. 3600 IN A 192.0.2.53",
		))
		a, _ := newTestPlugin(t, "acmeforward example.com {\n to tls://"+zone.addr.String()+"\n timeout 2s\n tls "+pki.ca+"\n}")
		okBefore := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, "ok"))
		if err := a.OnStartup(); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(prefetchCount.WithLabelValues(a.server, "ok")) - okBefore; got != 1 {
			t.Errorf("prefetch_lookups_total{result=ok} grew by %v, want 1", got)
		}
		if zone.queries.Load() == 0 {
			t.Error("the prefetch asked the tls:// upstream nothing over TLS")
		}
	})
}
