package controllers

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// configMapState is what reconcileConfigMap found or did.
type configMapState int

const (
	// configMapMatches: the ConfigMap now holds the desired content.
	configMapMatches configMapState = iota
	// configMapConflict: a ConfigMap of that name is not ours; left alone.
	configMapConflict
	// configMapFailed: reading or writing the ConfigMap failed.
	configMapFailed
	// configMapInvalidSpec: the spec cannot be made into a ConfigMap.
	configMapInvalidSpec
)

// configMapResult is the outcome of reconcileConfigMap, the input the
// conditions are computed from.
type configMapResult struct {
	state configMapState
	// name and namespace of the ConfigMap.
	name, namespace string
	// content is the desired content (empty when the spec is invalid).
	content configMapContent
	// budget is the data budget content was fitted to.
	budget int
	// observedHash is the content hash of the ConfigMap this event
	// controls, as last seen (or just written); "" when there is none.
	observedHash string
	// err says what failed for configMapFailed and configMapInvalidSpec.
	err error
	// permanent marks a configMapFailed that retrying will not fix: the
	// API server rejected the ConfigMap as invalid.
	permanent bool
	// conflicted marks a configMapFailed that is a write conflict (see
	// writeConflict), not to be confused with configMapConflict: the
	// ConfigMap changed while being written, and the retry judges what
	// is there now. Only a lasting one is reported (conflictStreaks).
	conflicted bool
}

// conditionOrder is the order of the conditions in status, for stable
// output. The controller owns every condition on an IngresseEvent.
var conditionOrder = []string{
	eventsv1alpha1.ConditionReady,
	eventsv1alpha1.ConditionContentComplete,
	eventsv1alpha1.ConditionSalesEnabled,
	eventsv1alpha1.ConditionUpcomingSession,
	eventsv1alpha1.ConditionInSource,
}

// maxListedKeys is how many omitted keys a condition message names.
const maxListedKeys = 20

// computeConditions derives the conditions, status.nextSession and the time
// until they next change on their own (the next session's start, 0 if
// never) from the event, the ConfigMap outcome and now. Every condition
// carries the event's generation and LastTransitionTime now; keeping an
// unchanged condition's older LastTransitionTime is desiredStatus' job.
func computeConditions(ev *eventsv1alpha1.IngresseEvent, cm configMapResult, now time.Time) ([]metav1.Condition, *eventsv1alpha1.SessionReference, time.Duration) {
	sched := scheduleAt(ev.Spec.Sessions, now)
	conds := []metav1.Condition{
		readyCondition(cm),
		contentCondition(cm),
		salesCondition(&ev.Spec),
		upcomingCondition(&ev.Spec, sched),
		sourceCondition(ev),
	}
	at := metav1.NewTime(now).Rfc3339Copy()
	for i := range conds {
		conds[i].ObservedGeneration = ev.Generation
		conds[i].LastTransitionTime = at
	}
	return conds, sched.nextSessionRef(), sched.requeueAfter(now)
}

func readyCondition(cm configMapResult) metav1.Condition {
	c := metav1.Condition{Type: eventsv1alpha1.ConditionReady, Status: metav1.ConditionFalse}
	switch cm.state {
	case configMapMatches:
		c.Status, c.Reason = metav1.ConditionTrue, eventsv1alpha1.ReasonReconciled
		c.Message = fmt.Sprintf("ConfigMap %s holds the current spec.", cm.name)
	case configMapConflict:
		c.Reason = eventsv1alpha1.ReasonConfigMapConflict
		c.Message = fmt.Sprintf("ConfigMap %s/%s already exists and is not controlled by this IngresseEvent, so the operator leaves it alone. "+
			"Delete or rename that ConfigMap; the event is reconciled again as soon as it changes or is gone.", cm.namespace, cm.name)
	case configMapInvalidSpec:
		c.Reason = eventsv1alpha1.ReasonInvalidSpec
		c.Message = fmt.Sprintf("The spec cannot be turned into ConfigMap %s: %s. Fix the IngresseEvent; retrying will not help.",
			cm.name, shorten(errText(cm.err), 1024))
	case configMapFailed:
		c.Reason = eventsv1alpha1.ReasonConfigMapApplyFailed
		cause := shorten(errText(cm.err), 1024)
		switch {
		case cm.permanent:
			c.Message = fmt.Sprintf("The API server rejected ConfigMap %s: %s. Delete the ConfigMap (it is recreated) or remove what makes it invalid; "+
				"the event is reconciled again when the ConfigMap or the IngresseEvent changes.", cm.name, cause)
		case cm.conflicted:
			c.Message = fmt.Sprintf("Writing ConfigMap %s met a conflict %d or more times in a row (it changed while being written), retrying with backoff. "+
				"Something else may be writing or deleting it: %s", cm.name, conflictsBeforeFailure, cause)
		default:
			c.Message = fmt.Sprintf("Writing ConfigMap %s failed, retrying with backoff: %s", cm.name, cause)
		}
	}
	return c
}

func contentCondition(cm configMapResult) metav1.Condition {
	c := metav1.Condition{Type: eventsv1alpha1.ConditionContentComplete}
	switch {
	case cm.state == configMapInvalidSpec:
		c.Status, c.Reason = metav1.ConditionUnknown, eventsv1alpha1.ReasonInvalidSpec
		c.Message = "No ConfigMap content can be computed from the spec; see the Ready condition."
	case len(cm.content.omitted) == 0:
		c.Status, c.Reason = metav1.ConditionTrue, eventsv1alpha1.ReasonAllContentIncluded
		c.Message = fmt.Sprintf("Every key fits within the ConfigMap's data budget of %d bytes.", cm.budget)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, eventsv1alpha1.ReasonContentTruncated
		var keys []string
		for i, o := range cm.content.omitted {
			if i == maxListedKeys {
				keys = append(keys, fmt.Sprintf("and %d more", len(cm.content.omitted)-maxListedKeys))
				break
			}
			why := ""
			if o.tooLongForEnv {
				why = ", too long for an environment variable"
			}
			keys = append(keys, fmt.Sprintf("%s (%d bytes%s)", o.key, o.size, why))
		}
		c.Message = fmt.Sprintf("Left out of ConfigMap %s to stay within its data budget of %d bytes and the %d-byte limit of one environment variable: %s. "+
			"The IngresseEvent's spec still holds everything.", cm.name, cm.budget, maxEnvVarBytes, strings.Join(keys, ", "))
	}
	return c
}

func salesCondition(spec *eventsv1alpha1.IngresseEventSpec) metav1.Condition {
	c := metav1.Condition{Type: eventsv1alpha1.ConditionSalesEnabled, Status: metav1.ConditionUnknown, Reason: eventsv1alpha1.ReasonSaleAttributeMissing}
	attr, ok := spec.Attributes["saleEnabled"]
	if !ok {
		c.Message = "The event has no saleEnabled attribute."
		return c
	}
	raw := []byte("null")
	if attr.Value != nil && len(bytes.TrimSpace(attr.Value.Raw)) > 0 {
		raw = bytes.TrimSpace(attr.Value.Raw)
	}
	switch string(raw) {
	case "true":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, eventsv1alpha1.ReasonSaleEnabled, "The saleEnabled attribute is true."
	case "false":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, eventsv1alpha1.ReasonSaleDisabled, "The saleEnabled attribute is false."
	default:
		c.Message = fmt.Sprintf("The saleEnabled attribute is %s, not a boolean.", shorten(string(raw), 64))
	}
	return c
}

func upcomingCondition(spec *eventsv1alpha1.IngresseEventSpec, s schedule) metav1.Condition {
	c := metav1.Condition{Type: eventsv1alpha1.ConditionUpcomingSession}
	var msg string
	switch {
	case s.next != nil:
		c.Status, c.Reason = metav1.ConditionTrue, eventsv1alpha1.ReasonSessionScheduled
		msg = fmt.Sprintf("Session %s starts at %s; %d of %d sessions have not started.", s.nextName, deref(s.next.DateTime), s.upcoming, len(spec.Sessions))
	case len(spec.Sessions) == 0:
		c.Status, c.Reason = metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession
		msg = "The event has no sessions."
	default:
		c.Status, c.Reason = metav1.ConditionFalse, eventsv1alpha1.ReasonNoUpcomingSession
		msg = fmt.Sprintf("No session starts in the future: %d of %d sessions have started.", s.started, len(spec.Sessions))
	}
	if s.cancelled > 0 {
		msg += fmt.Sprintf(" %d cancelled session(s) ignored.", s.cancelled)
	}
	if len(s.unparsable) > 0 {
		msg += fmt.Sprintf(" Session(s) %s ignored: their dateTime is not a time (want RFC 3339, e.g. 2017-12-01T20:00:00+00:00).",
			shorten(strings.Join(s.unparsable, ", "), 256))
	}
	c.Message = msg
	return c
}

// sourceCondition says whether Ingresse's API confirmed the stored version,
// from the annotations the receiver and the resync sweep write.
func sourceCondition(ev *eventsv1alpha1.IngresseEvent) metav1.Condition {
	c := metav1.Condition{Type: eventsv1alpha1.ConditionInSource}
	a := ev.Annotations
	switch {
	case a[eventsv1alpha1.AnnotationAbsentSince] != "":
		c.Status, c.Reason = metav1.ConditionFalse, eventsv1alpha1.ReasonNotInSource
		c.Message = fmt.Sprintf("Ingresse's API did not list the event in the sweep at %s (nor since). It is kept; delete it yourself if it is gone for good.",
			shorten(a[eventsv1alpha1.AnnotationAbsentSince], 64))
	case a[eventsv1alpha1.AnnotationSource] == eventsv1alpha1.SourceIngresseAPI:
		c.Status, c.Reason = metav1.ConditionTrue, eventsv1alpha1.ReasonConfirmedBySource
		c.Message = fmt.Sprintf("Ingresse's API confirmed the stored version (updatedAt %s) at %s.",
			shorten(deref(ev.Spec.UpdatedAt), 64), shorten(a[eventsv1alpha1.AnnotationConfirmedAt], 64))
	default:
		c.Status, c.Reason = metav1.ConditionUnknown, eventsv1alpha1.ReasonWebhookOnly
		c.Message = "The stored version is what a webhook said; Ingresse's API has not confirmed it (no API credentials, or no sweep since)."
	}
	return c
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// shorten cuts s to at most max bytes, on a rune boundary, marking the cut.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("...")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
