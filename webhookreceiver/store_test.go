package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

const seedName = "event-21447"

// TestSeedExamplesStored walks Ingresse's two examples, and versions of
// them, through every storing answer on the real API server, checking what
// is stored after each.
func TestSeedExamplesStored(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	update := seed(t, examples.EventUpdate)
	ctx := context.Background()

	// 1. event-create: created, exactly as sent.
	a := expect(t, r.post(t, examples.EventCreate), http.StatusCreated, outcomeCreated)
	if a.Namespace != ns || a.Name != seedName {
		t.Fatalf("answer names %s/%s, want %s/%s", a.Namespace, a.Name, ns, seedName)
	}
	obj := r.get(t, seedName)
	if obj == nil {
		t.Fatal("event-create answered 201 but nothing is stored")
	}
	stored, _ := json.Marshal(obj.Spec)
	if ok, where := testenv.JSONEqual(testenv.SeedData(t, examples.EventCreate), stored); !ok {
		t.Fatalf("stored spec differs from the payload's data at %s", where)
	}
	for key, want := range map[string]string{
		eventsv1alpha1.LabelEventID: "21447", eventsv1alpha1.LabelCompanyID: "1", eventsv1alpha1.LabelProducerID: "297229",
	} {
		if got := obj.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	if got := obj.Annotations[eventsv1alpha1.AnnotationWebhook]; got != "event-create" {
		t.Errorf("webhook annotation %q", got)
	}
	if got := obj.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp]; got != "2018-04-02T13:57:04.770619Z" {
		t.Errorf("webhook timestamp annotation %q, want the envelope's, in UTC", got)
	}
	if _, err := time.Parse(time.RFC3339Nano, obj.Annotations[eventsv1alpha1.AnnotationReceivedAt]); err != nil {
		t.Errorf("received-at annotation: %v", err)
	}
	if !managedBy(obj, eventstore.FieldOwner) {
		t.Errorf("managed fields %v do not name %s", obj.ManagedFields, eventstore.FieldOwner)
	}
	if obj.Generation != 1 {
		t.Errorf("generation %d after create", obj.Generation)
	}

	// 2. event-update, the same event 3.5 s later: unchanged, and no write
	// at all; the annotations still describe the delivery that stored the
	// spec. 3. event-create again (a retry, older), and event-update again:
	// the same.
	for _, body := range [][]byte{examples.EventUpdate, examples.EventCreate, examples.EventUpdate} {
		expect(t, r.post(t, body), http.StatusOK, outcomeUnchanged)
	}
	if now := r.get(t, seedName); now.ResourceVersion != obj.ResourceVersion || now.Generation != 1 ||
		now.Annotations[eventsv1alpha1.AnnotationWebhook] != "event-create" ||
		now.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp] != "2018-04-02T13:57:04.770619Z" {
		t.Fatalf("an unchanged delivery wrote the object: resourceVersion %s -> %s, generation %d, annotations %v",
			obj.ResourceVersion, now.ResourceVersion, now.Generation, now.Annotations)
	}

	// Someone else's label and annotation, and the controller's status,
	// must survive the receiver's writes.
	obj.Labels["team"] = "tickets"
	obj.Annotations["example.com/note"] = "keep me"
	if err := controlPlane(t).Client.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	meta.SetStatusCondition(&obj.Status.Conditions, metav1.Condition{Type: eventsv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: eventsv1alpha1.ReasonReconciled, Message: "test"})
	obj.Status.ObservedGeneration = obj.Generation
	if err := controlPlane(t).Client.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}

	// 4. a real update (newer updatedAt): updated.
	edited := update.with(t, func(p payload) {
		p.data()["updatedAt"] = "2018-03-07T10:00:00.000001+00:00"
		p.data()["title"] = "Webhook Example, edited"
	})
	expect(t, r.post(t, edited.bytes(t)), http.StatusOK, outcomeUpdated)
	obj = r.get(t, seedName)
	if strOf(obj.Spec.Title) != "Webhook Example, edited" || obj.Generation != 2 {
		t.Fatalf("after the update: title %q, generation %d", strOf(obj.Spec.Title), obj.Generation)
	}
	if obj.Annotations[eventsv1alpha1.AnnotationWebhook] != "event-update" || obj.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp] != "2018-04-02T13:57:08.226707Z" {
		t.Errorf("annotations after the update: %v", obj.Annotations)
	}
	if obj.Labels["team"] != "tickets" || obj.Annotations["example.com/note"] != "keep me" {
		t.Errorf("the receiver dropped other labels or annotations: %v %v", obj.Labels, obj.Annotations)
	}
	if !meta.IsStatusConditionTrue(obj.Status.Conditions, eventsv1alpha1.ConditionReady) {
		t.Errorf("the receiver's write lost the status: %+v", obj.Status)
	}

	// 5. the original create arriving late (older updatedAt): stale.
	expect(t, r.post(t, examples.EventCreate), http.StatusOK, outcomeStale)
	// 6. same updatedAt as the stored one, other content: the envelope
	// timestamp decides.
	older := edited.with(t, func(p payload) {
		p["timestamp"] = "2018-04-02T13:57:05"
		p.data()["title"] = "older by envelope"
	})
	expect(t, r.post(t, older.bytes(t)), http.StatusOK, outcomeStale)
	newer := edited.with(t, func(p payload) {
		p["timestamp"] = "2018-04-02T14:00:00Z"
		p.data()["title"] = "newer by envelope"
	})
	expect(t, r.post(t, newer.bytes(t)), http.StatusOK, outcomeUpdated)
	if got := strOf(r.get(t, seedName).Spec.Title); got != "newer by envelope" {
		t.Fatalf("title %q after the newer envelope", got)
	}

	// 7. a full tie: the larger digest wins, whichever arrives first.
	a1 := newer.with(t, func(p payload) { p.data()["title"] = "tie A" })
	b1 := newer.with(t, func(p payload) { p.data()["title"] = "tie B" })
	small, large := a1, b1
	if bytes.Compare(digestOf(t, a1), digestOf(t, b1)) > 0 {
		small, large = b1, a1
	}
	expect(t, r.post(t, small.bytes(t)), http.StatusOK, outcomeUpdated)
	expect(t, r.post(t, large.bytes(t)), http.StatusOK, outcomeUpdated)
	expect(t, r.post(t, small.bytes(t)), http.StatusOK, outcomeStale)
	if got, want := strOf(r.get(t, seedName).Spec.Title), large.data()["title"]; got != want {
		t.Fatalf("tie kept %q, want %q", got, want)
	}
	if got := r.get(t, seedName).Generation; got != 5 {
		t.Errorf("generation %d, want 5: one per stored change", got)
	}

	// Kubernetes Events: created, updated and stale, action Receive.
	eventually(t, "the receiver's Events are recorded", func() bool {
		reasons := eventReasons(t, ns, seedName)
		return reasons[eventstore.EventReasonCreated] && reasons[eventstore.EventReasonUpdated] && reasons[eventstore.EventReasonStale]
	})
}

// TestNullMembersStoredAsSent posts deliveries whose members are null, or
// left out, and reads what the API server holds: null, never "" or 0, and
// no id label for an id Ingresse did not send. The types do not tell a
// member left out from a null one, so both are stored as null. A null
// updatedAt is refused, as a missing one is: it orders the versions.
func TestNullMembersStoredAsSent(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	members := func(set func(d map[string]any, name string)) func(p payload) {
		return func(p payload) {
			d := p.data()
			for _, name := range []string{"title", "slug", "description", "companyId", "producerId", "createdAt"} {
				set(d, name)
			}
			set(d["status"].(map[string]any), "id")
			set(d["place"].(map[string]any), "id")
		}
	}
	toNull := members(func(m map[string]any, name string) { m[name] = nil })
	leaveOut := members(func(m map[string]any, name string) { delete(m, name) })
	withID := func(id int64, edit func(p payload)) payload {
		return seed(t, examples.EventCreate).with(t, func(p payload) {
			p.data()["id"] = json.Number(jsonInt(id))
			edit(p)
		})
	}

	for _, tc := range []struct {
		name       string
		sent, want payload
	}{
		{"null", withID(31, toNull), withID(31, toNull)},
		{"left out", withID(32, leaveOut), withID(32, toNull)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := expect(t, r.post(t, tc.sent.bytes(t)), http.StatusCreated, outcomeCreated)
			raw := &unstructured.Unstructured{}
			raw.SetGroupVersionKind(eventsv1alpha1.GroupVersion.WithKind("IngresseEvent"))
			if err := controlPlane(t).Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: a.Name}, raw); err != nil {
				t.Fatal(err)
			}
			if ok, where := testenv.JSONEqual(mustJSON(t, tc.want.data()), mustJSON(t, raw.Object["spec"])); !ok {
				t.Errorf("stored spec differs at %s", where)
			}
			for _, key := range []string{eventsv1alpha1.LabelCompanyID, eventsv1alpha1.LabelProducerID} {
				if v, ok := raw.GetLabels()[key]; ok {
					t.Errorf("label %s=%q for an id Ingresse did not send", key, v)
				}
			}
			// The same delivery again is the same spec.
			expect(t, r.post(t, tc.sent.bytes(t)), http.StatusOK, outcomeUnchanged)
		})
	}

	t.Run("updatedAt null", func(t *testing.T) {
		sent := withID(33, func(p payload) { p.data()["updatedAt"] = nil })
		expect(t, r.post(t, sent.bytes(t)), http.StatusBadRequest, "data.updatedAt is required")
	})
}

// digestOf is the spec digest the receiver orders full ties by.
func digestOf(t testing.TB, p payload) []byte {
	t.Helper()
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(mustJSON(t, p.data()), &spec); err != nil {
		t.Fatal(err)
	}
	d, err := eventstore.SpecDigest(&spec)
	if err != nil {
		t.Fatal(err)
	}
	return d[:]
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func managedBy(obj client.Object, manager string) bool {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == manager {
			return true
		}
	}
	return false
}

// eventReasons are the reasons of the receiver's Events on an object.
func eventReasons(t testing.TB, ns, name string) map[string]bool {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := controlPlane(t).Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Regarding.Kind == "IngresseEvent" && e.Action == eventstore.EventAction && e.ReportingController == eventstore.FieldOwner {
			reasons[e.Reason] = true
		}
	}
	return reasons
}

// versionOf builds version v of event id: updatedAt and timestamp grow
// with v, and the title says which version it is.
func versionOf(t testing.TB, id int64, v int) payload {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return seed(t, examples.EventUpdate).with(t, func(p payload) {
		p["timestamp"] = base.Add(time.Duration(v)*time.Minute + time.Second).Format("2006-01-02T15:04:05.000000")
		p.data()["id"] = json.Number(jsonInt(id))
		p.data()["updatedAt"] = base.Add(time.Duration(v) * time.Minute).Format("2006-01-02T15:04:05.000000-07:00")
		p.data()["title"] = "version " + jsonInt(int64(v))
	})
}

func jsonInt(i int64) string { b, _ := json.Marshal(i); return string(b) }

// cannedCache makes the reads the API server may answer from its watch
// cache (resourceVersion "0") return a fixed object (or NotFound), to play
// a watch cache that lags. Quorum reads go through.
type cannedCache struct {
	obj      atomic.Pointer[eventsv1alpha1.IngresseEvent]
	notFound atomic.Bool
}

func (c *cannedCache) funcs() *interceptor.Funcs {
	return &interceptor.Funcs{Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		var o client.GetOptions
		o.ApplyOptions(opts)
		if o.Raw == nil || o.Raw.ResourceVersion != "0" {
			return cl.Get(ctx, key, obj, opts...)
		}
		if c.notFound.Load() {
			return apierrors.NewNotFound(schema.GroupResource{Group: eventsv1alpha1.GroupVersion.Group, Resource: "ingresseevents"}, key.Name)
		}
		if canned := c.obj.Load(); canned != nil {
			switch obj := obj.(type) {
			case *eventsv1alpha1.IngresseEvent:
				canned.DeepCopyInto(obj)
			case *metav1.PartialObjectMetadata: // the store's metadata-only read
				canned.ObjectMeta.DeepCopyInto(&obj.ObjectMeta)
			default:
				return fmt.Errorf("a read of a %T", obj)
			}
			return nil
		}
		return cl.Get(ctx, key, obj, opts...)
	}}
}

// TestLaggingCacheNeverMisleads plays a watch cache that lags behind etcd:
// a stale or unchanged answer is confirmed live, a write based on an old
// read loses its compare-and-swap and is decided again, and a deleted
// object is never reported as stored.
func TestLaggingCacheNeverMisleads(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	canned := &cannedCache{}
	r := newReplica(t, ns, replicaConfig{reader: canned.funcs()})
	const id = 7001
	name := eventsv1alpha1.ResourceName(id)

	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusCreated, outcomeCreated)
	v1 := r.get(t, name)
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUpdated)

	// The cache still says version 1.
	canned.obj.Store(v1)
	// A duplicate of version 1 looks unchanged against the cache; the live
	// object is version 2, so the truth is stale.
	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusOK, outcomeStale)
	// Version 3 is written against version 1's resourceVersion, conflicts,
	// and is written again against version 2.
	expect(t, r.post(t, versionOf(t, id, 3).bytes(t)), http.StatusOK, outcomeUpdated)
	if got := r.get(t, name); strOf(got.Spec.Title) != "version 3" || got.Generation != 3 {
		t.Fatalf("stored %q at generation %d, want version 3 at 3", strOf(got.Spec.Title), got.Generation)
	}
	if n := metricValue(t, r.reg, "ingresse_receiver_write_conflicts_total", nil); n != 1 {
		t.Errorf("write conflicts %v, want 1", n)
	}

	// Deleted, while the cache still has it: the duplicate must be stored
	// again, not answered unchanged.
	canned.obj.Store(r.get(t, name))
	if err := controlPlane(t).Client.Delete(context.Background(), r.get(t, name)); err != nil {
		t.Fatal(err)
	}
	expect(t, r.post(t, versionOf(t, id, 3).bytes(t)), http.StatusCreated, outcomeCreated)
	if got := r.get(t, name); got == nil || strOf(got.Spec.Title) != "version 3" {
		t.Fatalf("after re-delivery of a deleted event: %+v", got)
	}

	// The cache has not seen it yet at all: the create loses to the
	// existing object, which is read live and compared.
	canned.obj.Store(nil)
	canned.notFound.Store(true)
	before := r.get(t, name).ResourceVersion
	expect(t, r.post(t, versionOf(t, id, 3).bytes(t)), http.StatusOK, outcomeUnchanged)
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeStale)
	if after := r.get(t, name).ResourceVersion; after != before {
		t.Fatalf("an unchanged or stale delivery wrote the object")
	}
	expect(t, r.post(t, versionOf(t, id, 4).bytes(t)), http.StatusOK, outcomeUpdated)
	if got := strOf(r.get(t, name).Spec.Title); got != "version 4" {
		t.Fatalf("stored %q, want version 4", got)
	}
}

// faults injects API failures into a replica's client and API reader.
type faults struct {
	mode atomic.Value // string; "" is healthy
}

const (
	faultUnavailable  = "unavailable"   // 503 from the API server
	faultTimeout      = "timeout"       // calls hang until the deadline
	faultThrottled    = "throttled"     // 429 from the API server
	faultForbidden    = "forbidden"     // RBAC refuses
	faultLostResponse = "lost-response" // writes succeed, answers are lost
	faultWritesFail   = "writes-fail"   // reads work, writes get 503
)

func (f *faults) current() string {
	m, _ := f.mode.Load().(string)
	return m
}

func (f *faults) set(mode string) { f.mode.Store(mode) }

// inject returns the fault to answer with, if any, for a read or write.
func (f *faults) inject(ctx context.Context, write bool) error {
	gr := schema.GroupResource{Group: eventsv1alpha1.GroupVersion.Group, Resource: "ingresseevents"}
	switch f.current() {
	case faultUnavailable:
		return apierrors.NewServiceUnavailable("etcd is down")
	case faultTimeout:
		<-ctx.Done()
		return ctx.Err()
	case faultThrottled:
		return apierrors.NewTooManyRequests("slow down", 1)
	case faultForbidden:
		return apierrors.NewForbidden(gr, "", errors.New("RBAC says no"))
	case faultWritesFail:
		if write {
			return apierrors.NewServiceUnavailable("etcd is read-only")
		}
	}
	return nil
}

func (f *faults) funcs() *interceptor.Funcs {
	lost := func(err error) error {
		if err == nil && f.current() == faultLostResponse {
			return apierrors.NewTimeoutError("the answer was lost", 1)
		}
		return err
	}
	return &interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := f.inject(ctx, false); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := f.inject(ctx, true); err != nil {
				return err
			}
			return lost(c.Create(ctx, obj, opts...))
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := f.inject(ctx, true); err != nil {
				return err
			}
			return lost(c.Update(ctx, obj, opts...))
		},
	}
}

// TestAPIFailuresAreNeverAcknowledged: while the API server fails, no
// delivery gets a 2xx unless it is stored; once it recovers, the retried
// deliveries are stored.
func TestAPIFailuresAreNeverAcknowledged(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	f := &faults{}
	r := newReplica(t, ns, replicaConfig{
		client: f.funcs(), reader: f.funcs(),
		opts: func(o *Options) { o.RequestTimeout = 300 * time.Millisecond },
	})

	for i, tc := range []struct {
		mode      string
		wantError string
	}{
		{faultUnavailable, "unavailable"},
		{faultTimeout, "timed out"},
		{faultThrottled, "unavailable"},
		{faultForbidden, "unavailable"},
		{faultWritesFail, "unavailable"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			id := int64(8000 + i)
			name := eventsv1alpha1.ResourceName(id)

			// A new event.
			f.set(tc.mode)
			rec := r.post(t, versionOf(t, id, 1).bytes(t))
			expect(t, rec, http.StatusServiceUnavailable, tc.wantError)
			if rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if r.get(t, name) != nil {
				t.Fatal("a failed delivery was stored anyway")
			}
			f.set("")
			expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusCreated, outcomeCreated)

			// A newer version of a stored event.
			f.set(tc.mode)
			expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusServiceUnavailable, tc.wantError)
			if got := strOf(r.get(t, name).Spec.Title); got != "version 1" {
				t.Fatalf("stored %q after a failed update", got)
			}
			f.set("")
			expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUpdated)
			if got := strOf(r.get(t, name).Spec.Title); got != "version 2" {
				t.Fatalf("stored %q after the retried update", got)
			}
		})
	}

	t.Run(faultLostResponse, func(t *testing.T) {
		// The write lands but its answer is lost: 503 is honest (the
		// receiver cannot know), and the retry finds it stored.
		const id = 8100
		f.set(faultLostResponse)
		expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusServiceUnavailable, "unavailable")
		f.set("")
		expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusOK, outcomeUnchanged)
	})

	if n := metricValue(t, r.reg, "ingresse_receiver_requests_total", map[string]string{"webhook": webhookEventUpdate, "outcome": outcomeUnavailable}); n != 11 {
		t.Errorf("unavailable answers counted %v, want 11", n)
	}
}

// TestPayloadRefusedByTheAPIServer: what the CRD's schema refuses is the
// payload's fault: 422 naming the refused member as the sender knows it
// (data.title), not 503, and nothing of the API server's own message,
// which names the namespace and the object; the log has it.
func TestPayloadRefusedByTheAPIServer(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	tooLong := seed(t, examples.EventCreate).with(t, func(p payload) {
		p.data()["title"] = strings.Repeat("x", 5000)
	})
	rec := r.post(t, tooLong.bytes(t))
	a := expect(t, rec, http.StatusUnprocessableEntity, "the event is invalid for the cluster's schema: data.title")
	for _, internal := range []string{testToken, ns, "spec.", seedName, "IngresseEvent"} {
		if strings.Contains(a.Error, internal) {
			t.Fatalf("the answer %q holds %q", a.Error, internal)
		}
	}
	if !strings.Contains(r.logs.String(), "Too long") {
		t.Errorf("the log lacks the API server's reason:\n%s", r.logs)
	}
	if r.count(t) != 0 {
		t.Fatal("a refused payload was stored")
	}
}

// TestEventBudget: Events beyond Options.EventsPerSecond are skipped and
// counted, so a flood of deliveries is not a flood of Event writes.
func TestEventBudget(t *testing.T) {
	ns := controlPlane(t).Namespace(t)
	// A budget this small allows a burst of one Event and no more within
	// the test.
	r := newReplica(t, ns, replicaConfig{opts: func(o *Options) { o.EventsPerSecond = 0.01 }})
	const id = 21447
	expect(t, r.post(t, versionOf(t, id, 0).bytes(t)), http.StatusCreated, outcomeCreated)
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUpdated)
	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusOK, outcomeStale)
	eventually(t, "the Created Event", func() bool { return eventReasons(t, ns, seedName)[eventstore.EventReasonCreated] })
	if got := metricValue(t, r.reg, "ingresse_receiver_events_skipped_total", nil); got != 2 {
		t.Errorf("skipped Events = %v, want 2 (Updated and StaleDelivery)", got)
	}
	if reasons := eventReasons(t, ns, seedName); reasons[eventstore.EventReasonUpdated] || reasons[eventstore.EventReasonStale] {
		t.Errorf("Events %v recorded beyond the budget", reasons)
	}
}

// TestDuplicateIsNeverAWrite: a delivery of the stored spec with a newer
// envelope timestamp (a retry may carry a fresh one) is answered unchanged
// with no write at all: same resourceVersion, no watch event, the
// annotations still those of the delivery that stored the spec. Only the
// last-delivery gauge says that it came.
func TestDuplicateIsNeverAWrite(t *testing.T) {
	ctx := context.Background()
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	const id = 7201
	name := eventsv1alpha1.ResourceName(id)
	const gauge = "ingresse_receiver_last_delivery_timestamp_seconds"

	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusCreated, outcomeCreated)
	stored := r.get(t, name)
	createdAt := metricValue(t, r.reg, gauge, nil)

	watcher, err := client.NewWithWatch(controlPlane(t).Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := watcher.Watch(ctx, &eventsv1alpha1.IngresseEventList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": name}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: stored.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	before := time.Now()
	for _, timestamp := range []string{"2027-01-01T00:00:00Z", "2028-06-01T12:00:00.5-03:00"} {
		retry := versionOf(t, id, 1).with(t, func(p payload) { p["timestamp"] = timestamp })
		expect(t, r.post(t, retry.bytes(t)), http.StatusOK, outcomeUnchanged)
	}
	select {
	case e := <-w.ResultChan():
		t.Fatalf("a duplicate wrote the event: watch event %s", e.Type)
	case <-time.After(time.Second):
	}
	now := r.get(t, name)
	if now.ResourceVersion != stored.ResourceVersion || now.Generation != stored.Generation ||
		now.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp] != stored.Annotations[eventsv1alpha1.AnnotationWebhookTimestamp] ||
		now.Annotations[eventsv1alpha1.AnnotationReceivedAt] != stored.Annotations[eventsv1alpha1.AnnotationReceivedAt] {
		t.Fatalf("a duplicate wrote the event: resourceVersion %s -> %s, annotations %v -> %v",
			stored.ResourceVersion, now.ResourceVersion, stored.Annotations, now.Annotations)
	}
	if got := metricValue(t, r.reg, gauge, nil); got <= createdAt || got < float64(before.UnixNano())/1e9 {
		t.Errorf("%s = %v after the duplicates, %v after the create: it did not move", gauge, got, createdAt)
	}

	// The watch does see a real change: the silence above means something.
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusOK, outcomeUpdated)
	select {
	case e := <-w.ResultChan():
		if e.Type != watch.Modified {
			t.Fatalf("watch event %s after an update, want %s", e.Type, watch.Modified)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch saw no event for an update")
	}
}

// TestEventBeingDeletedIsRefused: while an IngresseEvent waits on a
// finalizer to be deleted, its deliveries, newer or duplicate, are answered
// 503 with Retry-After and write nothing (what they stored would vanish
// with it), whether the replica's cache has seen the deletion yet or not.
// Once it is gone, the next delivery creates it anew.
func TestEventBeingDeletedIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := controlPlane(t).Namespace(t)
	r := newReplica(t, ns, replicaConfig{})
	const id = 7301
	name := eventsv1alpha1.ResourceName(id)
	key := client.ObjectKey{Namespace: ns, Name: name}
	const hold = "test.ingresse.com/hold"
	const gauge = "ingresse_receiver_last_delivery_timestamp_seconds"

	expect(t, r.post(t, versionOf(t, id, 1).bytes(t)), http.StatusCreated, outcomeCreated)
	obj := r.get(t, name)
	obj.Finalizers = append(obj.Finalizers, hold)
	if err := controlPlane(t).Client.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := controlPlane(t).Client.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	deleting := r.get(t, name)
	if deleting == nil || deleting.DeletionTimestamp.IsZero() {
		t.Fatalf("the held event is not being deleted: %+v", deleting)
	}
	delivered := metricValue(t, r.reg, gauge, nil)

	refused := func(when string) {
		t.Helper()
		for _, v := range []int{2, 1} {
			rec := r.post(t, versionOf(t, id, v).bytes(t))
			expect(t, rec, http.StatusServiceUnavailable, "the event is being deleted, retry later")
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", when)
			}
		}
		if now := r.get(t, name); now.ResourceVersion != deleting.ResourceVersion || strOf(now.Spec.Title) != "version 1" {
			t.Fatalf("%s: a delivery wrote the event being deleted: resourceVersion %s -> %s, title %q",
				when, deleting.ResourceVersion, now.ResourceVersion, strOf(now.Spec.Title))
		}
	}
	// At once (the API server's watch cache may still hold the event
	// without its deletionTimestamp), then once the watch cache shows it.
	refused("before the watch cache saw the deletion")
	eventually(t, "the watch cache shows the deletion", func() bool {
		cached, err := readWatchCache(ctx, t, key)
		return err == nil && !cached.DeletionTimestamp.IsZero()
	})
	refused("with the deletion in the watch cache")
	if got := metricValue(t, r.reg, gauge, nil); got != delivered {
		t.Errorf("%s moved on a 503: %v -> %v", gauge, delivered, got)
	}

	// The finalizer goes, and so does the event; the watch cache may still
	// hold it for a moment, and the next delivery creates it anew.
	deleting.Finalizers = nil
	if err := controlPlane(t).Client.Update(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the event is gone", func() bool { return r.get(t, name) == nil })
	expect(t, r.post(t, versionOf(t, id, 2).bytes(t)), http.StatusCreated, outcomeCreated)
	if got := r.get(t, name); got == nil || strOf(got.Spec.Title) != "version 2" || !got.DeletionTimestamp.IsZero() || got.UID == deleting.UID {
		t.Fatalf("after the event was gone: %+v", got)
	}
}
