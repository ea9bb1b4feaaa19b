package controllers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
)

// schedule is what the sessions of an event say at one instant. The derived
// ConfigMap (EVENT_NEXT_SESSION_*), status.nextSession and the
// UpcomingSession condition all read it, so they never disagree.
type schedule struct {
	// next is the earliest session that starts after now, nil if none,
	// and nextName names it (sessionName).
	next     *eventsv1alpha1.Session
	nextName string
	// nextStart is when next starts.
	nextStart time.Time
	// upcoming counts the sessions that start after now (next included).
	upcoming int
	// started counts the sessions that started at or before now.
	started int
	// cancelled counts the sessions whose status says cancelled.
	cancelled int
	// unparsable names the sessions whose dateTime is not a time
	// (sessionName); they are left out rather than guessed.
	unparsable []string
}

// scheduleAt sorts the sessions into started, upcoming, cancelled and
// unparsable at now. A session counts as started at its dateTime exactly, so
// a reconcile requeued for that instant sees it as started. Two sessions
// starting at once are told apart by the order Ingresse sent them in.
func scheduleAt(sessions []eventsv1alpha1.Session, now time.Time) schedule {
	var s schedule
	for i := range sessions {
		session := &sessions[i]
		if isCancelled(deref(session.Status)) {
			s.cancelled++
			continue
		}
		start, err := eventsv1alpha1.ParseTime(deref(session.DateTime))
		if err != nil {
			s.unparsable = append(s.unparsable, sessionName(i, session))
			continue
		}
		if !start.After(now) {
			s.started++
			continue
		}
		s.upcoming++
		if s.next == nil || start.Before(s.nextStart) {
			s.next, s.nextName, s.nextStart = session, sessionName(i, session), start
		}
	}
	return s
}

// isCancelled reports whether a session status says the session will not
// happen. Ingresse's documentation shows only "finished"; both spellings of
// cancelled are accepted.
func isCancelled(status string) bool {
	return strings.EqualFold(status, "cancelled") || strings.EqualFold(status, "canceled")
}

// sessionName names the i-th session in a condition message: its id, or
// where it is in spec.sessions when Ingresse sent it without one.
func sessionName(i int, session *eventsv1alpha1.Session) string {
	if session.ID == nil {
		return fmt.Sprintf("without id (sessions[%d])", i)
	}
	return strconv.FormatInt(*session.ID, 10)
}

// nextSessionRef is status.nextSession for a schedule. The next session
// always has a dateTime (it parsed); its id may be absent.
func (s schedule) nextSessionRef() *eventsv1alpha1.SessionReference {
	if s.next == nil {
		return nil
	}
	ref := &eventsv1alpha1.SessionReference{DateTime: deref(s.next.DateTime)}
	if s.next.ID != nil {
		ref.ID = new(*s.next.ID)
	}
	return ref
}

// requeueAfter is how long until the next session starts: the instant the
// UpcomingSession condition, status.nextSession and the ConfigMap's
// EVENT_NEXT_SESSION_* keys change without any write to the object. Zero
// when no session is upcoming.
func (s schedule) requeueAfter(now time.Time) time.Duration {
	if s.next == nil {
		return 0
	}
	return s.nextStart.Sub(now)
}
