package eventclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

// seedEvent is Ingresse's event-create example as an IngresseEvent to
// store in namespace "ns" (the tests set their own).
func seedEvent(t *testing.T) *eventsv1alpha1.IngresseEvent {
	t.Helper()
	var envelope struct {
		Data eventsv1alpha1.IngresseEventSpec `json:"data"`
	}
	if err := json.Unmarshal(examples.EventCreate, &envelope); err != nil {
		t.Fatal(err)
	}
	return &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{Name: "event-21447", Namespace: "ns"},
		Spec:       envelope.Data,
	}
}

// answerKinds records the kind of every answer to a write.
type answerKinds struct {
	mu    sync.Mutex
	kinds map[string][]string // method -> kinds, in order
}

func (a *answerKinds) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		res, err := rt.RoundTrip(req)
		if err != nil || req.Method == http.MethodGet {
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		var answer struct {
			Kind string          `json:"kind"`
			Spec json.RawMessage `json:"spec"`
		}
		_ = json.Unmarshal(body, &answer)
		if strings.Contains(res.Header.Get("Content-Type"), "protobuf") {
			answer.Kind = "protobuf"
		}
		if answer.Spec != nil {
			answer.Kind += " with a spec"
		}
		a.mu.Lock()
		a.kinds[req.Method] = append(a.kinds[req.Method], answer.Kind)
		a.mu.Unlock()
		return res, nil
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestNewClientWritesEventsAnsweredWithMetadata: the event store's client
// creates and updates IngresseEvents with answers that hold metadata only,
// sets the object's metadata from them, keeps the API server's errors as
// controller-runtime's client reports them, and writes anything else as
// controller-runtime does.
func TestNewClientWritesEventsAnsweredWithMetadata(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	answers := &answerKinds{kinds: map[string][]string{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(answers.wrap)
	c, err := New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	ev := seedEvent(t)
	ev.ObjectMeta = metav1.ObjectMeta{Name: "event-21447", Namespace: ns, Labels: map[string]string{"a": "b"}}
	sent := ev.Spec.DeepCopy()
	if err := c.Create(ctx, ev, client.FieldOwner("eventclient-test")); err != nil {
		t.Fatal(err)
	}
	if ev.UID == "" || ev.ResourceVersion == "" || ev.Generation != 1 || ev.Labels["a"] != "b" || len(ev.ManagedFields) != 1 || ev.ManagedFields[0].Manager != "eventclient-test" {
		t.Errorf("metadata after create: %+v", ev.ObjectMeta)
	}
	if ptr.Deref(ev.Spec.Title, "") != ptr.Deref(sent.Title, "") || len(ev.Spec.Sessions) != len(sent.Sessions) {
		t.Errorf("the spec sent was not kept: title %q", ptr.Deref(ev.Spec.Title, ""))
	}
	stored := &eventsv1alpha1.IngresseEvent{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ev), stored); err != nil {
		t.Fatal(err)
	}
	if stored.ResourceVersion != ev.ResourceVersion || ptr.Deref(stored.Spec.Title, "") != ptr.Deref(sent.Title, "") {
		t.Errorf("stored at %s with title %q; the answer said %s", stored.ResourceVersion, ptr.Deref(stored.Spec.Title, ""), ev.ResourceVersion)
	}

	firstRV := ev.ResourceVersion
	ev.Spec.Title = new("Renamed")
	if err := c.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ev.ResourceVersion == firstRV || ev.Generation != 2 {
		t.Errorf("metadata after update: resourceVersion %s (was %s), generation %d", ev.ResourceVersion, firstRV, ev.Generation)
	}

	// The API server's refusals come back as controller-runtime's do.
	stale := ev.DeepCopy()
	stale.ResourceVersion = firstRV
	if err := c.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Errorf("update at a stale resourceVersion: %v, want a Conflict", err)
	}
	again := ev.DeepCopy()
	again.ResourceVersion = ""
	if err := c.Create(ctx, again); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	gone := ev.DeepCopy()
	gone.Name = "event-1"
	if err := c.Update(ctx, gone); !apierrors.IsNotFound(err) {
		t.Errorf("update of a missing event: %v, want NotFound", err)
	}
	invalid := ev.DeepCopy()
	invalid.Name, invalid.ResourceVersion = "Not A Name", ""
	if err := c.Create(ctx, invalid); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("create with an invalid name: %v, want Invalid naming metadata.name", err)
	}

	// Client-wide options apply to these writes as to controller-runtime's.
	dryRun := true
	for _, o := range []client.Options{{DryRun: &dryRun}, {FieldOwner: "someone"}} {
		o.Scheme = testenv.Scheme
		oc, err := New(env.Config, o)
		if err != nil {
			t.Fatal(err)
		}
		other := seedEvent(t)
		other.ObjectMeta = metav1.ObjectMeta{Name: "event-2", Namespace: ns}
		if err := oc.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		err = env.Client.Get(ctx, client.ObjectKeyFromObject(other), &eventsv1alpha1.IngresseEvent{})
		switch {
		case o.DryRun != nil && !apierrors.IsNotFound(err):
			t.Errorf("a dry-run create was stored (%v)", err)
		case o.FieldOwner != "" && (len(other.ManagedFields) != 1 || other.ManagedFields[0].Manager != o.FieldOwner):
			t.Errorf("created with managed fields %+v, want the client's field owner %q", other.ManagedFields, o.FieldOwner)
		}
	}

	// Anything else is written as controller-runtime writes it.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if err := c.Create(ctx, cm); err != nil || cm.Data["k"] != "v" || cm.UID == "" {
		t.Errorf("ConfigMap create: %v, %+v", err, cm)
	}

	answers.mu.Lock()
	defer answers.mu.Unlock()
	// Creates: the event, two refused, the ConfigMap (which
	// controller-runtime writes in protobuf); updates: the event, two
	// refused. (The clients with client-wide options do not record.)
	want := map[string][]string{
		http.MethodPost: {"PartialObjectMetadata", "Status", "Status", "protobuf"},
		http.MethodPut:  {"PartialObjectMetadata", "Status", "Status"},
	}
	for method, kinds := range want {
		if got := answers.kinds[method]; !slices.Equal(got, kinds) {
			t.Errorf("%s answers %q, want %q", method, got, kinds)
		}
	}
}
