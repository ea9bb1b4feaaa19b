//go:build e2e

package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// The examples' event, and what the suite's loads send: 50 deliveries a
// second, spread over 50 events (each gets a new version every second).
const (
	exampleEvent = "event-21447"
	loadRate     = 50
	loadEvents   = 50
)

// pods returns the running, not terminating pods of one component
// (receiver or controller).
func pods(t *testing.T, component string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := k8s.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{
		"app.kubernetes.io/name": "ingresse-operator", "app.kubernetes.io/component": component,
	}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestInstall: both Deployments are Available, every pod was admitted
// under the restricted Pod Security level (which the namespace enforces:
// a pod that breaks it is refused) and runs as its component's own
// ServiceAccount, with no restart.
func TestInstall(t *testing.T) { checkInstalled(t) }

// checkInstalled is TestInstall's check, which the Helm chart's install
// passes too.
func checkInstalled(t *testing.T) {
	t.Helper()
	for _, name := range []string{receiverDeployment, controllerDeploy} {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			t.Fatal(err)
		}
		if d.Status.AvailableReplicas != *d.Spec.Replicas || d.Status.AvailableReplicas < 2 {
			t.Errorf("%s: %d of %d replicas available", name, d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
	}
	var namespace corev1.Namespace
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		t.Fatal(err)
	}
	if got := namespace.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace %s enforces Pod Security level %q, want restricted", ns, got)
	}
	unrestricted := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "not-restricted", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: consumerImage}}},
	}
	if err := k8s.Create(ctx, unrestricted, client.DryRunAll); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("a pod that breaks the restricted level was not refused by Pod Security admission: %v", err)
	}
	for component, sa := range map[string]string{"receiver": "ingresse-receiver", "controller": "ingresse-controller"} {
		ps := pods(t, component)
		if len(ps) != 2 {
			t.Errorf("%d %s pods running, want 2", len(ps), component)
		}
		for _, p := range ps {
			if p.Spec.ServiceAccountName != sa {
				t.Errorf("pod %s runs as ServiceAccount %q, want %q", p.Name, p.Spec.ServiceAccountName, sa)
			}
			if !podReady(p) || restarts(p) != 0 {
				t.Errorf("pod %s: ready %t, restarts %d", p.Name, podReady(p), restarts(p))
			}
			if sc := p.Spec.Containers[0].SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("pod %s does not run as non-root", p.Name)
			}
		}
	}
}

// runPrinted runs a command line that `make deploy-local` printed (in
// output), as a newcomer would paste it.
func runPrinted(t *testing.T, output, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+(` + pattern + `.*)$`).FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("make deploy-local printed no line matching %q:\n%s", pattern, output)
	}
	// A Service routes to a pod a moment after the pod is Ready (the
	// EndpointSlice, then kube-proxy's rules): a refused connection
	// (curl's exit status 7) is tried again for a while, as a user would.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.CommandContext(ctx, "sh", "-c", m[1])
		out, err := cmd.CombinedOutput()
		if err == nil {
			return string(out)
		}
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 || time.Now().After(deadline) {
			t.Fatalf("%s: %v\n%s", m[1], err, out)
		}
		time.Sleep(time.Second)
	}
}

// TestExamplesAndConsumer: a consumer workload waits for the example event
// with kubectl wait, then Ingresse's two examples are posted through the
// receiver's Service exactly as `make deploy-local` says (its curl line,
// then its `manager send` line). The event is stored and Ready, its
// ConfigMap exists, and the consumer sees the title in its environment and
// in its mounted file, and the new title in the file after an
// event-update.
func TestExamplesAndConsumer(t *testing.T) {
	startConsumer(t)

	if out := runPrinted(t, deployOutput, "curl "); !strings.Contains(out, `"status":"created"`) {
		t.Errorf("the printed curl line answered %s, want created", out)
	}
	// The same delivery again: stored already.
	if out := runPrinted(t, deployOutput, `\S+/manager send `); !strings.Contains(out, `event-create: HTTP 200 {"status":"unchanged"`) {
		t.Errorf("the printed manager send line answered:\n%s", out)
	}
	code, _, err := post(http.DefaultClient, receiverURL, token, examples.EventUpdate)
	if err != nil || code != http.StatusOK {
		t.Errorf("Ingresse's event-update example answered %d, %v", code, err)
	}
	eventually(t, exampleEvent+" Ready", time.Minute, func() error {
		var e eventsv1alpha1.IngresseEvent
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: exampleEvent}, &e); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(e.Status.Conditions, "Ready") {
			return fmt.Errorf("not Ready: %v", e.Status.Conditions)
		}
		return nil
	})
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: exampleEvent}, &cm); err != nil {
		t.Fatalf("the example's ConfigMap: %v", err)
	}
	if cm.Data["EVENT_TITLE"] != "Webhook Example" {
		t.Errorf("EVENT_TITLE = %q", cm.Data["EVENT_TITLE"])
	}
	waitConsumerLog(t, "env EVENT_TITLE=Webhook Example", 2*time.Minute)
	waitConsumerLog(t, "file EVENT_TITLE=Webhook Example", time.Minute)

	start := time.Now()
	const newTitle = "Webhook Example, renamed"
	code, _, err = post(http.DefaultClient, receiverURL, token, testenv.EventWith(21447, newTitle, time.Now().UTC()))
	if err != nil || code != http.StatusOK {
		t.Fatalf("the event-update answered %d, %v", code, err)
	}
	waitConsumerLog(t, "file EVENT_TITLE="+newTitle, 2*time.Minute)
	addRow(row{
		what:       "Ingresse's two examples (with the curl and `manager send` lines deploy-local prints), then a renaming event-update, through the Service; a consumer pod sees the new title in its mounted file",
		deliveries: 4, requests: 4, acked: 4, stored: 4, converge: time.Since(start),
	})
}

// startConsumer runs the consumer workload: its own ServiceAccount, allowed
// to read IngresseEvents; an init container that waits for the example
// event to be Ready; a container that prints its title from the
// environment and from the mounted ConfigMap.
func startConsumer(t *testing.T) {
	t.Helper()
	const name = "e2e-consumer"
	restricted := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	tmp := corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{eventsv1alpha1.GroupVersion.Group},
				Resources: []string{"ingresseevents"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{
				ServiceAccountName: name,
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				InitContainers: []corev1.Container{{
					Name: "wait", Image: consumerImage, Args: []string{"wait", ns, exampleEvent},
					SecurityContext: restricted, VolumeMounts: []corev1.VolumeMount{tmp},
				}},
				Containers: []corev1.Container{{
					Name: "watch", Image: consumerImage, Args: []string{"watch", "/etc/event/EVENT_TITLE"},
					EnvFrom:         []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: exampleEvent}}}},
					SecurityContext: restricted,
					VolumeMounts:    []corev1.VolumeMount{{Name: "event", MountPath: "/etc/event", ReadOnly: true}, tmp},
				}},
				Volumes: []corev1.Volume{
					{Name: "event", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: exampleEvent}, Optional: ptr.To(true),
					}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
			},
		},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating the consumer's %T: %v", o, err)
		}
	}
}

// waitConsumerLog waits until the consumer's main container printed line.
func waitConsumerLog(t *testing.T, line string, timeout time.Duration) {
	t.Helper()
	eventually(t, "the consumer printing "+line, timeout, func() error {
		b, err := clientset.CoreV1().Pods(ns).GetLogs("e2e-consumer", &corev1.PodLogOptions{Container: "watch"}).DoRaw(ctx)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if l == line {
				return nil
			}
		}
		return fmt.Errorf("it printed %q", b)
	})
}

// TestTokenRotation: once the Secret holds only a new token, every
// receiver pod (asked directly, not through the Service) accepts the new
// token and refuses the retired one, without a restart: the kubelet
// updates the mounted file and the receiver re-reads it.
func TestTokenRotation(t *testing.T) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	newToken, oldToken := hex.EncodeToString(b), token
	var secret corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tokenSecret}, &secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"tokens": []byte(newToken + "\n")}
	if err := k8s.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	receivers := pods(t, "receiver")
	took := eventually(t, "every receiver pod taking the new token", 3*time.Minute, func() error {
		for _, p := range receivers {
			url := "http://" + p.Status.PodIP + ":8082/webhooks/ingresse"
			for _, c := range []struct {
				which, token string
				want         int
			}{{"new", newToken, http.StatusOK}, {"retired", oldToken, http.StatusUnauthorized}} {
				code, _, err := post(http.DefaultClient, url, c.token, examples.EventCreate)
				if err != nil {
					return fmt.Errorf("pod %s: %w", p.Name, err)
				}
				if code != c.want {
					return fmt.Errorf("pod %s answered %d to the %s token, want %d", p.Name, code, c.which, c.want)
				}
			}
		}
		return nil
	})
	token = newToken
	for _, p := range pods(t, "receiver") {
		if restarts(p) != 0 {
			t.Errorf("pod %s restarted %d times", p.Name, restarts(p))
		}
	}
	addRow(row{what: "token rotated through the Secret: each receiver pod accepts the new token and refuses the old one, no restart", converge: took})
}

// TestRollingUpdateUnderLoad: `kubectl rollout restart` of the receiver
// while deliveries arrive through the Service at 50/s. Readiness drops
// first, each old pod keeps serving until the endpoints moved, then drains:
// nothing acknowledged is lost, and no sender sees a connection error.
func TestRollingUpdateUnderLoad(t *testing.T) {
	old := pods(t, "receiver")
	l := startLoad(t, 100000, loadEvents, loadRate)
	time.Sleep(3 * time.Second)
	kubectl(t, "rollout", "restart", "-n", ns, "deployment/"+receiverDeployment)
	kubectl(t, "rollout", "status", "-n", ns, "--timeout=3m", "deployment/"+receiverDeployment)
	eventually(t, "the old receiver pods gone", 2*time.Minute, func() error {
		for _, p := range old {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&p), &corev1.Pod{}); err == nil {
				return fmt.Errorf("pod %s still there", p.Name)
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	l.stopAndWait()
	r := l.settle(t, "rolling update of the receiver (`kubectl rollout restart`) under 50 deliveries/s through the Service")
	if r.connErrors > 0 {
		t.Errorf("%d connection errors during the rolling update (target 0); last: %s", r.connErrors, l.lastErr)
	}
}

// managerPID finds, on this machine, the manager process of a pod: the
// process named manager in the pod's cgroup.
func managerPID(t *testing.T, p corev1.Pod) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		cgroup, _ := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if strings.TrimSpace(string(comm)) == "manager" && strings.Contains(string(cgroup), "pod"+string(p.UID)) {
			return pid
		}
	}
	t.Fatalf("no manager process in pod %s", p.Name)
	return 0
}

// TestReceiverKilledMidLoad: a receiver killed mid-load, first its process
// with SIGKILL (the kubelet restarts the container), then its pod deleted
// with --grace-period=0 --force (the ReplicaSet replaces it). The sender
// sees connection errors and retries; nothing acknowledged is lost.
func TestReceiverKilledMidLoad(t *testing.T) {
	t.Run("process SIGKILLed", func(t *testing.T) {
		l := startLoad(t, 200000, loadEvents, loadRate)
		time.Sleep(3 * time.Second)
		victim := pods(t, "receiver")[0]
		if err := syscall.Kill(managerPID(t, victim), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the killed receiver restarted and Ready", 2*time.Minute, func() error {
			var p corev1.Pod
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&victim), &p); err != nil {
				return err
			}
			if restarts(p) < 1 || !podReady(p) {
				return fmt.Errorf("restarts %d, ready %t", restarts(p), podReady(p))
			}
			return nil
		})
		time.Sleep(3 * time.Second)
		l.stopAndWait()
		l.settle(t, "a receiver's process SIGKILLed mid-load (the kubelet restarts it)")
	})
	t.Run("pod force-deleted", func(t *testing.T) {
		l := startLoad(t, 300000, loadEvents, loadRate)
		time.Sleep(3 * time.Second)
		victim := pods(t, "receiver")[0]
		kubectl(t, "delete", "pod", "-n", ns, victim.Name, "--grace-period=0", "--force")
		eventually(t, "two receivers Ready again", 2*time.Minute, func() error {
			ready := 0
			for _, p := range pods(t, "receiver") {
				if podReady(p) && p.Name != victim.Name {
					ready++
				}
			}
			if ready < 2 {
				return fmt.Errorf("%d receivers ready", ready)
			}
			return nil
		})
		time.Sleep(3 * time.Second)
		l.stopAndWait()
		l.settle(t, "a receiver pod deleted mid-load with --grace-period=0 --force")
	})
}

// leader returns the name of the controller pod that holds the lease.
func leader(t *testing.T) string {
	t.Helper()
	var lease coordinationv1.Lease
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaseName}, &lease); err != nil {
		t.Fatal(err)
	}
	holder, _, _ := strings.Cut(ptr.Deref(lease.Spec.HolderIdentity, ""), "_")
	return holder
}

// TestControllerLeaderDeleted: the controller's leader pod deleted while
// deliveries arrive: another replica takes the lease, and every event
// converges. The leader releases the lease as it stops, so the replica
// standing by usually takes it at its next retry (--leader-election-retry-
// period, 2s); here, where images are local, the pod replacing the leader
// sometimes starts and asks first. Either way the row says which.
func TestControllerLeaderDeleted(t *testing.T) {
	old := leader(t)
	var standby string
	for _, p := range pods(t, "controller") {
		if p.Name != old {
			standby = p.Name
		}
	}
	if old == "" || standby == "" {
		t.Fatalf("leader %q, standby %q", old, standby)
	}
	l := startLoad(t, 400000, loadEvents, loadRate)
	time.Sleep(3 * time.Second)
	kubectl(t, "delete", "pod", "-n", ns, old, "--wait=false")
	took := eventually(t, "a running replica holding the lease", 2*time.Minute, func() error {
		now := leader(t)
		for _, p := range pods(t, "controller") {
			if p.Name == now && now != old {
				return nil
			}
		}
		return fmt.Errorf("the lease is held by %q", now)
	})
	who := "the replica standing by"
	if leader(t) != standby {
		who = "the pod that replaced the leader"
	}
	addRow(row{what: "controller leader pod deleted: " + who + " took the lease", converge: took})
	time.Sleep(3 * time.Second)
	l.stopAndWait()
	l.settle(t, "deliveries while the controller's leader changed")
}

// TestGarbageCollection: an IngresseEvent deleted; the cluster's own
// garbage collector (kube-controller-manager) deletes its ConfigMap, which
// the event owns.
func TestGarbageCollection(t *testing.T) {
	name := eventsv1alpha1.ResourceName(100000)
	var e eventsv1alpha1.IngresseEvent
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(&cm); owner == nil || owner.UID != e.UID {
		t.Fatalf("the ConfigMap's controller is %v, not the event %s", owner, e.UID)
	}
	if err := k8s.Delete(ctx, &e); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "the ConfigMap garbage-collected", 2*time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(&cm), &corev1.ConfigMap{}); err == nil {
			return errors.New("still there")
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	})
	addRow(row{what: "an IngresseEvent deleted: kube-controller-manager's garbage collector deleted its ConfigMap", converge: took})
}

// TestMetricsThroughService: the metrics Service reaches both components
// over HTTPS; a scrape without a token is refused, and a ServiceAccount
// bound to the install's metrics-reader ClusterRole (as Prometheus's would
// be) gets the receivers' delivery counters and the controller's
// reconciles.
func TestMetricsThroughService(t *testing.T) {
	var svc corev1.Service
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: metricsService}, &svc); err != nil {
		t.Fatal(err)
	}
	url := "https://" + svc.Spec.ClusterIP + ":8443/metrics"
	const scraper = "e2e-scraper"
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: scraper, Namespace: ns}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: scraper},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "ingresse-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: scraper, Namespace: ns}},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, scraper, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A new connection each time, so that kube-proxy picks any pod; the
	// pods' certificates are self-signed.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	get := func(bearer string) (int, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, nil, err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	if code, _, err := get(""); err != nil || code != http.StatusUnauthorized {
		t.Errorf("a scrape without a token answered %d, %v; want 401", code, err)
	}
	seen := map[string]bool{}
	want := map[string]*regexp.Regexp{
		"receiver":   regexp.MustCompile(`(?m)^ingresse_receiver_requests_total\{outcome="created",webhook="event-update"\} [1-9]`),
		"controller": regexp.MustCompile(`(?m)^controller_runtime_reconcile_total\{controller="ingresseevent",result="success"\} [1-9]`),
	}
	took := eventually(t, "metrics of both components through the Service", time.Minute, func() error {
		code, b, err := get(tr.Status.Token)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("answered %d: %.200s", code, b)
		}
		for what, re := range want {
			seen[what] = seen[what] || re.Match(b)
		}
		if !seen["receiver"] || !seen["controller"] {
			return fmt.Errorf("seen %v", seen)
		}
		return nil
	})
	addRow(row{what: "metrics through the metrics Service over HTTPS: refused without a token, served to a ServiceAccount bound to metrics-reader, from receiver and controller", converge: took})
}

// TestPriorityLevels: the FlowSchemas and PriorityLevelConfigurations the
// install applies classify each component's requests in the cluster. A
// request made as each ServiceAccount comes back with the API server's
// X-Kubernetes-PF-FlowSchema-UID and X-Kubernetes-PF-PriorityLevel-UID
// headers naming that component's own objects, and the running pods' own
// requests were dispatched in their levels (the API server's
// apiserver_flowcontrol_dispatched_requests_total).
func TestPriorityLevels(t *testing.T) {
	uid := func(o client.Object, name string) string {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, o); err != nil {
			t.Fatalf("the install's %T %s: %v", o, name, err)
		}
		return string(o.GetUID())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", localcluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, tc := range []struct{ serviceAccount, path string }{
		{"ingresse-receiver", "/apis/events.ingresse.com/v1alpha1/namespaces/" + ns + "/ingresseevents/" + exampleEvent},
		{"ingresse-controller", "/api/v1/namespaces/" + ns + "/configmaps/" + exampleEvent},
	} {
		schema := uid(&flowcontrolv1.FlowSchema{}, tc.serviceAccount)
		level := uid(&flowcontrolv1.PriorityLevelConfiguration{}, tc.serviceAccount)
		as := rest.CopyConfig(cfg)
		as.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + tc.serviceAccount}
		hc, err := rest.HTTPClientFor(as)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, tc.serviceAccount+"'s request in its priority level", 30*time.Second, func() error {
			resp, err := hc.Get(strings.TrimSuffix(as.Host, "/") + tc.path)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			// Authorized (found or not): a refused request would be
			// classified too, but would say the RBAC is wrong.
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
				return fmt.Errorf("GET %s as %s answered %d", tc.path, tc.serviceAccount, resp.StatusCode)
			}
			gotSchema, gotLevel := resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID"), resp.Header.Get("X-Kubernetes-PF-PriorityLevel-UID")
			if gotSchema != schema || gotLevel != level {
				return fmt.Errorf("classified by FlowSchema %q into level %q, want %q and %q", gotSchema, gotLevel, schema, level)
			}
			return nil
		})
	}
	raw, err := clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"ingresse-receiver", "ingresse-controller"} {
		re := regexp.MustCompile(`(?m)^apiserver_flowcontrol_dispatched_requests_total\{[^}]*priority_level="` + level + `"[^}]*\} ([0-9.e+]+)$`)
		total := 0.0
		for _, m := range re.FindAllSubmatch(raw, -1) {
			n, _ := strconv.ParseFloat(string(m[1]), 64)
			total += n
		}
		if total == 0 {
			t.Errorf("the API server dispatched no request in priority level %s: the pods' requests are not classified there", level)
		}
		t.Logf("priority level %s: %.0f requests dispatched", level, total)
	}
	addRow(row{what: "API Priority and Fairness: a request as each ServiceAccount lands in its FlowSchema and priority level (the API server's X-Kubernetes-PF-* headers), and the pods' requests were dispatched there", converge: time.Since(start)})
}
