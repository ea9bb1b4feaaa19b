package controllers

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/internal/jsoncanon"
)

// DefaultMaxConfigMapDataBytes is the data budget of a derived ConfigMap
// when IngresseEventReconciler.MaxConfigMapDataBytes is 0: 900 KiB, well
// under the API server's 1 MiB limit on a ConfigMap's data, leaving room for
// metadata.
const DefaultMaxConfigMapDataBytes = 900 * 1024

// apiServerDataLimit is what the API server accepts in a ConfigMap's keys and
// values together (the same limit as a Secret's); a configured budget above
// it would only produce ConfigMaps the server rejects.
const apiServerDataLimit = corev1.MaxSecretSize

// Keys of the derived ConfigMap. The scalar keys are valid C identifiers,
// so `envFrom` turns them into environment variables; the .json keys are
// meant for a volume mount. docs/api.md documents every key.
const (
	keyEventJSON    = "event.json"
	keySessionsJSON = "sessions.json"
	attrKeyPrefix   = "EVENT_ATTR_"

	keyNextSessionID       = "EVENT_NEXT_SESSION_ID"
	keyNextSessionDateTime = "EVENT_NEXT_SESSION_DATETIME"
)

// configMapContent is the data of the derived ConfigMap for one spec at one
// instant, and what had to be left out of it.
type configMapContent struct {
	data map[string]string
	// omitted are the keys dropped to fit, largest first.
	omitted []omittedKey
	// hash is dataHash(data): the content-hash annotation and
	// status.configMapRef.contentHash.
	hash string
	// size is what data weighs against the budget.
	size int
}

// omittedKey is a key left out of the ConfigMap, what it would have weighed
// and why it went.
type omittedKey struct {
	key  string
	size int
	// tooLongForEnv: the key went because it cannot be an environment
	// variable, whatever the budget.
	tooLongForEnv bool
}

// desiredContent computes the derived ConfigMap's data for spec at now,
// keeping the data (keys plus values, as the API server counts it) within
// budget bytes and every value short enough for an environment variable.
// The core scalars always stay; event.json, sessions.json and the
// EVENT_ATTR_* keys are dropped as fitBudget says. An error means the spec
// cannot be made into a ConfigMap at all: retrying will not help.
func desiredContent(spec *eventsv1alpha1.IngresseEventSpec, now time.Time, budget int) (configMapContent, error) {
	data := coreData(spec, scheduleAt(spec.Sessions, now))
	droppable := make([]string, 0, len(spec.Attributes)+2)

	eventJSON, err := canonicalJSONOf(spec)
	if err != nil {
		return configMapContent{}, fmt.Errorf("encoding the spec as %s: %w", keyEventJSON, err)
	}
	sessions := spec.Sessions
	if sessions == nil {
		sessions = []eventsv1alpha1.Session{} // an array for consumers, whatever Ingresse sent
	}
	sessionsJSON, err := canonicalJSONOf(sessions)
	if err != nil {
		return configMapContent{}, fmt.Errorf("encoding the sessions as %s: %w", keySessionsJSON, err)
	}
	data[keyEventJSON], data[keySessionsJSON] = eventJSON, sessionsJSON
	droppable = append(droppable, keyEventJSON, keySessionsJSON)

	names := attributeKeys(slices.Collect(maps.Keys(spec.Attributes)))
	for attr, key := range names {
		value, err := attributeValue(spec.Attributes[attr].Value)
		if err != nil {
			return configMapContent{}, fmt.Errorf("attribute %q: %w", attr, err)
		}
		if _, taken := data[key]; taken {
			// attributeKeys gives every attribute a name of its own and
			// none of the core names; if that ever broke, a value would
			// vanish without ContentComplete saying so.
			return configMapContent{}, fmt.Errorf("attribute %q: key %s is already taken", attr, key)
		}
		data[key] = value
		droppable = append(droppable, key)
	}

	omitted, size, err := fitBudget(data, droppable, budget)
	if err != nil {
		return configMapContent{}, err
	}
	return configMapContent{data: data, omitted: omitted, hash: dataHash(data, nil), size: size}, nil
}

// effectiveBudget is the data budget for a configured value: the default
// when unset, never more than the API server accepts.
func effectiveBudget(configured int) int {
	if configured <= 0 {
		return DefaultMaxConfigMapDataBytes
	}
	return min(configured, apiServerDataLimit)
}

// coreData returns the scalar keys. The key set is the same for every
// event: a member Ingresse sent as null, or did not send, is an empty
// string (never a made-up 0), so a workload never sees a variable appear
// or vanish and can tell a missing id from the id 0.
func coreData(spec *eventsv1alpha1.IngresseEventSpec, sched schedule) map[string]string {
	d := map[string]string{
		"EVENT_ID":             strconv.FormatInt(spec.ID, 10),
		"EVENT_TITLE":          deref(spec.Title),
		"EVENT_SLUG":           deref(spec.Slug),
		"EVENT_STATUS":         "",
		"EVENT_STATUS_ID":      "",
		"EVENT_COMPANY_ID":     idText(spec.CompanyID),
		"EVENT_PRODUCER_ID":    idText(spec.ProducerID),
		"EVENT_CREATED_AT":     deref(spec.CreatedAt),
		"EVENT_UPDATED_AT":     deref(spec.UpdatedAt),
		"EVENT_PLACE_ID":       "",
		"EVENT_PLACE_NAME":     "",
		"EVENT_PLACE_STREET":   "",
		"EVENT_PLACE_CITY":     "",
		"EVENT_PLACE_STATE":    "",
		"EVENT_PLACE_ZIP":      "",
		"EVENT_PLACE_COUNTRY":  "",
		"EVENT_PLACE_LAT":      "",
		"EVENT_PLACE_LON":      "",
		"EVENT_POSTER_SMALL":   "",
		"EVENT_POSTER_MEDIUM":  "",
		"EVENT_POSTER_LARGE":   "",
		"EVENT_POSTER_XLARGE":  "",
		"EVENT_SESSION_COUNT":  strconv.Itoa(len(spec.Sessions)),
		keyNextSessionID:       "",
		keyNextSessionDateTime: "",
	}
	if s := spec.Status; s != nil {
		d["EVENT_STATUS"] = deref(s.Name)
		d["EVENT_STATUS_ID"] = idText(s.ID)
	}
	if p := spec.Place; p != nil {
		d["EVENT_PLACE_ID"] = idText(p.ID)
		d["EVENT_PLACE_NAME"] = deref(p.Name)
		d["EVENT_PLACE_STREET"] = deref(p.Street)
		d["EVENT_PLACE_CITY"] = deref(p.City)
		d["EVENT_PLACE_STATE"] = deref(p.State)
		d["EVENT_PLACE_ZIP"] = deref(p.Zip)
		d["EVENT_PLACE_COUNTRY"] = deref(p.Country)
		if l := p.Location; l != nil {
			d["EVENT_PLACE_LAT"] = string(deref(l.Lat))
			d["EVENT_PLACE_LON"] = string(deref(l.Lon))
		}
	}
	if p := spec.Poster; p != nil {
		d["EVENT_POSTER_SMALL"] = deref(p.Small)
		d["EVENT_POSTER_MEDIUM"] = deref(p.Medium)
		d["EVENT_POSTER_LARGE"] = deref(p.Large)
		d["EVENT_POSTER_XLARGE"] = deref(p.XLarge)
	}
	if next := sched.next; next != nil {
		d[keyNextSessionID] = idText(next.ID)
		d[keyNextSessionDateTime] = deref(next.DateTime)
	}
	return d
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// idText is an id as its decimal text, or the empty string when Ingresse
// sent none.
func idText(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// attributeValue renders an attribute's value for an environment variable:
// a string as its text, a number as its JSON text, true/false, null (or no
// value) as the empty string, an object or array as canonical JSON.
func attributeValue(v *apiextensionsv1.JSON) (string, error) {
	if v == nil {
		return "", nil
	}
	raw := bytes.TrimSpace(v.Raw)
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case 'n':
		return "", nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("value is not a JSON string: %w", err)
		}
		return s, nil
	case '{', '[':
		return canonicalJSON(raw)
	default:
		if !json.Valid(raw) {
			return "", fmt.Errorf("value is not JSON")
		}
		return string(raw), nil
	}
}

// canonicalJSONOf encodes v (through its MarshalJSON, so unknown members are
// kept) as canonical JSON.
func canonicalJSONOf(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return canonicalJSON(raw)
}

// canonicalJSON rewrites a JSON document with object members sorted by
// name, no insignificant space and numbers as written (100000.0 stays
// 100000.0): the same spec always gives the same bytes, hence the same hash.
// HTML characters are not escaped, so the text reads as sent.
func canonicalJSON(raw []byte) (string, error) {
	b, err := jsoncanon.Append(nil, raw, jsoncanon.Options{})
	return string(b), err
}

// fitBudget removes droppable keys from data until every key can be an
// environment variable and data weighs at most budget bytes. A droppable key
// too long for one environment variable always goes (envFrom turns every
// key into one, and the kernel refuses to start a process with a longer
// one); then the largest droppable keys go, by key on a tie, until the rest
// fits. It returns what it removed, largest first, and what data weighs
// now, or an error when the keys that must stay cannot.
func fitBudget(data map[string]string, droppable []string, budget int) ([]omittedKey, int, error) {
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	candidates := make([]omittedKey, 0, len(droppable))
	for _, k := range droppable {
		candidates = append(candidates, omittedKey{key: k, size: len(k) + len(data[k]), tooLongForEnv: !fitsEnv(k, data[k])})
	}
	slices.SortFunc(candidates, func(a, b omittedKey) int {
		return cmp.Or(cmp.Compare(b.size, a.size), strings.Compare(a.key, b.key))
	})
	var omitted []omittedKey
	for _, c := range candidates {
		if !c.tooLongForEnv && size <= budget {
			break // sorted by size: every key after this one fits too
		}
		delete(data, c.key)
		size -= c.size
		omitted = append(omitted, c)
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		if !fitsEnv(k, data[k]) {
			return nil, size, fmt.Errorf("%s is %d bytes, more than an environment variable can hold (%d bytes with its name)", k, len(data[k]), maxEnvVarBytes)
		}
	}
	if size > budget {
		return nil, size, fmt.Errorf("the event's core fields alone take %d bytes, over the ConfigMap budget of %d bytes", size, budget)
	}
	return omitted, size, nil
}

// maxEnvVarBytes is the longest "NAME=value" string, with its terminating
// NUL, that Linux passes to a new process (MAX_ARG_STRLEN, 32 pages of
// 4 KiB); execve fails with E2BIG on a longer one, so a container whose
// envFrom brought one in would never start.
const maxEnvVarBytes = 32 * 4096

// fitsEnv reports whether key=value can be an environment variable.
func fitsEnv(key, value string) bool {
	return len(key)+len("=")+len(value)+len("\x00") <= maxEnvVarBytes
}

// dataHash is the SHA-256, in hex, of a ConfigMap's data and binaryData:
// every key and value, length-prefixed, in key order. It is the same for
// the same content whatever the map order, and a ConfigMap without
// binaryData hashes the same as its data alone.
func dataHash(data map[string]string, binaryData map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		writeRecord(h, 'd', k, data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(binaryData)) {
		writeRecord(h, 'b', k, string(binaryData[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeRecord writes one key and value so that no two different maps can
// produce the same byte stream.
func writeRecord(h hash.Hash, kind byte, key, value string) {
	var buf [48]byte
	b := append(buf[:0], kind)
	b = strconv.AppendInt(b, int64(len(key)), 10)
	b = append(b, ':')
	_, _ = h.Write(b)
	_, _ = io.WriteString(h, key)
	b = strconv.AppendInt(buf[:0], int64(len(value)), 10)
	b = append(b, ':')
	_, _ = h.Write(b)
	_, _ = io.WriteString(h, value)
}
