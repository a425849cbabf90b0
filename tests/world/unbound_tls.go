package world

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// DoTPort is the port of DNS over TLS.
const DoTPort = 853

// UnboundTLS is an unbound (StartUnbound's resolver, no cache) that also
// serves DNS over TLS on port 853 of its own address, with a certificate
// made at start (crypto/x509) for ServerName and its IP address. It has no
// UDP at all (unbound would answer plain DNS over UDP on port 853 too), so an
// answer that came through port 853 came over TLS; it asks knot over TCP.
type UnboundTLS struct {
	*Server
	// TLSAddr is where it serves DNS over TLS: its IP, port 853.
	TLSAddr netip.AddrPort
	// CACert is the PEM file of the CA that signed its certificate.
	CACert string
	// ServerName is the DNS name its certificate is for.
	ServerName string
}

// StartUnboundTLS starts unbound with DNS over TLS (tls-service-pem,
// tls-service-key, tls-port 853) and without UDP, and waits until it
// answers over TCP and completes a TLS handshake for serverName. Binding
// port 853 needs root.
func (w *World) StartUnboundTLS(serverName string) (*UnboundTLS, error) {
	if w.Knot == nil {
		return nil, fmt.Errorf("unbound needs knot in the world")
	}
	addr, err := NewAddr()
	if err != nil {
		return nil, err
	}
	tlsAddr := netip.AddrPortFrom(addr.Addr(), DoTPort)
	if err := PortFree(tlsAddr); err != nil {
		return nil, fmt.Errorf("%w (port %d needs root)", err, DoTPort)
	}
	logPath := w.logPath("unbound-tls")
	base := logPath[:len(logPath)-len(".log")]
	caPath, certPath, keyPath := base+"-ca.pem", base+"-cert.pem", base+"-key.pem"
	if err := writeTLSFiles(caPath, certPath, keyPath, addr.Addr(), serverName); err != nil {
		return nil, err
	}
	var zones []string
	for _, z := range w.Opts.Zones {
		zones = append(zones, z.Name)
	}
	// unbound merges a second server clause into the first; a later value
	// wins (do-udp).
	conf := unboundConf(w.Dir, addr, w.Knot.Addr, zones, true) + fmt.Sprintf(
		"server:\n    do-udp: no\n    interface: %s@%d\n    tls-port: %d\n    tls-service-pem: %q\n    tls-service-key: %q\n",
		tlsAddr.Addr(), tlsAddr.Port(), tlsAddr.Port(), certPath, keyPath)
	confPath := base + ".conf"
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("unbound")
	if err != nil {
		return nil, fmt.Errorf("unbound not found (Debian package unbound): %w", err)
	}
	s, err := startProcess("unbound-tls", addr, logPath, []string{bin, "-d", "-c", confPath}, nil)
	if err != nil {
		return nil, err
	}
	w.track(s)
	u := &UnboundTLS{Server: s, TLSAddr: tlsAddr, CACert: caPath, ServerName: serverName}
	if err := s.waitReady(ReadyTimeout, func() error {
		if _, err := Probe(addr, "ready.invalid", TypeA, true, 300*time.Millisecond); err != nil {
			return err
		}
		return u.handshake()
	}); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return u, nil
}

// handshake completes one TLS handshake with the server, checking its
// certificate against CACert for ServerName.
func (u *UnboundTLS) handshake() error {
	pem, err := os.ReadFile(filepath.Clean(u.CACert))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("no certificate in %s", u.CACert)
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 300 * time.Millisecond},
		Config:    &tls.Config{RootCAs: roots, ServerName: u.ServerName, MinVersion: tls.VersionTLS12},
	}
	conn, err := d.Dial("tcp", u.TLSAddr.String())
	if err != nil {
		return err
	}
	return conn.Close()
}

// UnboundTLST starts unbound with DNS over TLS (StartUnboundTLS) or fails
// the test.
func (w *World) UnboundTLST(t testing.TB, serverName string) *UnboundTLS {
	t.Helper()
	u, err := w.StartUnboundTLS(serverName)
	if err != nil {
		t.Fatalf("starting unbound with DNS over TLS: %v", err)
	}
	return u
}
