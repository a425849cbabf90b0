package deploy_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKubeadmConfigMapServesToken: the kube-system/coredns ConfigMap of
// deploy/kubeadm, its Corefile run as it is but for the loopback addresses
// (localize).
func TestKubeadmConfigMapServesToken(t *testing.T) {
	var cm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict(repoFile(t, "deploy/kubeadm/coredns-configmap.yaml"), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Namespace != "kube-system" || cm.Metadata.Name != "coredns" {
		t.Fatalf("%s %s %s/%s, want v1 ConfigMap kube-system/coredns", cm.APIVersion, cm.Kind, cm.Metadata.Namespace, cm.Metadata.Name)
	}
	corefile, ok := cm.Data["Corefile"]
	if !ok || !strings.Contains(corefile, "acmeforward") {
		t.Fatalf("data.Corefile missing or without acmeforward: %q", corefile)
	}
	serveDemoToken(t, "coredns-kubeadm", corefile)
}
