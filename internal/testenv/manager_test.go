package testenv

import (
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A manager started with a ServiceAccount acts as it: every user of its
// kubeconfig impersonates the ServiceAccount's user name; without one the
// kubeconfig is the test's own; a name that is not namespace/name is an
// error, not the admin.
func TestImpersonatingKubeconfig(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.AuthInfos["other"] = &clientcmdapi.AuthInfo{Token: "u"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "admin"}
	cfg.CurrentContext = "x"
	raw, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}

	same, err := impersonating(raw, "")
	if err != nil || string(same) != string(raw) {
		t.Fatalf("without a ServiceAccount: %v, changed %t", err, string(same) != string(raw))
	}
	out, err := impersonating(raw, "ingresse-system/ingresse-receiver")
	if err != nil {
		t.Fatal(err)
	}
	got, err := clientcmd.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for name, user := range got.AuthInfos {
		if user.Impersonate != "system:serviceaccount:ingresse-system:ingresse-receiver" {
			t.Errorf("user %s impersonates %q", name, user.Impersonate)
		}
	}
	for _, bad := range []string{"ingresse-receiver", "/ingresse-receiver", "ingresse-system/", "/"} {
		if _, err := impersonating(raw, bad); err == nil {
			t.Errorf("service account %q: no error", bad)
		}
	}
}
