package world

import (
	"fmt"
	"net/netip"
	"os"
)

// WriteResolvConf writes a resolv.conf that names server as the only
// nameserver, as a pod's resolv.conf names the cluster's CoreDNS. A
// resolv.conf has no port field: server must be on port 53.
func WriteResolvConf(path string, server netip.AddrPort) error {
	if err := MustLoopback(server); err != nil {
		return err
	}
	if server.Port() != 53 {
		return fmt.Errorf("resolv.conf nameserver %s: a resolv.conf can only name port 53", server)
	}
	text := fmt.Sprintf("# the pod's resolver (acmeforward tests)\nnameserver %s\noptions timeout:2 attempts:1\n", server.Addr())
	return os.WriteFile(path, []byte(text), 0o644)
}

// PodArgv wraps argv so that it runs as in a pod: in a private mount
// namespace (unshare -m, private propagation) where resolvConf is bind-mounted
// on /etc/resolv.conf, so the system resolver of the client (Go's, glibc's,
// or a library reading /etc/resolv.conf) asks only the server it names and
// never the machine's own. The network namespace is the machine's: the
// world's loopback addresses are reachable. Needs root (CAP_SYS_ADMIN).
func PodArgv(resolvConf string, argv ...string) []string {
	return append([]string{"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`, "pod", resolvConf}, argv...)
}
