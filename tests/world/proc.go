package world

// What a server process holds, read from /proc: open sockets and resident
// memory, sampled while a load runs, for the resource bounds of the flood
// test and the soak.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcSockets counts the open file descriptors of pid that are sockets.
func ProcSockets(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		// A descriptor closed between the listing and the readlink is gone:
		// not counted.
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n, nil
}

// ProcRSS is the resident set size of pid in bytes (VmRSS).
func ProcRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) != 2 || fs[1] != "kB" {
				return 0, fmt.Errorf("VmRSS line %q", s.Text())
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			return kb * 1024, err
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// UDPRcvbufErrors is the machine's count of UDP datagrams dropped because
// a socket's receive buffer was full (RcvbufErrors in /proc/net/snmp). A
// flood that overflows the server's listening socket drops ordinary queries
// before the server sees them; the count tells that apart from a server
// that read a query and did not answer.
func UDPRcvbufErrors() (int64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Udp: ")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if names == nil {
			names = fs
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(fs) {
				return strconv.ParseInt(fs[i], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no Udp RcvbufErrors in /proc/net/snmp")
}

// ProcSample is one reading of a process.
type ProcSample struct {
	RSS     int64
	Sockets int
}

// Sampler reads a process's RSS and open sockets at an interval and keeps
// the peaks.
type Sampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	peak    ProcSample
	last    ProcSample
	samples int
	err     error
}

// StartSampler samples pid every interval until Stop; each sample is also
// given to onSample (nil: none), which may stop a load that runs away.
func StartSampler(pid int, every time.Duration, onSample func(ProcSample)) *Sampler {
	s := &Sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			smp, err := s.sample()
			s.mu.Lock()
			if err != nil && s.err == nil {
				s.err = err
			}
			if err == nil {
				s.samples++
				s.last = smp
				s.peak.RSS = max(s.peak.RSS, smp.RSS)
				s.peak.Sockets = max(s.peak.Sockets, smp.Sockets)
			}
			s.mu.Unlock()
			if err == nil && onSample != nil {
				onSample(smp)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *Sampler) sample() (ProcSample, error) {
	rss, err := ProcRSS(s.pid)
	if err != nil {
		return ProcSample{}, err
	}
	n, err := ProcSockets(s.pid)
	return ProcSample{RSS: rss, Sockets: n}, err
}

// Peak is the highest RSS and socket count seen so far (each on its own),
// and the number of samples.
func (s *Sampler) Peak() (ProcSample, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples
}

// Stop ends the sampling; it returns the peaks, the number of samples and
// the first error (a process that went away).
func (s *Sampler) Stop() (ProcSample, int, error) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples, s.err
}

// ReadProc is one sample of pid now.
func ReadProc(pid int) (ProcSample, error) {
	return (&Sampler{pid: pid}).sample()
}

// MiB formats bytes as MiB.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
