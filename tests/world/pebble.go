package world

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Pebble is a running pebble (the ACME test server, Debian package pebble).
type Pebble struct {
	*Server
	// DirectoryURL is the ACME directory: https://IP:PORT/dir.
	DirectoryURL string
	// CACert is the PEM file of the CA that signed pebble's HTTPS
	// certificate (lego: LEGO_CA_CERTIFICATES).
	CACert string
	// DNSServer is where pebble's validation authority looks up the
	// challenge TXT records (its -dnsserver).
	DNSServer netip.AddrPort
}

// StartPebble starts pebble on a fresh loopback address with an HTTPS
// certificate made here (a CA and a leaf for 127.0.0.1 and that address),
// its validation authority asking dnsServer (the public view: knot, or a
// resolver in front of it) for the challenge records. It waits until the
// directory answers over HTTPS.
func (w *World) StartPebble(dnsServer netip.AddrPort) (*Pebble, error) {
	bin, err := exec.LookPath("pebble")
	if err != nil {
		return nil, fmt.Errorf("pebble not found (Debian package pebble): %w", err)
	}
	return w.StartPebbleBinary(bin, dnsServer)
}

// StartPebbleBinary is StartPebble with the pebble executable at bin (a
// pebble built from the Go module proxy, say).
func (w *World) StartPebbleBinary(bin string, dnsServer netip.AddrPort) (*Pebble, error) {
	if err := MustLoopback(dnsServer); err != nil {
		return nil, err
	}
	listen, err := NewAddr()
	if err != nil {
		return nil, err
	}
	mgmt, err := NewAddr()
	if err != nil {
		return nil, err
	}
	logPath := w.logPath("pebble")
	base := logPath[:len(logPath)-len(".log")]
	caPath, certPath, keyPath := base+"-ca.pem", base+"-cert.pem", base+"-key.pem"
	if err := writeTLSFiles(caPath, certPath, keyPath, listen.Addr()); err != nil {
		return nil, err
	}
	conf := base + "-config.json"
	if err := os.WriteFile(conf, []byte(pebbleConf(listen, mgmt, certPath, keyPath)), 0o644); err != nil {
		return nil, err
	}
	s, err := startProcess("pebble", listen, logPath, []string{bin, "-config", conf, "-dnsserver", dnsServer.String()}, PebbleEnv)
	if err != nil {
		return nil, err
	}
	w.track(s)
	p := &Pebble{Server: s, DirectoryURL: fmt.Sprintf("https://%s/dir", listen), CACert: caPath, DNSServer: dnsServer}
	client, err := httpsClient(caPath)
	if err != nil {
		_ = s.Stop()
		return nil, err
	}
	if err := s.waitReady(ReadyTimeout, func() error { return getOK(client, p.DirectoryURL) }); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return p, nil
}

// httpsClient trusts only the CA in caPath and connects only to loopback.
func httpsClient(caPath string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(caPath)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("no certificate in %s", caPath)
	}
	dialer := &net.Dialer{Timeout: time.Second}
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			Proxy:           nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				ap, err := netip.ParseAddrPort(addr)
				if err != nil || MustLoopback(ap) != nil {
					return nil, fmt.Errorf("refusing to connect to %s", addr)
				}
				return dialer.DialContext(ctx, network, addr)
			},
		},
	}, nil
}

func getOK(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// writeTLSFiles makes a CA (written to caPath) and a server certificate it
// signs for 127.0.0.1, ip and dnsNames (certPath, keyPath).
func writeTLSFiles(caPath, certPath, keyPath string, ip netip.Addr, dnsNames ...string) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "acmeforward test CA for pebble"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "pebble"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IP(ip.AsSlice())},
		DNSNames:     dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caPath, "CERTIFICATE", caDER}, {certPath, "CERTIFICATE", der}, {keyPath, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(filepath.Clean(f.path), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return err
		}
	}
	return nil
}
