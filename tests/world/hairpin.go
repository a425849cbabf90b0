package world

// HTTP-01 hairpin support: an HTTP server that stands in for the
// cluster's ingress controller, and a client that does what cert-manager's
// HTTP-01 self check does from inside the cluster, resolving through one DNS
// server only and connecting to 127.0.0.0/8 only.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ChallengePath is the HTTP-01 path prefix (RFC 8555, section 8.3).
const ChallengePath = "/.well-known/acme-challenge/"

// HTTP01Server serves HTTP-01 challenge responses on a loopback address, as
// an ingress controller serves the solver's responses: GET
// ChallengePath+TOKEN gives the key authorization of TOKEN; anything else is
// 404.
type HTTP01Server struct {
	Addr netip.AddrPort

	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	hits atomic.Int64

	mu     sync.Mutex
	tokens map[string]string
	hosts  []string
}

// StartHTTP01 starts an HTTP01Server on addr (in 127.0.0.0/8; port 80 for a
// self check, which always uses port 80, and binding it needs root) with
// token → key authorization.
func StartHTTP01(addr netip.AddrPort, tokens map[string]string) (*HTTP01Server, error) {
	if err := MustLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("HTTP-01 server on %s: %w", addr, err)
	}
	s := &HTTP01Server{Addr: addr, ln: ln, done: make(chan struct{}), tokens: map[string]string{}}
	for k, v := range tokens {
		s.tokens[k] = v
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *HTTP01Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	s.hosts = append(s.hosts, r.Host)
	key, ok := s.tokens[strings.TrimPrefix(r.URL.Path, ChallengePath)]
	s.mu.Unlock()
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, ChallengePath) || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, key)
}

// Hits is the number of HTTP requests served so far.
func (s *HTTP01Server) Hits() int64 { return s.hits.Load() }

// Hosts gives the Host header of every request served so far.
func (s *HTTP01Server) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hosts...)
}

// Close stops the server.
func (s *HTTP01Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// HTTP01T starts an HTTP01Server on a fresh loopback IP, port 80, or fails
// the test; cleanup closes it.
func HTTP01T(t testing.TB, tokens map[string]string) *HTTP01Server {
	t.Helper()
	addr, err := NewAddrPort(80)
	if err != nil {
		t.Fatalf("an address for the HTTP-01 server (port 80 needs root): %v", err)
	}
	s, err := StartHTTP01(addr, tokens)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the HTTP-01 server: %v", err)
		}
	})
	return s
}

// SelfChecker is the HTTP-01 self check of a pod: its resolver asks only
// DNSServer (the cluster's CoreDNS; never the system's resolver), and its
// HTTP client connects only to 127.0.0.0/8 addresses. An address outside
// 127.0.0.0/8 (the load balancer VIP of the public answer, a public IPv6
// address, even ::1) is never dialed: Refused is called with it and the dial
// fails, so a regression can never send a packet out.
type SelfChecker struct {
	DNSServer netip.AddrPort
	Resolver  *net.Resolver
	Client    *http.Client
	// Refused is called (from the dialing goroutine) with every resolved
	// address the client refused to connect to, and the host it was for.
	Refused func(host string, addr netip.Addr)

	dnsDials  atomic.Int64
	httpDials atomic.Int64
}

// NewSelfChecker makes a SelfChecker that resolves through dnsServer.
func NewSelfChecker(dnsServer netip.AddrPort, refused func(host string, addr netip.Addr)) (*SelfChecker, error) {
	if err := MustLoopback(dnsServer); err != nil {
		return nil, err
	}
	c := &SelfChecker{DNSServer: dnsServer, Refused: refused}
	var d net.Dialer
	c.Resolver = &net.Resolver{
		PreferGo: true,
		// Go's resolver passes the resolv.conf nameserver as address; it is
		// ignored: every DNS exchange goes to dnsServer.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c.dnsDials.Add(1)
			return d.DialContext(ctx, network, dnsServer.String())
		},
	}
	c.Client = &http.Client{
		Transport: &http.Transport{
			Proxy:             nil, // never a proxy from the environment
			DialContext:       c.dial,
			DisableKeepAlives: true,
		},
		Timeout: 30 * time.Second, // a bound on a hang, not a timing assertion
	}
	return c, nil
}

func (c *SelfChecker) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portText, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = c.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	// Every address must be in 127.0.0.0/8 before anything is dialed.
	var bad []string
	for _, a := range addrs {
		if a = a.Unmap(); !a.Is4() || a.As4()[0] != 127 {
			bad = append(bad, a.String())
			if c.Refused != nil {
				c.Refused(host, a)
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("self check: %s resolved to %s outside 127.0.0.0/8: refused, nothing dialed", host, strings.Join(bad, ", "))
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("self check: no address for %s", host)
	}
	var d net.Dialer
	var errs []error
	for _, a := range addrs {
		c.httpDials.Add(1)
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// DNSDials is the number of connections the resolver has opened to the DNS
// server.
func (c *SelfChecker) DNSDials() int64 { return c.dnsDials.Load() }

// HTTPDials is the number of TCP connections the HTTP client has tried.
func (c *SelfChecker) HTTPDials() int64 { return c.httpDials.Load() }

// Check does cert-manager's self check: GET
// http://host/.well-known/acme-challenge/TOKEN and give the body of a 200.
func (c *SelfChecker) Check(ctx context.Context, host, token string) (string, error) {
	url := "http://" + host + ChallengePath + token
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}
