package eventcache

import (
	"unique"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// Intern returns the one copy of s the process keeps for strings that
// every cached object repeats: label and annotation keys, the namespace,
// condition types and reasons. A decoded object carries its own copy of
// each; a hundred thousand cached objects would hold a hundred thousand
// copies. Values that differ per object (names, times, digests) must not
// be interned: each would cost an entry in the intern table besides
// itself.
func Intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// repeatedValues are the keys whose values repeat across events: a
// company's and a producer's id, the webhook's kind, where a version came
// from. The event's own id does not repeat.
var repeatedValues = map[string]bool{
	eventsv1alpha1.LabelCompanyID:    true,
	eventsv1alpha1.LabelProducerID:   true,
	eventsv1alpha1.AnnotationWebhook: true,
	eventsv1alpha1.AnnotationSource:  true,
}

// internValue interns v when the values of key repeat across objects.
func internValue(key, v string) string {
	if repeatedValues[key] {
		return Intern(v)
	}
	return v
}

// internLabels returns labels with interned keys (and the values that
// repeat), in a map of its own size.
func internLabels(labels map[string]string) map[string]string {
	if labels == nil {
		return nil
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[Intern(k)] = internValue(k, v)
	}
	return out
}
