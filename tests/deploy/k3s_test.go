package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestK3sCustomServesToken: deploy/k3s's coredns-custom ConfigMap, its keys
// written as files into a directory that a k3s-style Corefile imports (as
// k3s mounts the ConfigMap on /etc/coredns/custom), through CoreDNS's own
// `import`: the override lands in the main server block and serves the token.
func TestK3sCustomServesToken(t *testing.T) {
	var cm struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(repoFile(t, "deploy/k3s/coredns-custom.yaml"), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Metadata.Namespace != "kube-system" || cm.Metadata.Name != "coredns-custom" {
		t.Fatalf("ConfigMap %s/%s, want kube-system/coredns-custom", cm.Metadata.Namespace, cm.Metadata.Name)
	}
	custom := t.TempDir()
	overrides := 0
	for key := range cm.Data {
		if !strings.HasSuffix(key, ".override") && !strings.HasSuffix(key, ".server") {
			t.Fatalf("key %q: k3s imports only *.override and *.server", key)
		}
		if strings.HasSuffix(key, ".override") {
			overrides++
		}
	}
	if overrides == 0 {
		t.Fatal("no *.override key: nothing reaches the main server block")
	}
	corefile := strings.ReplaceAll(string(readTestdata(t, "k3s.Corefile")), "/etc/coredns/custom/", custom+"/")
	// The keys are written only once the world's knot is known: no file
	// that names the public resolvers is ever there for CoreDNS to read.
	serveDemoTokenWith(t, "coredns-k3s", corefile, func(to string) {
		for key, text := range cm.Data {
			if err := os.WriteFile(filepath.Join(custom, key), []byte(localizeTo(t, text, to)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}
