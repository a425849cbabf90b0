package deploy_test

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// helmValues are the keys of the coredns chart's values that deploy/helm
// sets (the chart's values.yaml names them; UnmarshalStrict fails on a key
// the chart does not have at these levels).
type helmValues struct {
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		PullPolicy string `json:"pullPolicy"`
	} `json:"image"`
	Servers []helmServer `json:"servers"`
}

type helmServer struct {
	Zones []struct {
		Zone   string `json:"zone"`
		Scheme string `json:"scheme"`
		UseTCP bool   `json:"use_tcp"`
	} `json:"zones"`
	Port    int `json:"port"`
	Plugins []struct {
		Name        string `json:"name"`
		Parameters  string `json:"parameters"`
		ConfigBlock string `json:"configBlock"`
	} `json:"plugins"`
}

// corefile is the server block the chart's ConfigMap template makes of s:
// the zones (scheme + zone, "." by default) and ":port", then one line per
// plugin, "name parameters", with configBlock as the plugin's block.
func (s helmServer) corefile() string {
	var b strings.Builder
	var keys []string
	for _, z := range s.Zones {
		zone := z.Zone
		if zone == "" {
			zone = "."
		}
		keys = append(keys, z.Scheme+zone)
	}
	if len(keys) == 0 {
		keys = []string{"."}
	}
	b.WriteString(strings.Join(keys, " "))
	if s.Port != 0 {
		fmt.Fprintf(&b, ":%d", s.Port)
	}
	b.WriteString(" {\n")
	for _, p := range s.Plugins {
		b.WriteString("    " + p.Name)
		if p.Parameters != "" {
			b.WriteString(" " + p.Parameters)
		}
		if p.ConfigBlock != "" {
			b.WriteString(" {\n")
			for _, l := range strings.Split(p.ConfigBlock, "\n") {
				b.WriteString("        " + l + "\n")
			}
			b.WriteString("    }")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// TestHelmValuesServeToken: deploy/helm/values.yaml names the image `make
// image` builds, and the server block it describes runs (localize) and
// serves the token.
func TestHelmValuesServeToken(t *testing.T) {
	var v helmValues
	if err := yaml.UnmarshalStrict(repoFile(t, "deploy/helm/values.yaml"), &v); err != nil {
		t.Fatal(err)
	}
	if got, want := v.Image.Repository+":"+v.Image.Tag, madeImage(t); got != want {
		t.Fatalf("image %s, want %s (the Makefile's IMAGE)", got, want)
	}
	if len(v.Servers) != 1 {
		t.Fatalf("%d servers, want 1", len(v.Servers))
	}
	serveDemoToken(t, "coredns-helm", v.Servers[0].corefile())
}
