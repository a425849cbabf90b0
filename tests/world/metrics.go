package world

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MetricSamples scrapes a prometheus endpoint (on loopback) and gives the
// samples of the metric name, keyed by their label set as printed
// (`{reason="x",server="y"}`, or "" without labels). None: an empty map.
func MetricSamples(addr netip.AddrPort, name string) (map[string]float64, error) {
	if err := MustLoopback(addr); err != nil {
		return nil, err
	}
	// No keep-alive: an idle scrape connection would hold a socket and
	// goroutines in CoreDNS, which the leak checks count.
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scraping metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping metrics: %s", resp.Status)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %v", line, err)
		}
		samples[strings.TrimSpace(strings.TrimPrefix(strings.TrimSuffix(line, f[len(f)-1]), name))] += v
	}
	return samples, nil
}

// MetricSum is the sum of every sample of a metric (0 when there is none).
func MetricSum(addr netip.AddrPort, name string) (float64, error) {
	samples, err := MetricSamples(addr, name)
	var sum float64
	for _, v := range samples {
		sum += v
	}
	return sum, err
}

// ByLabel sums samples by the value of one label ("(no <label>)" for samples
// without it).
func ByLabel(samples map[string]float64, label string) map[string]float64 {
	// The whole label name: "to" is not the end of "proto".
	re := regexp.MustCompile(`[{,]` + regexp.QuoteMeta(label) + `="([^"]*)"`)
	out := map[string]float64{}
	for labels, v := range samples {
		key := "(no " + label + ")"
		if m := re.FindStringSubmatch(labels); m != nil {
			key = m[1]
		}
		out[key] += v
	}
	return out
}
