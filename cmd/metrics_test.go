package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// TestMetricsAreAuthenticated: with --metrics-secure (the default), the
// binary serves /metrics over HTTPS, to scrapers the API server
// authenticates (TokenReview) and authorizes (SubjectAccessReview): no
// token is refused, the token of a ServiceAccount without rights is
// refused, and a ServiceAccount bound to config/rbac's metrics-reader
// ClusterRole gets the metrics.
func TestMetricsAreAuthenticated(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	var raw []byte
	m, err := env.StartManager(testenv.ManagerOptions{Namespace: ns, Tokens: []string{"tok-metrics-5a0c"}, Args: []string{"--metrics-secure=true"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(30 * time.Second) })
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.WaitReady(readyCtx); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(m.MetricsURL, "http://", "https://", 1)

	// The reader ClusterRole exactly as config/rbac ships it.
	raw, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var reader rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &reader); err != nil {
		t.Fatal(err)
	}
	reader.Name = "metrics-reader-" + ns
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: reader.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}},
	}
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "stranger", Namespace: ns}},
		&reader, binding,
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), o) })
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	// The certificate is self-signed: what is tested is who may read.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	scrape := func(bearer string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The metrics server may start listening just after readiness.
	eventually(t, 30*time.Second, "the metrics endpoint listening", func() error {
		resp, err := c.Get(url)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	})
	if code, _ := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("a scrape with no token answered %d, want 401", code)
	}
	// controller-runtime's filter answers a token the API server cannot
	// read with 500, not 401; refused either way.
	if code, body := scrape("not-a-token"); code == http.StatusOK || strings.Contains(body, "ingresse_") {
		t.Errorf("a scrape with a made-up token answered %d", code)
	}
	if code, _ := scrape(token("stranger")); code != http.StatusForbidden {
		t.Errorf("a ServiceAccount without the reader role answered %d, want 403", code)
	}
	// RBAC takes a moment to reach the authorizer's cache.
	eventually(t, 30*time.Second, "the reader's scrape", func() error {
		code, body := scrape(token("prometheus"))
		if code != http.StatusOK || !strings.Contains(body, "ingresse_receiver_in_flight_requests") {
			return fmt.Errorf("answered %d: %.200s", code, body)
		}
		return nil
	})
	if resp, err := http.Get(m.MetricsURL); err == nil {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "ingresse_") {
			t.Errorf("the secure metrics endpoint answered plain HTTP: %d", resp.StatusCode)
		}
	}
}

// TestEventsByCondition: ingresse_events counts the stored events by
// condition and status from the controller's cache, which keeps only a
// summary of each status: three delivered events become Ready, and one
// whose ConfigMap's name is taken by someone else's is counted not Ready.
func TestEventsByCondition(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	const token = "events-by-condition-token"
	m := startReady(t, testenv.ManagerOptions{Namespace: ns, Tokens: []string{token}})
	taken := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "event-9004", Namespace: ns}, Data: map[string]string{"theirs": "yes"}}
	if err := env.Client.Create(ctx, taken); err != nil {
		t.Fatal(err)
	}
	for id := int64(9001); id <= 9004; id++ {
		if code, answer := deliver(t, m.ReceiverURL, token, testenv.EventVersion(id, 1)); code/100 != 2 {
			t.Fatalf("delivery of event %d: %d %v", id, code, answer)
		}
	}
	eventually(t, time.Minute, "3 events Ready and 1 not", func() error {
		ready := metric(t, m, "ingresse_events", `condition="Ready"`, `status="True"`)
		notReady := metric(t, m, "ingresse_events", `condition="Ready"`, `status="False"`)
		missing := metric(t, m, "ingresse_events", `condition="Ready"`, `status="Missing"`)
		if ready != 3 || notReady != 1 || missing != 0 {
			return fmt.Errorf("Ready: %v True, %v False, %v Missing", ready, notReady, missing)
		}
		return nil
	})
}
