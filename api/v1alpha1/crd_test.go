package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Run(m, &env) }

// rawCreate posts an IngresseEvent as raw JSON, bypassing the Go types, so
// that what the API server keeps depends on the CRD alone.
func rawCreate(t *testing.T, ns, name string, spec json.RawMessage) error {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":"events.ingresse.com/v1alpha1","kind":"IngresseEvent","metadata":{"name":%q,"namespace":%q},"spec":%s}`, name, ns, spec)
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(body), &obj.Object); err != nil {
		return fmt.Errorf("test body is not JSON: %w", err)
	}
	return env.Client.Create(context.Background(), obj)
}

// rawSpec reads the stored spec as raw JSON from the API server.
func rawSpec(t *testing.T, ns, name string) []byte {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	raw, err := cs.RESTClient().Get().AbsPath("/apis/events.ingresse.com/v1alpha1/namespaces", ns, "ingresseevents", name).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading %s/%s: %v", ns, name, err)
	}
	var obj struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Spec
}

// TestSeedsStoredAndReadBackEqual stores each seed, and variants of it,
// through the API server, straight and through the Go types, and reads
// back exactly what was sent: new members at every level, and null for
// every documented member that may be null (not "", not 0, not absent).
func TestSeedsStoredAndReadBackEqual(t *testing.T) {
	ns := env.Namespace(t)
	for _, ex := range examples.All() {
		data := testenv.SeedData(t, ex.Body)
		cases := []struct {
			kind    string
			payload []byte
		}{
			{"seed", data},
			{"seed with new fields", withFutureFields(t, data)},
			{"seed with null scalars", withNull(t, data, nullableScalars...)},
			{"seed with null objects", withNull(t, data, nullableObjects...)},
		}
		for i, tc := range cases {
			kind, payload := tc.kind, tc.payload
			t.Run(ex.Name+"/"+kind+"/raw JSON", func(t *testing.T) {
				name := fmt.Sprintf("raw-%s-%d", ex.Name, i)
				if err := rawCreate(t, ns, name, payload); err != nil {
					t.Fatalf("create: %v", err)
				}
				if ok, where := testenv.JSONEqual(payload, rawSpec(t, ns, name)); !ok {
					t.Fatalf("the API server changed the spec at %s", where)
				}
			})
			t.Run(ex.Name+"/"+kind+"/Go types", func(t *testing.T) {
				var spec eventsv1alpha1.IngresseEventSpec
				if err := json.Unmarshal(payload, &spec); err != nil {
					t.Fatal(err)
				}
				obj := &eventsv1alpha1.IngresseEvent{
					ObjectMeta: metav1.ObjectMeta{GenerateName: "typed-", Namespace: ns},
					Spec:       spec,
				}
				ctx := context.Background()
				if err := env.Client.Create(ctx, obj); err != nil {
					t.Fatalf("create: %v", err)
				}
				if ok, where := testenv.JSONEqual(payload, rawSpec(t, ns, obj.Name)); !ok {
					t.Fatalf("stored spec differs from the payload at %s", where)
				}
				var got eventsv1alpha1.IngresseEvent
				if err := env.Client.Get(ctx, ctrlclient.ObjectKeyFromObject(obj), &got); err != nil {
					t.Fatal(err)
				}
				out, _ := json.Marshal(got.Spec)
				if ok, where := testenv.JSONEqual(payload, out); !ok {
					t.Fatalf("spec read back through the Go types differs at %s", where)
				}
			})
		}
	}
}

// TestAbsentMembersStoredAsNull: the API server keeps a documented member
// left out as absent, but the Go types (how the receiver writes) do not
// tell a member left out from one sent as null, and write it as null.
// Neither writes a made-up "" or 0.
func TestAbsentMembersStoredAsNull(t *testing.T) {
	ns := env.Namespace(t)
	data := testenv.SeedData(t, examples.EventCreate)
	for i, tc := range []struct {
		name  string
		paths []string
	}{
		{"scalars", nullableScalars},
		{"objects", nullableObjects},
	} {
		paths := tc.paths
		sent := without(t, data, paths...)
		t.Run(tc.name+"/raw JSON", func(t *testing.T) {
			name := fmt.Sprintf("absent-raw-%d", i)
			if err := rawCreate(t, ns, name, sent); err != nil {
				t.Fatalf("create: %v", err)
			}
			if ok, where := testenv.JSONEqual(sent, rawSpec(t, ns, name)); !ok {
				t.Fatalf("the API server changed the spec at %s", where)
			}
		})
		t.Run(tc.name+"/Go types", func(t *testing.T) {
			var spec eventsv1alpha1.IngresseEventSpec
			if err := json.Unmarshal(sent, &spec); err != nil {
				t.Fatal(err)
			}
			obj := &eventsv1alpha1.IngresseEvent{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("absent-typed-%d", i), Namespace: ns},
				Spec:       spec,
			}
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatalf("create: %v", err)
			}
			if ok, where := testenv.JSONEqual(withNull(t, data, paths...), rawSpec(t, ns, obj.Name)); !ok {
				t.Fatalf("stored spec is not the seed with those members null, at %s", where)
			}
		})
	}
}

func TestInvalidObjectsRejected(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name, spec, want string
	}{
		{"no id", `{"title": "x"}`, `spec.id: Required value`},
		{"id zero", `{"id": 0}`, `spec.id: Invalid value: 0: spec.id in body should be greater than or equal to 1`},
		{"negative id", `{"id": -4}`, `spec.id in body should be greater than or equal to 1`},
		{"id as string", `{"id": "21447"}`, `spec.id: Invalid value: "string": spec.id in body must be of type integer`},
		{"id as float", `{"id": 1.5}`, `spec.id in body must be of type int64`},
		{"title as number", `{"id": 1, "title": 42}`, `spec.title in body must be of type string`},
		{"lat as string", `{"id": 1, "place": {"location": {"lat": "-10.59"}}}`, `spec.place.location.lat in body must be of type number`},
		{"sessions as object", `{"id": 1, "sessions": {"id": 1}}`, `spec.sessions in body must be of type array`},
		{"session id as string", `{"id": 1, "sessions": [{"id": "x"}]}`, `spec.sessions[0].id in body must be of type integer`},
		{"attribute not an object", `{"id": 1, "attributes": {"saleEnabled": true}}`, `spec.attributes.saleEnabled in body must be of type object`},
		{"status as string", `{"id": 1, "status": "private"}`, `spec.status in body must be of type object`},
		{"negative company", `{"id": 1, "companyId": -1}`, `spec.companyId in body should be greater than or equal to 0`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rawCreate(t, ns, fmt.Sprintf("invalid-%d", i), json.RawMessage(tc.spec))
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error from the API server, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestPrinterColumns(t *testing.T) {
	ns := env.Namespace(t)
	var spec eventsv1alpha1.IngresseEventSpec
	if err := json.Unmarshal(testenv.SeedData(t, examples.EventCreate), &spec); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obj := &eventsv1alpha1.IngresseEvent{
		ObjectMeta: metav1.ObjectMeta{Name: eventsv1alpha1.ResourceName(spec.ID), Namespace: ns},
		Spec:       spec,
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}

	t.Run("Table request", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(env.Config)
		raw, err := cs.RESTClient().Get().AbsPath("/apis/events.ingresse.com/v1alpha1/namespaces", ns, "ingresseevents").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			t.Fatal(err)
		}
		cells := map[string]any{}
		for i, col := range table.ColumnDefinitions {
			cells[col.Name] = table.Rows[0].Cells[i]
		}
		for col, want := range map[string]any{
			"Name": "event-21447", "Title": "Webhook Example", "Status": "private",
			"First Session": "2017-12-01T20:00:00+00:00", "Event ID": float64(21447),
		} {
			if cells[col] != want {
				t.Errorf("column %q = %v, want %v", col, cells[col], want)
			}
		}
		for _, col := range []string{"Next Session", "Ready", "Age"} {
			if _, ok := cells[col]; !ok {
				t.Errorf("column %q missing from %v", col, table.ColumnDefinitions)
			}
		}
	})

	t.Run("kubectl", func(t *testing.T) {
		out := kubectl(t, "get", "ingresseevents", "-n", ns)
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		if got := strings.Join(header, " "); got != "NAME TITLE STATUS NEXT SESSION READY AGE" {
			t.Errorf("kubectl get header = %q", got)
		}
		if !strings.Contains(out, "Webhook Example") || !strings.Contains(out, "private") {
			t.Errorf("kubectl get output lacks the event:\n%s", out)
		}
		// The short name and the category work too.
		for _, args := range [][]string{{"get", "ie", "-n", ns}, {"get", "ingresse", "-n", ns}} {
			if out := kubectl(t, args...); !strings.Contains(out, "event-21447") {
				t.Errorf("kubectl %v:\n%s", args, out)
			}
		}
		yaml := kubectl(t, "get", "ingresseevent", "event-21447", "-n", ns, "-o", "yaml")
		for _, field := range []string{"acceptedApps:", "accountMode:", "advertisement:", "cpfTicketsLimit:", "creditcardLimit:",
			"customCode:", "invoiceIdentifier:", "printData:", "retentionPercentage:", "retentionThreshold:", "value: 100000\n",
			"saleEnabled:", "ticketTransferEnabled:", "ticketTransferRequired:", "videoUrl:", "categories: []",
			"companyId: 1", "createdAt:", "description: Lorem ipsum dolor sit amet", "id: 21447", "city: null",
			"externalId: \"174195295973440\"", "lat: -10.59", "lon: -37.38", "origin: facebook", "zip: null",
			"xLarge: https://event-kraken.s3.amazonaws.com/event/posters/21447/xLarge.jpg", "producerId: 297229",
			"dateTime: \"2017-12-01T20:00:00+00:00\"", "id: 32864", "status: finished", "slug: webhook-example",
			"name: private", "title: Webhook Example", "updatedAt:", "usersPermission: null", "formalName: \"\"",
		} {
			if !strings.Contains(yaml, field) {
				t.Errorf("kubectl get -o yaml does not show %q", field)
			}
		}
		explain := kubectl(t, "explain", "ingresseevent.spec")
		for _, want := range []string{"exactly as Ingresse sends it", "attributes", "sessions", "usersPermission"} {
			if !strings.Contains(explain, want) {
				t.Errorf("kubectl explain does not mention %q:\n%s", want, explain)
			}
		}
	})
}

// kubectl runs the test control plane's kubectl against the test API server.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestSpecIsOneManagedField: the spec is atomic, so whoever writes it owns
// one field, not one per member; a stored event's managedFields stay
// small however large its spec (they were half its size).
func TestSpecIsOneManagedField(t *testing.T) {
	ns := env.Namespace(t)
	ev := &eventsv1alpha1.IngresseEvent{ObjectMeta: metav1.ObjectMeta{Name: "event-21447", Namespace: ns}}
	if err := json.Unmarshal(testenv.SeedData(t, examples.EventCreate), &ev.Spec); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), ev, ctrlclient.FieldOwner("receiver")); err != nil {
		t.Fatal(err)
	}
	if len(ev.ManagedFields) != 1 || ev.ManagedFields[0].FieldsV1 == nil {
		t.Fatalf("managedFields %+v, want one entry", ev.ManagedFields)
	}
	if got := ev.ManagedFields[0].FieldsV1.GetRawString(); got != `{"f:spec":{}}` {
		t.Errorf("the writer of the spec owns %s, want the spec as one field", got)
	}
}
