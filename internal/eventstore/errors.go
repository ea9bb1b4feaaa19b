package eventstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ingresse-operator/ingresse-operator/internal/text"
)

// ErrInvalidEvent marks an event document that cannot be stored as it is
// (not an object, no positive id, a member of the wrong type, no
// updatedAt, or one the API server's schema refuses): storing it again
// will not store it. Errors that carry it are *InvalidError, whose message
// names the member.
var ErrInvalidEvent = errors.New("invalid event document")

// InvalidError is an event document refused for what it holds. Its message
// names the member and holds nothing of the cluster: the receiver sends it
// to the sender as it is.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

// Is makes every InvalidError an ErrInvalidEvent.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalidEvent }

func invalid(format string, args ...any) *InvalidError {
	return &InvalidError{msg: fmt.Sprintf(format, args...)}
}

// ErrAheadOfClock marks a version whose data.updatedAt is further ahead of
// the writer's clock than its MaxClockSkew. It is refused: stored, it would
// win every comparison until that date, so one such delivery (or a wrong
// clock at Ingresse) would freeze the event.
var ErrAheadOfClock = errors.New("data.updatedAt is ahead of the clock")

// ErrBeingDeleted marks a version that was not stored because its
// IngresseEvent is being deleted (it has a deletionTimestamp and waits on
// a finalizer): written now, it would vanish with the event. Once the
// event is gone, storing it again creates it anew.
var ErrBeingDeleted = errors.New("the IngresseEvent is being deleted")

// RefusedAsItIs reports whether storing the same version again would be
// refused again: the document itself is at fault (ErrInvalidEvent,
// ErrAheadOfClock), or the API server refused the object as invalid for
// its schema, malformed or too large. Anything else (the API server
// unavailable, throttling, a timeout, RBAC, a quota, a deletion in
// progress) may pass on a later try.
func RefusedAsItIs(err error) bool {
	return errors.Is(err, ErrInvalidEvent) || errors.Is(err, ErrAheadOfClock) ||
		apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsRequestEntityTooLargeError(err)
}

// maxRefusedMembers bounds the members a 422 names.
const maxRefusedMembers = 8

// RefusedMembers are the members of the delivery's data that the API server
// refused, as the sender knows them (spec.title is data.title), from the
// refusal's causes; nothing else of its message.
func RefusedMembers(err error) []string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var fields []string
	for _, c := range status.Status().Details.Causes {
		if rest, ok := strings.CutPrefix(c.Field, "spec."); ok && len(fields) < maxRefusedMembers && !slices.Contains(fields, "data."+rest) {
			fields = append(fields, text.Truncate("data."+rest, 128))
		}
	}
	return fields
}
