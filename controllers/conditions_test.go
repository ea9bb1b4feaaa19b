package controllers

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

func sessions(list ...map[string]any) func(m map[string]any) {
	return func(m map[string]any) {
		s := make([]any, len(list))
		for i, x := range list {
			s[i] = x
		}
		m["sessions"] = s
	}
}

func session(id int, dateTime, status string) map[string]any {
	return map[string]any{"id": id, "dateTime": dateTime, "status": status}
}

func TestComputeConditionsSessions(t *testing.T) {
	now := mustTime(t, "2030-05-01T12:00:00Z")
	cases := []struct {
		name        string
		edit        func(m map[string]any)
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantNext    *eventsv1alpha1.SessionReference
		wantRequeue time.Duration
		wantInMsg   []string
	}{
		{
			name:       "the seed: one session, long finished",
			edit:       func(map[string]any) {},
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
			wantInMsg: []string{"1 of 1 sessions have started"},
		},
		{
			name:       "no sessions",
			edit:       func(m map[string]any) { m["sessions"] = nil },
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
			wantInMsg: []string{"no sessions"},
		},
		{
			name:       "past sessions only",
			edit:       sessions(session(1, "2030-04-30T12:00:00Z", "finished"), session(2, "2030-05-01T08:59:59-03:00", "available")),
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
			wantInMsg: []string{"2 of 2 sessions have started"},
		},
		{
			name:       "a session starting exactly now has started",
			edit:       sessions(session(1, "2030-05-01T09:00:00-03:00", "available")),
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
		},
		{
			name: "future sessions: the earliest is next, whatever the order and offset",
			edit: sessions(
				session(1, "2030-04-01T20:00:00Z", "finished"),
				session(3, "2030-06-01T20:00:00+00:00", "available"),
				session(2, "2030-05-01T12:30:00-03:00", "available"), // 15:30 UTC
			),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{ID: new(int64(2)), DateTime: "2030-05-01T12:30:00-03:00"},
			wantRequeue: 3*time.Hour + 30*time.Minute,
			wantInMsg:   []string{"Session 2 starts at 2030-05-01T12:30:00-03:00", "2 of 3 sessions have not started"},
		},
		{
			name:       "one nanosecond before the start",
			edit:       sessions(session(9, "2030-05-01T12:00:00.000000001Z", "available")),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{ID: new(int64(9)), DateTime: "2030-05-01T12:00:00.000000001Z"},
			wantRequeue: time.Nanosecond,
		},
		{
			name:       "two sessions at the same instant: the first sent wins",
			edit:       sessions(session(5, "2030-05-02T00:00:00Z", ""), session(4, "2030-05-01T21:00:00-03:00", "")),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{ID: new(int64(5)), DateTime: "2030-05-02T00:00:00Z"},
			wantRequeue: 12 * time.Hour,
		},
		{
			name:       "cancelled sessions are ignored",
			edit:       sessions(session(1, "2030-06-01T20:00:00Z", "cancelled"), session(2, "2030-06-02T20:00:00Z", "Canceled")),
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
			wantInMsg: []string{"2 cancelled session(s) ignored"},
		},
		{
			name:       "a cancelled session does not hide the next real one",
			edit:       sessions(session(1, "2030-06-01T20:00:00Z", "cancelled"), session(2, "2030-06-02T20:00:00Z", "available")),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{ID: new(int64(2)), DateTime: "2030-06-02T20:00:00Z"},
			wantRequeue: 32*24*time.Hour + 8*time.Hour,
			wantInMsg:   []string{"1 cancelled session(s) ignored"},
		},
		{
			name:       "unparsable times are ignored and named",
			edit:       sessions(session(7, "next friday", "available"), session(8, "", "available")),
			wantStatus: metav1.ConditionFalse, wantReason: eventsv1alpha1.ReasonNoUpcomingSession,
			wantInMsg: []string{"Session(s) 7, 8 ignored: their dateTime is not a time"},
		},
		{
			name:       "an unparsable time next to a valid future one",
			edit:       sessions(session(7, "31/12/2030", "available"), session(8, "2030-05-01T13:00:00Z", "available")),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{ID: new(int64(8)), DateTime: "2030-05-01T13:00:00Z"},
			wantRequeue: time.Hour,
			wantInMsg:   []string{"Session(s) 7 ignored"},
		},
		{
			// Ingresse sent null: no made-up id, in the status or the
			// message.
			name: "sessions without an id, or with a null dateTime or status",
			edit: sessions(
				map[string]any{"id": nil, "dateTime": "2030-05-01T14:00:00Z", "status": nil},
				map[string]any{"id": 3, "dateTime": nil, "status": "available"},
				map[string]any{"id": nil, "dateTime": nil, "status": nil},
			),
			wantStatus: metav1.ConditionTrue, wantReason: eventsv1alpha1.ReasonSessionScheduled,
			wantNext:    &eventsv1alpha1.SessionReference{DateTime: "2030-05-01T14:00:00Z"},
			wantRequeue: 2 * time.Hour,
			wantInMsg: []string{"Session without id (sessions[0]) starts at 2030-05-01T14:00:00Z",
				"Session(s) 3, without id (sessions[2]) ignored: their dateTime is not a time"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1alpha1.IngresseEvent{Spec: specWith(t, tc.edit)}
			ev.Generation = 4
			conds, next, requeue := computeConditions(ev, configMapResult{state: configMapMatches, name: "event-21447"}, now)
			c := findCondition(t, conds, eventsv1alpha1.ConditionUpcomingSession)
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason {
				t.Errorf("UpcomingSession = %s/%s (%s), want %s/%s", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason)
			}
			for _, want := range tc.wantInMsg {
				if !strings.Contains(c.Message, want) {
					t.Errorf("message %q does not say %q", c.Message, want)
				}
			}
			if !reflect.DeepEqual(next, tc.wantNext) {
				t.Errorf("nextSession = %+v, want %+v", next, tc.wantNext)
			}
			if requeue != tc.wantRequeue {
				t.Errorf("requeueAfter = %s, want %s", requeue, tc.wantRequeue)
			}
			// The message must not change as time passes between two
			// boundaries, or every reconcile would write status.
			later := now.Add(tc.wantRequeue / 2)
			if tc.wantRequeue == 0 {
				later = now.Add(time.Hour)
			}
			conds2, _, _ := computeConditions(ev, configMapResult{state: configMapMatches, name: "event-21447"}, later)
			if c2 := findCondition(t, conds2, eventsv1alpha1.ConditionUpcomingSession); c2.Message != c.Message || c2.Status != c.Status {
				t.Errorf("condition changed between boundaries: %q -> %q", c.Message, c2.Message)
			}
		})
	}
}

func TestComputeConditionsSales(t *testing.T) {
	setSale := func(v any) func(m map[string]any) {
		return func(m map[string]any) {
			m["attributes"].(map[string]any)["saleEnabled"] = map[string]any{"name": "sale_enabled", "value": v}
		}
	}
	cases := []struct {
		name       string
		edit       func(m map[string]any)
		wantStatus metav1.ConditionStatus
		wantReason string
		wantInMsg  string
	}{
		{"true (the seed)", func(map[string]any) {}, metav1.ConditionTrue, eventsv1alpha1.ReasonSaleEnabled, "is true"},
		{"false", setSale(false), metav1.ConditionFalse, eventsv1alpha1.ReasonSaleDisabled, "is false"},
		{"missing", func(m map[string]any) { delete(m["attributes"].(map[string]any), "saleEnabled") }, metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, "no saleEnabled attribute"},
		{"no attributes at all", func(m map[string]any) { delete(m, "attributes") }, metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, "no saleEnabled attribute"},
		{"null", setSale(nil), metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, "is null, not a boolean"},
		{"a string", setSale("true"), metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, `is "true", not a boolean`},
		{"a number", setSale(1), metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, "is 1, not a boolean"},
		{"an object", setSale(map[string]any{"web": true}), metav1.ConditionUnknown, eventsv1alpha1.ReasonSaleAttributeMissing, "not a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1alpha1.IngresseEvent{Spec: specWith(t, tc.edit)}
			conds, _, _ := computeConditions(ev, configMapResult{state: configMapMatches}, time.Unix(0, 0))
			c := findCondition(t, conds, eventsv1alpha1.ConditionSalesEnabled)
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantInMsg) {
				t.Errorf("SalesEnabled = %s/%s %q, want %s/%s containing %q", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}

func TestComputeConditionsInSource(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantInMsg   string
	}{
		{"a webhook's version", map[string]string{eventsv1alpha1.AnnotationSource: eventsv1alpha1.SourceWebhook},
			metav1.ConditionUnknown, eventsv1alpha1.ReasonWebhookOnly, "what a webhook said"},
		{"stored before sources were recorded", nil, metav1.ConditionUnknown, eventsv1alpha1.ReasonWebhookOnly, "has not confirmed"},
		{"confirmed by the API", map[string]string{eventsv1alpha1.AnnotationSource: eventsv1alpha1.SourceIngresseAPI,
			eventsv1alpha1.AnnotationConfirmedAt: "2026-12-01T10:00:00Z"}, metav1.ConditionTrue, eventsv1alpha1.ReasonConfirmedBySource, "at 2026-12-01T10:00:00Z"},
		{"missed by the last sweep", map[string]string{eventsv1alpha1.AnnotationSource: eventsv1alpha1.SourceIngresseAPI,
			eventsv1alpha1.AnnotationAbsentSince: "2026-12-01T11:00:00Z"}, metav1.ConditionFalse, eventsv1alpha1.ReasonNotInSource, "2026-12-01T11:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1alpha1.IngresseEvent{Spec: specWith(t, func(map[string]any) {})}
			ev.Annotations = tc.annotations
			conds, _, _ := computeConditions(ev, configMapResult{state: configMapMatches}, time.Unix(0, 0))
			c := findCondition(t, conds, eventsv1alpha1.ConditionInSource)
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantInMsg) {
				t.Errorf("InSource = %s/%s %q, want %s/%s containing %q", c.Status, c.Reason, c.Message, tc.wantStatus, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}

func TestComputeConditionsConfigMap(t *testing.T) {
	omitted := configMapContent{omitted: []omittedKey{{key: keyEventJSON, size: 1_200_010, tooLongForEnv: true}, {key: "EVENT_ATTR_BLOB", size: 5000}}}
	var many configMapContent
	for i := range 25 {
		many.omitted = append(many.omitted, omittedKey{key: "EVENT_ATTR_K" + strings.Repeat("X", i), size: 100})
	}
	cases := []struct {
		name                      string
		cm                        configMapResult
		readyStatus               metav1.ConditionStatus
		readyReason, readyMsg     string
		contentStatus             metav1.ConditionStatus
		contentReason, contentMsg string
	}{
		{
			name:        "matches",
			cm:          configMapResult{state: configMapMatches, name: "event-1", budget: 921600},
			readyStatus: metav1.ConditionTrue, readyReason: eventsv1alpha1.ReasonReconciled, readyMsg: "ConfigMap event-1 holds the current spec",
			contentStatus: metav1.ConditionTrue, contentReason: eventsv1alpha1.ReasonAllContentIncluded, contentMsg: "921600 bytes",
		},
		{
			name:        "matches, truncated",
			cm:          configMapResult{state: configMapMatches, name: "event-1", budget: 921600, content: omitted},
			readyStatus: metav1.ConditionTrue, readyReason: eventsv1alpha1.ReasonReconciled,
			contentStatus: metav1.ConditionFalse, contentReason: eventsv1alpha1.ReasonContentTruncated,
			contentMsg: "Left out of ConfigMap event-1 to stay within its data budget of 921600 bytes and the 131072-byte limit of one environment variable: " +
				"event.json (1200010 bytes, too long for an environment variable), EVENT_ATTR_BLOB (5000 bytes).",
		},
		{
			name:        "truncated a lot: the message names 20 keys and counts the rest",
			cm:          configMapResult{state: configMapMatches, name: "event-1", budget: 100, content: many},
			readyStatus: metav1.ConditionTrue, readyReason: eventsv1alpha1.ReasonReconciled,
			contentStatus: metav1.ConditionFalse, contentReason: eventsv1alpha1.ReasonContentTruncated, contentMsg: "EVENT_ATTR_K (100 bytes), EVENT_ATTR_KX (100 bytes), ",
		},
		{
			name:        "conflict",
			cm:          configMapResult{state: configMapConflict, name: "event-1", namespace: "ns"},
			readyStatus: metav1.ConditionFalse, readyReason: eventsv1alpha1.ReasonConfigMapConflict,
			readyMsg:      "ConfigMap ns/event-1 already exists and is not controlled by this IngresseEvent",
			contentStatus: metav1.ConditionTrue, contentReason: eventsv1alpha1.ReasonAllContentIncluded,
		},
		{
			name:        "transient failure",
			cm:          configMapResult{state: configMapFailed, name: "event-1", err: errors.New("etcdserver: request timed out")},
			readyStatus: metav1.ConditionFalse, readyReason: eventsv1alpha1.ReasonConfigMapApplyFailed,
			readyMsg:      "Writing ConfigMap event-1 failed, retrying with backoff: etcdserver: request timed out",
			contentStatus: metav1.ConditionTrue, contentReason: eventsv1alpha1.ReasonAllContentIncluded,
		},
		{
			name:        "lasting write conflict",
			cm:          configMapResult{state: configMapFailed, conflicted: true, name: "event-1", err: errors.New("uid mismatch")},
			readyStatus: metav1.ConditionFalse, readyReason: eventsv1alpha1.ReasonConfigMapApplyFailed,
			readyMsg:      "Writing ConfigMap event-1 met a conflict 3 or more times in a row (it changed while being written), retrying with backoff. Something else may be writing or deleting it: uid mismatch",
			contentStatus: metav1.ConditionTrue, contentReason: eventsv1alpha1.ReasonAllContentIncluded,
		},
		{
			name:        "rejected by the API server",
			cm:          configMapResult{state: configMapFailed, permanent: true, name: "event-1", err: errors.New("field is immutable")},
			readyStatus: metav1.ConditionFalse, readyReason: eventsv1alpha1.ReasonConfigMapApplyFailed,
			readyMsg:      "The API server rejected ConfigMap event-1: field is immutable. Delete the ConfigMap",
			contentStatus: metav1.ConditionTrue, contentReason: eventsv1alpha1.ReasonAllContentIncluded,
		},
		{
			name:        "invalid spec",
			cm:          configMapResult{state: configMapInvalidSpec, name: "event-1", err: errors.New("the event's core fields alone take 5000 bytes")},
			readyStatus: metav1.ConditionFalse, readyReason: eventsv1alpha1.ReasonInvalidSpec,
			readyMsg:      "The spec cannot be turned into ConfigMap event-1: the event's core fields alone take 5000 bytes. Fix the IngresseEvent",
			contentStatus: metav1.ConditionUnknown, contentReason: eventsv1alpha1.ReasonInvalidSpec,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1alpha1.IngresseEvent{Spec: seedSpec(t)}
			ev.Generation = 7
			now := mustTime(t, "2030-05-01T12:00:00.123456Z")
			conds, _, _ := computeConditions(ev, tc.cm, now)
			ready := findCondition(t, conds, eventsv1alpha1.ConditionReady)
			if ready.Status != tc.readyStatus || ready.Reason != tc.readyReason || !strings.Contains(ready.Message, tc.readyMsg) {
				t.Errorf("Ready = %s/%s %q", ready.Status, ready.Reason, ready.Message)
			}
			content := findCondition(t, conds, eventsv1alpha1.ConditionContentComplete)
			if content.Status != tc.contentStatus || content.Reason != tc.contentReason || !strings.Contains(content.Message, tc.contentMsg) {
				t.Errorf("ContentComplete = %s/%s %q", content.Status, content.Reason, content.Message)
			}
			if strings.Contains(content.Message, "EVENT_ATTR_K"+strings.Repeat("X", 20)+" ") {
				t.Errorf("message lists more than %d keys", maxListedKeys)
			}
			if len(tc.cm.content.omitted) > maxListedKeys && !strings.Contains(content.Message, "and 5 more") {
				t.Errorf("message does not count the keys left unnamed: %q", content.Message)
			}
			if len(conds) != len(conditionOrder) {
				t.Fatalf("%d conditions", len(conds))
			}
			for i, c := range conds {
				if c.Type != conditionOrder[i] || c.ObservedGeneration != 7 || !c.LastTransitionTime.Equal(&metav1.Time{Time: now.Truncate(time.Second)}) {
					t.Errorf("condition %d: %s gen %d at %s", i, c.Type, c.ObservedGeneration, c.LastTransitionTime)
				}
			}
		})
	}
}

func findCondition(t *testing.T, conds []metav1.Condition, condType string) metav1.Condition {
	t.Helper()
	for _, c := range conds {
		if c.Type == condType {
			return c
		}
	}
	t.Fatalf("no %s condition in %+v", condType, conds)
	return metav1.Condition{}
}
