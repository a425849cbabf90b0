// Command soak floods a CoreDNS with acmeforward with random challenge
// questions alongside ordinary traffic, with the upstream in turn silent,
// slow and healthy, and reports the process's peak memory and sockets, the
// share of ordinary questions answered, and the share of challenge
// questions answered. Everything runs on 127.0.0.0/8: dnsmasq (the internal
// server) and CoreDNS are started and stopped by PID, the upstream is a fake
// in this process. benches/soak/run.sh builds and runs it; see
// benches/soak/README.md.
//
//	cd tests && go run ./cmd/soak -coredns ../build/bin/coredns
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

type options struct {
	coredns       string
	seconds       time.Duration
	rate, senders int
	workers       int
	maxConcurrent int
	timeout       time.Duration
	slow          time.Duration
	drain         time.Duration
	phases        []string
	abortSockets  int
	abortGrowth   int64
}

func main() {
	var o options
	var phases string
	var abortMiB int64
	def := os.Getenv(world.EnvCoreDNS)
	if def == "" {
		def = "../build/bin/coredns"
	}
	flag.StringVar(&o.coredns, "coredns", def, "CoreDNS binary with acmeforward (default $"+world.EnvCoreDNS+" or ../build/bin/coredns)")
	flag.DurationVar(&o.seconds, "duration", 30*time.Second, "flood duration of each phase")
	flag.IntVar(&o.rate, "rate", 5000, "challenge questions per second")
	flag.IntVar(&o.senders, "senders", 64, "UDP sockets the flood is spread over")
	flag.IntVar(&o.workers, "ordinary", 4, "ordinary clients (one question at a time each, 10ms apart)")
	flag.IntVar(&o.maxConcurrent, "max-concurrent", 1000, "max_concurrent in the acmeforward block (0: leave the line out)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Second, "timeout (per try) in the acmeforward block")
	flag.DurationVar(&o.slow, "slow", time.Second, "the slow upstream's delay (below -timeout)")
	flag.DurationVar(&o.drain, "drain", 6*time.Second, "how long replies are awaited after each phase's last question")
	flag.StringVar(&phases, "phases", "silent,slow,healthy", "upstream behaviours, in order: silent, slow, healthy")
	flag.IntVar(&o.abortSockets, "abort-sockets", 10000, "stop a phase when CoreDNS holds more sockets (protects the machine)")
	flag.Int64Var(&abortMiB, "abort-growth-mib", 2048, "stop a phase when CoreDNS's RSS has grown by more MiB")
	flag.Parse()
	o.phases = strings.Split(phases, ",")
	o.abortGrowth = abortMiB << 20

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

var phaseModes = map[string]world.FakeMode{"silent": world.FakeSilent, "slow": world.FakeSlow, "healthy": world.FakeGood}

// phaseResult is one phase's numbers.
type phaseResult struct {
	name     string
	flood    world.FloodStats
	ordinary world.OrdinaryStats
	peak     world.ProcSample
	rejects  float64
	aborted  string
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	for _, p := range o.phases {
		if _, ok := phaseModes[p]; !ok {
			return fmt.Errorf("unknown phase %q (silent, slow, healthy)", p)
		}
	}
	if o.slow >= o.timeout {
		return fmt.Errorf("-slow %v must be below -timeout %v", o.slow, o.timeout)
	}
	if err := world.CheckBinary(o.coredns); err != nil {
		return err
	}
	w, err := world.Start(world.Options{Hidden: []string{"example.com"}, Hosts: []world.HostRecord{world.InternalCom}})
	if err != nil {
		return err
	}
	defer func() {
		if serr := w.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	up, err := world.StartFake(world.FakeConfig{Mode: world.FakeSilent, Delay: o.slow})
	if err != nil {
		return err
	}
	defer up.Close()
	addr, err := world.NewAddr()
	if err != nil {
		return err
	}
	metrics, err := world.NewAddr()
	if err != nil {
		return err
	}
	// No zone listed: every challenge name is forwarded, and no prefetch
	// asks the upstream anything between phases.
	acme := world.Acme{To: []netip.AddrPort{up.Addr}, Timeout: o.timeout.String(), MaxTTL: 30, MaxConcurrent: o.maxConcurrent}
	corefile := world.LoadCorefile(addr, metrics, w.Dnsmasq.Addr, acme.String())
	s, err := w.StartCoreDNS(world.CoreDNS{Name: "coredns-soak", Binary: o.coredns, Corefile: corefile, Addr: addr})
	if err != nil {
		return err
	}
	base, err := world.ReadProc(s.PID())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "soak: CoreDNS %s (pid %d) on %s, upstream %s, dnsmasq %s; %d cores\n", o.coredns, s.PID(), s.Addr, up.Addr, w.Dnsmasq.Addr, runtime.NumCPU())
	fmt.Fprintf(out, "flood: %d challenge questions/s over %d UDP sockets for %v per phase; %d ordinary clients; acmeforward: timeout %v, max_concurrent %s\n",
		o.rate, o.senders, o.seconds, o.workers, o.timeout, orDefault(o.maxConcurrent))
	fmt.Fprintf(out, "baseline: RSS %s, %d sockets\n\n", world.MiB(base.RSS), base.Sockets)

	var results []phaseResult
	for _, p := range o.phases {
		if ctx.Err() != nil {
			break
		}
		up.SetMode(phaseModes[p])
		fmt.Fprintf(out, "phase %s: upstream %s ...\n", p, up.Mode())
		r, err := phase(ctx, o, s, metrics, base)
		if err != nil {
			return err
		}
		r.name = p
		results = append(results, r)
		fmt.Fprintf(out, "  challenge: %s\n  ordinary:  %s\n  peak RSS %s, peak sockets %d, max_concurrent rejects %g%s\n\n",
			r.flood, r.ordinary, world.MiB(r.peak.RSS), r.peak.Sockets, r.rejects, abortNote(r.aborted))
		if exited, werr := s.Exited(); exited {
			return fmt.Errorf("CoreDNS exited during phase %s (%v)\n%s", p, werr, s.Log())
		}
	}
	report(out, base, results)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

func phase(ctx context.Context, o options, s *world.Server, metrics netip.AddrPort, base world.ProcSample) (phaseResult, error) {
	var r phaseResult
	rejects := func() float64 {
		v, _ := world.MetricSum(metrics, "coredns_acmeforward_max_concurrent_rejects_total")
		return v
	}
	before := rejects()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	sampler := world.StartSampler(s.PID(), 100*time.Millisecond, func(p world.ProcSample) {
		if p.Sockets > o.abortSockets || p.RSS-base.RSS > o.abortGrowth {
			mu.Lock()
			if r.aborted == "" {
				r.aborted = fmt.Sprintf("%d sockets, RSS %s", p.Sockets, world.MiB(p.RSS))
			}
			mu.Unlock()
			stop()
		}
	})
	ordinary := world.Ordinary{Server: s.Addr, Workers: o.workers, Tries: 3, TryTimeout: 2 * time.Second, Pause: 10 * time.Millisecond,
		Question: world.OrdinaryQuestions(world.InternalCom.Name)}
	octx, ostop := context.WithCancel(pctx)
	odone := make(chan error, 1)
	go func() {
		var err error
		r.ordinary, err = ordinary.Run(octx)
		odone <- err
	}()
	flood := world.Flood{Server: s.Addr, Rate: o.rate, Senders: o.senders, Duration: o.seconds, Drain: o.drain,
		Name: func(rnd *rand.Rand) string { return world.ChallengeName(rnd, "example.com") }, Type: world.TypeTXT}
	var ferr error
	r.flood, ferr = flood.Run(pctx)
	ostop()
	oerr := <-odone
	peak, _, serr := sampler.Stop()
	r.peak = peak
	r.rejects = rejects() - before
	return r, errors.Join(ferr, oerr, serr)
}

func report(out io.Writer, base world.ProcSample, results []phaseResult) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tchallenge sent\tanswered\tREFUSED\tSERVFAIL\tno reply\tordinary asked\tordinary answered\tpeak RSS\tRSS growth\tpeak sockets\t")
	var peak world.ProcSample
	for _, r := range results {
		f := r.flood
		name := r.name
		if r.aborted != "" {
			name += " (stopped)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t\n", name, f.Sent,
			share(f.Answered, f.Sent), share(f.Rcodes[5], f.Sent), share(f.Rcodes[2], f.Sent), share(f.Sent-f.Replies, f.Sent),
			r.ordinary.Asked, share(r.ordinary.Answered, r.ordinary.Asked),
			world.MiB(r.peak.RSS), world.MiB(r.peak.RSS-base.RSS), r.peak.Sockets)
		peak.RSS = max(peak.RSS, r.peak.RSS)
		peak.Sockets = max(peak.Sockets, r.peak.Sockets)
	}
	tw.Flush()
	fmt.Fprintf(out, "\noverall: peak RSS %s (baseline %s, growth %s), peak sockets %d (baseline %d)\n",
		world.MiB(peak.RSS), world.MiB(base.RSS), world.MiB(peak.RSS-base.RSS), peak.Sockets, base.Sockets)
	for _, r := range results {
		if r.name == "healthy" {
			fmt.Fprintf(out, "challenge questions answered with the upstream healthy: %s\n", share(r.flood.Answered, r.flood.Sent))
		}
	}
	var asked, answered int64
	for _, r := range results {
		asked += r.ordinary.Asked
		answered += r.ordinary.Answered
	}
	fmt.Fprintf(out, "ordinary questions answered: %s (%d of %d)\n", share(answered, asked), answered, asked)
}

func share(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

func orDefault(n int) string {
	if n == 0 {
		return "(default)"
	}
	return fmt.Sprint(n)
}

func abortNote(a string) string {
	if a == "" {
		return ""
	}
	return "; STOPPED EARLY at " + a
}
