package deploy_test

import (
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// TestKustomizeSwapsImage builds deploy/kustomize with kustomize's own
// engine (krusty, what `kubectl kustomize` runs) on a kubeadm coredns
// Deployment: the result is that Deployment with the container `coredns`
// running the image `make image` builds, and nothing else changed.
func TestKustomizeSwapsImage(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	for name, text := range map[string][]byte{
		"/k/kustomization.yaml": repoFile(t, "deploy/kustomize/kustomization.yaml"),
		"/k/coredns-image.yaml": repoFile(t, "deploy/kustomize/coredns-image.yaml"),
		"/k/coredns.yaml":       readTestdata(t, "coredns-deployment.yaml"),
	} {
		if err := fs.WriteFile(name, text); err != nil {
			t.Fatal(err)
		}
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatalf("kustomize build deploy/kustomize: %v", err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kustomize build:\n%s", out)

	var got, want map[string]any
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(readTestdata(t, "coredns-deployment.yaml"), &want); err != nil {
		t.Fatal(err)
	}
	if n := len(resources.Resources()); n != 1 {
		t.Fatalf("%d resources, want the one Deployment", n)
	}
	// The expected result: the base with only that container's image set.
	containers := want["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
	coredns := containers[0].(map[string]any)
	if coredns["name"] != "coredns" {
		t.Fatalf("testdata: first container %v, want coredns", coredns["name"])
	}
	coredns["image"] = madeImage(t)
	if !reflect.DeepEqual(got, want) {
		gotY, _ := yaml.Marshal(got)
		wantY, _ := yaml.Marshal(want)
		t.Fatalf("kustomize build gave\n%s\nwant\n%s", gotY, wantY)
	}
}
