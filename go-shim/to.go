package acmeforward

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	pkgparse "github.com/coredns/coredns/plugin/pkg/parse"
	pkgtls "github.com/coredns/coredns/plugin/pkg/tls"
	"github.com/coredns/coredns/plugin/pkg/transport"
)

// The `to` forms of CoreDNS's forward that acmeforward takes: IP[:PORT],
// dns://IP[:PORT], tls://IP[:PORT] and a resolv.conf file. CoreDNS's
// plugin/pkg/parse reads them, as forward does, so that a copied forward line
// means the same here; the core then checks each address as it checks a
// plain one.

// toAddr is one upstream of a `to` argument: "IP:PORT" or "[IPv6]:PORT" as
// CoreDNS's parser gives it, for the core to check, and whether it is
// reached over TLS.
type toAddr struct {
	hostPort string
	tls      bool
}

// parseTo expands one `to` argument into its upstreams: one address, or the
// nameservers of a resolv.conf file. Other transports (quic://, https://,
// grpc://, unix://) are refused: the shim speaks only DNS over UDP, TCP and
// TLS.
func parseTo(arg string) ([]toAddr, error) {
	trans, rest := pkgparse.Transport(arg)
	if trans != transport.DNS && trans != transport.TLS {
		return nil, fmt.Errorf("%s:// is not supported: use IP[:PORT], dns://IP[:PORT], tls://IP[:PORT] or a resolv.conf file", trans)
	}
	if rest == "" {
		return nil, errors.New("no address after the scheme")
	}
	// forward's tls://IP%NAME (a server name per upstream) has no
	// counterpart here, nor has an IPv6 zone.
	if strings.Contains(rest, "%") {
		return nil, errors.New("a %NAME or %ZONE suffix is not supported (the server name of tls:// upstreams is tls_servername)")
	}
	hosts, err := pkgparse.HostPortOrFile(arg)
	if errors.Is(err, pkgparse.ErrNoNameservers) {
		return nil, fmt.Errorf("no nameserver in %q", rest)
	}
	if err != nil {
		return nil, err
	}
	addrs := make([]toAddr, 0, len(hosts))
	for _, h := range hosts {
		t, hostPort := pkgparse.Transport(h)
		// A file's nameservers come back without a scheme: tls:// on a file
		// would quietly mean plain DNS (forward's reading), so it is refused.
		if trans == transport.TLS && t != transport.TLS {
			return nil, errors.New("tls:// takes an IP address, not a resolv.conf file")
		}
		addrs = append(addrs, toAddr{hostPort: hostPort, tls: t == transport.TLS})
	}
	return addrs, nil
}

// upstreamKey is how the shim recognises an upstream in the core's SEND
// actions, which give IPv4-mapped addresses unmapped.
func upstreamKey(hostPort string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(hostPort)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// tlsArgs makes the `tls [CERT [KEY [CA]]]` client configuration as forward
// does: relative paths are under the server block's root; 0 arguments mean
// the system's CAs, 1 a CA file, 2 a client certificate and key, 3 both.
func tlsArgs(args []string, root string) (*tls.Config, error) {
	paths := make([]string, len(args))
	for i, p := range args {
		if !filepath.IsAbs(p) && root != "" {
			p = filepath.Join(root, p)
		}
		paths[i] = p
	}
	return pkgtls.NewTLSConfigFromArgs(paths...)
}

// newTLSUpstreams is the TLS set-up of a block's tls:// upstreams (nil when
// it has none): base from `tls` (nil: the system's CAs), serverName from
// `tls_servername` (empty: the certificate must name the upstream's IP
// address, as forward checks it).
func newTLSUpstreams(addrs []netip.AddrPort, base *tls.Config, serverName string) (*tlsUpstreams, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	if base == nil {
		var err error
		if base, err = pkgtls.NewTLSConfigFromArgs(); err != nil {
			return nil, err
		}
	}
	cfg := base.Clone()
	if serverName != "" {
		cfg.ServerName = serverName
	}
	// A new connection per try: resumed sessions make its handshake
	// cheaper. One cached session per upstream bounds the memory.
	t := &tlsUpstreams{config: cfg, addrs: make(map[netip.AddrPort]struct{}, len(addrs))}
	for _, a := range addrs {
		t.addrs[a] = struct{}{}
	}
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(len(t.addrs))
	return t, nil
}
