package world

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// StartUnbound starts unbound, a caching recursive resolver that reaches
// every zone of the world at knot (stub zones) and refuses every other name.
// It stands for the public resolvers: the ACME server's (pebble's
// -dnsserver: knot alone does not follow a CNAME out of its zone, a resolver
// does) or a cluster's `to` resolver that caches answers (a record published
// after a first lookup stays hidden behind the cached negative answer).
// With noCache it keeps nothing (cache-max-ttl 0): every question goes to
// knot.
func (w *World) StartUnbound(noCache bool) (*Server, error) {
	if w.Knot == nil {
		return nil, errors.New("unbound needs knot in the world")
	}
	addr, err := NewAddr()
	if err != nil {
		return nil, err
	}
	logPath := w.logPath("unbound")
	conf := filepath.Join(w.Dir, filepath.Base(logPath[:len(logPath)-len(".log")])+".conf")
	var zones []string
	for _, z := range w.Opts.Zones {
		zones = append(zones, z.Name)
	}
	if err := os.WriteFile(conf, []byte(unboundConf(w.Dir, addr, w.Knot.Addr, zones, noCache)), 0o644); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("unbound")
	if err != nil {
		return nil, fmt.Errorf("unbound not found (Debian package unbound): %w", err)
	}
	// Any answer to the readiness probe will do: it has RD clear, which
	// unbound answers from its cache only (REFUSED when it has nothing).
	return w.startDNSServer("unbound", addr, logPath, []string{bin, "-d", "-c", conf})
}
