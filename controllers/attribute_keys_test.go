package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// The suffixes a test can force: a perfect one (no two keys share it), and
// weak ones under which almost every pair of twins collides.
var (
	perfectSuffix = func(key string) string { return strings.ToUpper(fmt.Sprintf("%x", key)) }
	weakSuffixes  = map[string]func(string) string{
		"constant": func(string) string { return "0" },
		"one hex digit": func(key string) string {
			return hashSuffix(key)[:1]
		},
		// The shape of a crafted collision: the suffix of a name that is
		// itself a hashed name plus "_2".
		"looks like a fallback": func(key string) string { return "A_2"[:1+len(key)%3] },
	}
)

// randomKeys draws attribute keys that pile onto few bases: twins in every
// spelling, names with no letter, names too long to keep, names that look
// like hashed names, duplicates.
func randomKeys(r *rand.Rand) []string {
	words := []string{"sale", "enabled", "video", "url", "x", "A", "2", "Zz"}
	seps := []string{"", "_", "-", ".", "__", " ", "ç"}
	n := 1 + r.IntN(24)
	keys := make([]string, 0, n)
	for range n {
		var b strings.Builder
		switch r.IntN(10) {
		case 0:
			b.WriteString(strings.Repeat("veryLongName", 17+r.IntN(3)))
		case 1:
			b.WriteString(seps[r.IntN(len(seps))])
		}
		for w := 1 + r.IntN(3); w > 0; w-- {
			word := words[r.IntN(len(words))]
			if r.IntN(2) == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			}
			b.WriteString(word)
			b.WriteString(seps[r.IntN(len(seps))])
		}
		keys = append(keys, b.String())
	}
	if r.IntN(4) == 0 {
		keys = append(keys, keys[0]) // the same key twice is still one attribute
	}
	return keys
}

// TestAttributeKeysAreDistinctForAnyInput is the property behind the
// ConfigMap's attribute keys, over random key sets and under suffixes that
// collide on purpose: every attribute gets a name of its own, valid as a
// ConfigMap key and an environment variable, never a core key's; the names
// depend on the key set only, never on its order; and a name only one key
// wants is left as it is.
func TestAttributeKeysAreDistinctForAnyInput(t *testing.T) {
	suffixes := maps.Clone(weakSuffixes)
	suffixes["sha-256"] = hashSuffix
	core := coreData(&eventsv1alpha1.IngresseEventSpec{}, schedule{})
	for name, suffix := range suffixes {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(name))))
			for i := range 2000 {
				keys := randomKeys(r)
				got := attributeKeysWith(keys, suffix)
				if err := distinctAndValid(keys, got, core); err != nil {
					t.Fatalf("keys %q: %v", keys, err)
				}
				shuffled := slices.Clone(keys)
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if again := attributeKeysWith(shuffled, suffix); !maps.Equal(again, got) {
					t.Fatalf("round %d, keys %q: the names depend on the order\n%v\n%v", i, keys, got, again)
				}
				// Where the perfect suffix gives a key a name nobody else
				// wants, a weak suffix changes it only if it collided.
				ideal := attributeKeysWith(keys, perfectSuffix)
				for k, n := range got {
					if !strings.Contains(ideal[k], "__") && n != ideal[k] {
						t.Fatalf("keys %q: %q lost its plain name %s to %s", keys, k, ideal[k], n)
					}
				}
			}
		})
	}
}

func distinctAndValid(keys []string, got map[string]string, core map[string]string) error {
	owner := map[string]string{}
	for _, k := range keys {
		n, ok := got[k]
		if !ok {
			return fmt.Errorf("%q has no name", k)
		}
		if other, dup := owner[n]; dup && other != k {
			return fmt.Errorf("%q and %q share %s", k, other, n)
		}
		owner[n] = k
		if _, clash := core[n]; clash {
			return fmt.Errorf("%q takes the core key %s", k, n)
		}
		if errs := validation.IsConfigMapKey(n); len(errs) > 0 || !cIdentifier.MatchString(n) || !strings.HasPrefix(n, attrKeyPrefix) {
			return fmt.Errorf("%q -> %q is not a valid key: %v", k, n, errs)
		}
	}
	if len(got) != len(owner) {
		return fmt.Errorf("%d names for %d distinct keys", len(got), len(owner))
	}
	return nil
}

// collidingTwins finds n attribute keys that all map to the base
// SALE_ENABLED and share the real 8-digit suffix, by a birthday search over
// spellings that differ only in separators: what a sender would do.
func collidingTwins(t testing.TB, n int) []string {
	bySuffix := map[string][]string{}
	seps := []string{"-", ".", "_", " ", "/", ":", "+", "~"}
	for i := 0; ; i++ {
		var sep strings.Builder
		for j := i; ; j /= len(seps) {
			sep.WriteString(seps[j%len(seps)])
			if j < len(seps) {
				break
			}
		}
		k := "sale" + sep.String() + "enabled"
		s := hashSuffix(k)
		bySuffix[s] = append(bySuffix[s], k)
		if len(bySuffix[s]) == n {
			return bySuffix[s]
		}
		if i > 1<<26 {
			t.Fatal("no collision found")
		}
	}
}

// TestCraftedCollisionKeepsEveryValue: the review's case, three attribute
// names crafted so that two of them share their hashed name, plus the
// camelCase twin. Every value reaches the ConfigMap, under its own key.
func TestCraftedCollisionKeepsEveryValue(t *testing.T) {
	twins := collidingTwins(t, 2)
	keys := append([]string{"saleEnabled"}, twins...)
	names := attributeKeys(keys)
	if hashedName("SALE_ENABLED", hashSuffix(twins[0])) != hashedName("SALE_ENABLED", hashSuffix(twins[1])) {
		t.Fatalf("%q and %q do not collide", twins[0], twins[1])
	}
	if err := distinctAndValid(keys, names, nil); err != nil {
		t.Fatal(err)
	}
	spec := seedSpec(t)
	spec.Attributes = map[string]eventsv1alpha1.Attribute{}
	for i, k := range keys {
		spec.Attributes[k] = eventsv1alpha1.Attribute{Value: &apiextensionsv1.JSON{Raw: fmt.Appendf(nil, `"value %d"`, i)}}
	}
	content, err := desiredContent(&spec, time.Now(), DefaultMaxConfigMapDataBytes)
	if err != nil || len(content.omitted) > 0 {
		t.Fatalf("err %v, omitted %v", err, content.omitted)
	}
	for i, k := range keys {
		if got := content.data[names[k]]; got != fmt.Sprintf("value %d", i) {
			t.Errorf("%q: %s = %q", k, names[k], got)
		}
	}
}

// TestCollidingAttributesReachTheConfigMap runs the crafted collision
// through the controller on the real API server: the ConfigMap holds each
// value under its own key, ContentComplete stays True, and the same spec
// written again renders the same content hash.
func TestCollidingAttributesReachTheConfigMap(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	startManager(t, ns, &IngresseEventReconciler{})

	keys := append([]string{"saleEnabled"}, collidingTwins(t, 2)...)
	spec := seedSpec(t)
	spec.Attributes = map[string]eventsv1alpha1.Attribute{}
	for i, k := range keys {
		raw, err := json.Marshal(fmt.Sprintf("value %d", i))
		if err != nil {
			t.Fatal(err)
		}
		spec.Attributes[k] = eventsv1alpha1.Attribute{Name: &k, Value: &apiextensionsv1.JSON{Raw: raw}}
	}
	ev := newEvent(ns, spec)
	if err := env.Client.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ev)
	got := waitForCondition(t, key, eventsv1alpha1.ConditionContentComplete, metav1.ConditionTrue, eventsv1alpha1.ReasonAllContentIncluded)
	cm, err := getConfigMap(key)
	if err != nil {
		t.Fatal(err)
	}
	names := attributeKeys(keys)
	for i, k := range keys {
		if v := cm.Data[names[k]]; v != fmt.Sprintf("value %d", i) {
			t.Errorf("attribute %q: %s = %q in the ConfigMap", k, names[k], v)
		}
	}
	var attrs int
	for k := range cm.Data {
		if strings.HasPrefix(k, attrKeyPrefix) {
			attrs++
		}
	}
	if attrs != len(keys) {
		t.Errorf("%d EVENT_ATTR_ keys for %d attributes: %v", attrs, len(keys), slices.Sorted(maps.Keys(cm.Data)))
	}
	if got.Status.ConfigMapRef == nil || got.Status.ConfigMapRef.ContentHash != dataHash(cm.Data, nil) {
		t.Errorf("content hash not reported: %v", got.Status.ConfigMapRef)
	}
}
