package webhookreceiver

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// TestStoreFromAPISaysWhatRetryingWillNotStore: a document the API server
// refuses (its schema) is an invalid event, which a sweep skips; a failure
// of the API server itself is not, and the sweep retries it.
func TestStoreFromAPISaysWhatRetryingWillNotStore(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := eventsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	doc := testenv.SeedData(t, examples.EventCreate)
	for name, tc := range map[string]struct {
		refusal error
		invalid bool
	}{
		"refused by the schema": {apierrors.NewInvalid(schema.GroupKind{Group: "events.ingresse.com", Kind: "IngresseEvent"}, "event-21447",
			field.ErrorList{field.TooLong(field.NewPath("spec", "title"), "", 512)}), true},
		"the API server unavailable": {apierrors.NewServiceUnavailable("etcd is down"), false},
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
					return tc.refusal
				},
			}).Build()
			_, err := eventstore.NewWriter(c, c, nil, eventstore.WriterOptions{Namespace: "ns"}).StoreFromAPI(context.Background(), doc, time.Now())
			if err == nil || errors.Is(err, eventstore.ErrInvalidEvent) != tc.invalid {
				t.Fatalf("StoreFromAPI = %v; eventstore.ErrInvalidEvent %v, want %v", err, errors.Is(err, eventstore.ErrInvalidEvent), tc.invalid)
			}
		})
	}
}
