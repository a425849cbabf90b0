package acmeforward

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
)

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

// defaultTimeout is the per-try upstream timeout when the block has no
// `timeout`. It equals the core's default; the shim always hands its value to
// the core explicitly, so the two cannot disagree.
const defaultTimeout = 2 * time.Second

// defaultMaxConcurrent is the core's default bound on exchanges in flight; the
// shim enforces the bound, so it needs the number (the core checks a given
// one).
const defaultMaxConcurrent = 1000

func setup(c *caddy.Controller) error {
	a, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	// The engine's C handle (and its learned and prefetched state) lives as
	// long as this instance of the server: a reload builds a new one and
	// shuts this one down. The prefetch starts before the server listens, and
	// start-up waits (bounded) for its first round, so that a fresh replica
	// decides as every other replica does from its first query.
	a.server = serverLabel(dnsserver.GetConfig(c))
	c.OnStartup(a.OnStartup)
	c.OnShutdown(a.OnShutdown)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		a.Next = next
		return a
	})
	return nil
}

// parse reads one acmeforward block:
//
//	acmeforward [ZONE...] {
//	    to TO...
//	    tls [CERT [KEY [CA]]]
//	    tls_servername NAME
//	    timeout DURATION
//	    max_ttl SECONDS
//	    discovery on|off
//	    delegated ZONE...
//	    upstream_mode recursive|authoritative
//	    max_learned ENTRIES
//	    hairpin NAME... TARGET...
//	    protect ZONE...
//	    allow_ns NET...
//	    max_time DURATION
//	    max_concurrent N
//	    labels LABEL...
//	    public_hosts HOST...
//	}
//
// TO is what forward's TO takes but for the transports the shim lacks:
// IP[:PORT], dns://IP[:PORT], tls://IP[:PORT] (port 853) or a resolv.conf
// file (its nameservers); `tls` and `tls_servername` set up the tls://
// upstreams as in forward (see parseTo).
//
// Without ZONE the plugin applies to every name the server block receives: no
// zone is handed to the core, and the core's empty zone list means all zones.
// (The server block's own zones are deliberately not used as a default.)
// Every value is checked by the Rust config builder (the shim only turns
// words and numbers into their C form); its result text becomes the reason in
// the error, which carries the Corefile's file and line. `delegated`,
// `hairpin`, `protect`, `allow_ns` and `public_hosts` may be repeated; every other option may
// appear once (`labels` too: it replaces the default challenge labels, so
// one line lists the whole set). A hairpin
// line's arguments go to the core joined with spaces: it parses them (names,
// wildcards, IP or name targets) and reports what is wrong. No option takes a
// block. allow_ns outside authoritative mode is warned about once the block is
// read.
func parse(c *caddy.Controller) (*AcmeForward, error) {
	var a *AcmeForward
	for c.Next() {
		if a != nil {
			a.OnShutdown()
			return nil, c.Err(plugin.ErrOnce.Error())
		}
		var err error
		if a, err = parseBlock(c); err != nil {
			return nil, err
		}
	}
	if a == nil {
		return nil, c.ArgErr()
	}
	return a, nil
}

func parseBlock(c *caddy.Controller) (*AcmeForward, error) {
	b := newConfigBuilder()
	defer b.Close()

	for _, zone := range c.RemainingArgs() {
		if err := b.AddZone(zone); err != nil {
			return nil, c.Errf("invalid zone %q: %s", zone, reason(err))
		}
	}

	if err := b.SetTimeout(defaultTimeout); err != nil {
		return nil, c.Errf("default timeout %s: %s", defaultTimeout, reason(err))
	}
	maxConcurrent := int64(defaultMaxConcurrent)
	// The tls:// upstreams, and the options that set them up: applied once
	// the whole block is read, as `tls` may come after `to`.
	var tlsAddrs, plainAddrs []netip.AddrPort
	var tlsBase *tls.Config
	var tlsServerName string
	// allow_ns is used in authoritative mode only; upstream_mode may come after it.
	var allowNSAt string
	authoritative := false
	seen := map[string]bool{}
	for c.NextBlock() {
		option := c.Val()
		switch option {
		case "to", "timeout", "max_ttl", "discovery", "upstream_mode", "max_learned", "max_time", "max_concurrent", "tls", "tls_servername", "labels":
			if seen[option] {
				return nil, c.Errf("duplicate option %q", option)
			}
			seen[option] = true
		case "delegated", "hairpin", "protect", "allow_ns", "public_hosts": // may repeat
		default:
			return nil, c.Errf("unknown option %q", option)
		}
		args := c.RemainingArgs()
		// RemainingArgs stops at a `{` on the option's line. No option takes a block: the
		// dispenser would read the block's lines as options of their own.
		if c.NextArg() {
			if option == "to" {
				return nil, c.Errf("'to' takes no block: options such as tls, tls_servername and max_concurrent go in the acmeforward block itself, each on its own line")
			}
			return nil, c.Errf("option %q takes no block", option)
		}

		switch option {
		case "to":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			isTLS := map[netip.AddrPort]bool{}
			for _, arg := range args {
				addrs, err := parseTo(arg)
				if err != nil {
					return nil, c.Errf("invalid 'to' address %q: %v", arg, err)
				}
				for _, u := range addrs {
					add := b.AddUpstream
					if u.tls {
						add = b.AddUpstreamTLS
					}
					if err := add(u.hostPort); err != nil {
						return nil, c.Errf("invalid 'to' address %q: %s", arg, reason(err))
					}
					key, err := upstreamKey(u.hostPort)
					if err != nil {
						return nil, c.Errf("invalid 'to' address %q: %v", arg, err)
					}
					// One address is one server, reached one way.
					if was, ok := isTLS[key]; ok && was != u.tls {
						return nil, c.Errf("invalid 'to' address %q: %s is given both with and without tls://", arg, key)
					}
					isTLS[key] = u.tls
					if u.tls {
						tlsAddrs = append(tlsAddrs, key)
					} else {
						plainAddrs = append(plainAddrs, key)
					}
				}
			}
		case "tls":
			if len(args) > 3 {
				return nil, c.ArgErr()
			}
			cfg, err := tlsArgs(args, dnsserver.GetConfig(c).Root)
			if err != nil {
				return nil, c.Errf("invalid tls %q: %v", strings.Join(args, " "), err)
			}
			tlsBase = cfg
		case "tls_servername":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			tlsServerName = args[0]
		case "timeout":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			d, err := time.ParseDuration(args[0])
			if err != nil {
				return nil, c.Errf("invalid timeout %q: %v", args[0], err)
			}
			if err := b.SetTimeout(d); err != nil {
				return nil, c.Errf("invalid timeout %q: %s", args[0], reason(err))
			}
		case "max_ttl":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			secs, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return nil, c.Errf("invalid max_ttl %q: not a number of seconds", args[0])
			}
			if err := b.SetMaxTTL(uint32(secs)); err != nil {
				return nil, c.Errf("invalid max_ttl %q: %s", args[0], reason(err))
			}
		case "discovery":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			var on bool
			switch args[0] {
			case "on":
				on = true
			case "off":
			default:
				return nil, c.Errf("invalid discovery %q: must be on or off", args[0])
			}
			if err := b.SetDiscovery(on); err != nil {
				return nil, c.Errf("invalid discovery %q: %s", args[0], reason(err))
			}
		case "delegated":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			for _, zone := range args {
				if err := b.AddDelegated(zone); err != nil {
					return nil, c.Errf("invalid delegated zone %q: %s", zone, reason(err))
				}
			}
		case "max_time":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			d, err := time.ParseDuration(args[0])
			if err != nil {
				return nil, c.Errf("invalid max_time %q: %v", args[0], err)
			}
			if err := b.SetMaxTime(d); err != nil {
				return nil, c.Errf("invalid max_time %q: %s", args[0], reason(err))
			}
		case "max_concurrent":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			n, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return nil, c.Errf("invalid max_concurrent %q: not a number of queries", args[0])
			}
			if err := b.SetMaxConcurrent(n); err != nil {
				return nil, c.Errf("invalid max_concurrent %q: %s", args[0], reason(err))
			}
			maxConcurrent = int64(n)
		case "protect":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			for _, zone := range args {
				if err := b.AddProtected(zone); err != nil {
					return nil, c.Errf("invalid protected zone %q: %s", zone, reason(err))
				}
			}
		case "allow_ns":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			for _, n := range args {
				if err := b.AddAllowNS(n); err != nil {
					return nil, c.Errf("invalid allow_ns network %q: %s", n, reason(err))
				}
			}
			if allowNSAt == "" {
				allowNSAt = c.File() + ":" + strconv.Itoa(c.Line())
			}
		case "public_hosts":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			for _, host := range args {
				if err := b.AddPublicHost(host); err != nil {
					return nil, c.Errf("invalid public_hosts name %q: %s", host, reason(err))
				}
			}
		case "labels":
			if len(args) == 0 {
				return nil, c.ArgErr()
			}
			for _, label := range args {
				if err := b.AddLabel(label); err != nil {
					return nil, c.Errf("invalid label %q: %s", label, reason(err))
				}
			}
		case "hairpin":
			line := strings.Join(args, " ")
			if err := b.AddHairpin(line); err != nil {
				return nil, c.Errf("invalid hairpin %q: %s", line, reason(err))
			}
		case "upstream_mode":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			var mode UpstreamMode
			switch args[0] {
			case "recursive":
				mode = UpstreamRecursive
			case "authoritative":
				mode = UpstreamAuthoritative
			default:
				return nil, c.Errf("invalid upstream_mode %q: must be recursive or authoritative", args[0])
			}
			if err := b.SetUpstreamMode(mode); err != nil {
				return nil, c.Errf("invalid upstream_mode %q: %s", args[0], reason(err))
			}
			authoritative = mode == UpstreamAuthoritative
		case "max_learned":
			if len(args) != 1 {
				return nil, c.ArgErr()
			}
			n, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return nil, c.Errf("invalid max_learned %q: not a number of entries", args[0])
			}
			if err := b.SetMaxLearned(n); err != nil {
				return nil, c.Errf("invalid max_learned %q: %s", args[0], reason(err))
			}
		}
	}
	tlsUp, err := newTLSUpstreams(tlsAddrs, tlsBase, tlsServerName)
	if err != nil {
		return nil, c.Errf("tls: %v", err)
	}
	if tlsUp == nil && (tlsBase != nil || tlsServerName != "") {
		log.Warningf("tls and tls_servername apply to tls:// upstreams only, and 'to' has none")
	}
	if allowNSAt != "" && !authoritative {
		log.Warningf("%s: allow_ns applies to upstream_mode authoritative only: unused in recursive mode", allowNSAt)
	}
	engine, err := b.Build()
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Code == resultNoUpstream {
			return nil, c.Errf("missing 'to': %s", reason(err))
		}
		return nil, c.Errf("invalid configuration: %s", reason(err))
	}
	return &AcmeForward{engine: engine, maxConcurrent: maxConcurrent, up: newUpstreams(plainAddrs, tlsUp)}, nil
}

// OnStartup starts the prefetch and waits for its first round, at most
// prefetchWait.
func (a *AcmeForward) OnStartup() error {
	p := startPrefetch(a.engine, a.server, a.up, func(ctx context.Context, query, buf []byte) ([]byte, string, error) {
		return a.askChain(ctx, chainClient{}, query, buf)
	})
	a.prefetch.Store(p)
	refused.add(a.engine, a.server)
	if !p.waitReady(prefetchWait) {
		log.Warningf("the first prefetch of the listed and delegated zones' nameservers is not done after %s; starting anyway", prefetchWait)
	}
	return nil
}

// Ready implements the ready plugin's Readiness: ready once the first
// prefetch round is done.
func (a *AcmeForward) Ready() bool {
	p := a.prefetch.Load()
	return p != nil && p.isUp.Load()
}

// OnShutdown stops the prefetch, then closes the core's engine (configuration,
// learned and prefetched state; freed once nothing reaches it). New questions
// on a stopped server pass to the next plugin; exchanges already in flight
// finish on the engine they co-own (see Engine.Close).
func (a *AcmeForward) OnShutdown() error {
	if p := a.prefetch.Load(); p != nil {
		p.Stop()
	}
	refused.retire(a.engine)
	a.engine.Close()
	if a.up != nil {
		a.up.Close()
	}
	return nil
}

// serverLabel is the "server" label of the metrics not tied to a query (the
// prefetch, the refused facts), spelled as CoreDNS spells a server's address
// ("dns://:53").
func serverLabel(cfg *dnsserver.Config) string {
	host := ""
	if len(cfg.ListenHosts) > 0 {
		host = cfg.ListenHosts[0]
	}
	transport := cfg.Transport
	if transport == "" {
		transport = "dns"
	}
	return transport + "://" + net.JoinHostPort(host, cfg.Port)
}

// reason is the core's text for a builder error.
func reason(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code.String()
	}
	return err.Error()
}
