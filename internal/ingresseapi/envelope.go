package ingresseapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// What Ingresse answers is known from its SDKs only, which read more than
// one envelope for the same call. Each accepted shape is listed here; an
// answer in none of them is an error that names its members (never their
// values), so that whoever meets a new shape can add it here.

// errMalformed is an answer that is not JSON: a truncated body, a proxy's
// page. It is retried; a well-formed answer in an unknown shape is not.
var errMalformed = errors.New("malformed answer")

// errShape is a well-formed answer in a shape this package does not know.
var errShape = errors.New("unrecognised answer")

// members splits a 2xx answer into its top-level members. A v1 error (sent
// with HTTP 200) is returned as its code and message.
func members(body []byte) (map[string]json.RawMessage, *v1Error, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, nil, fmt.Errorf("%w: a JSON %s, not an object", errShape, typeErr.Value)
		}
		return nil, nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if m == nil {
		return nil, nil, fmt.Errorf("%w: null", errShape)
	}
	if raw, ok := m["responseError"]; ok && !isNull(raw) {
		var e struct {
			Code    any    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, fmt.Errorf("%w: responseError is not an object", errShape)
		}
		return nil, &v1Error{code: intCode(e.Code), message: safeMessage(e.Message)}, nil
	}
	return m, nil, nil
}

// v1Error is a v1 answer's responseError.
type v1Error struct {
	code    int
	message string
}

// parseEvent finds event id in one of the event service's envelopes:
//
//	{"data": {event}}
//	{"data": {"hits": [{"_source": {event}} or {event}, ...]}}  (the hit with the id)
//	{event}
//
// found is false when the answer is a search that does not hold the event.
func parseEvent(body []byte, m map[string]json.RawMessage, id int64) (doc json.RawMessage, found bool, err error) {
	data, ok := m["data"]
	if !ok {
		if _, ok := m["id"]; ok {
			return checkEvent(bytes.TrimSpace(body), id)
		}
		return nil, false, shapeError(m, `"data" or an event's "id"`)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(data, &inner); err != nil || inner == nil {
		return nil, false, fmt.Errorf("%w: data is not an object", errShape)
	}
	hits, ok := inner["hits"]
	if !ok {
		return checkEvent(data, id)
	}
	events, err := parseHits(hits)
	if err != nil {
		return nil, false, err
	}
	for _, ev := range events {
		if got, ok := eventID(ev); ok && got == id {
			return ev, true, nil
		}
	}
	return nil, false, nil
}

// checkEvent accepts doc when it is the event asked for.
func checkEvent(doc json.RawMessage, id int64) (json.RawMessage, bool, error) {
	got, ok := eventID(doc)
	if !ok {
		return nil, false, fmt.Errorf("%w: the event has no integer id", errShape)
	}
	if got != id {
		return nil, false, fmt.Errorf("%w: asked for event %d, got event %d", errShape, id, got)
	}
	return doc, true, nil
}

// parsePage reads a listing's answer: {"data": {"hits": [...], "total": N}},
// total also accepted as Elasticsearch 7's {"value": N, "relation": R}.
func parsePage(m map[string]json.RawMessage) (Page, error) {
	data, ok := m["data"]
	if !ok {
		return Page{}, shapeError(m, `"data"`)
	}
	var inner struct {
		Hits  json.RawMessage `json:"hits"`
		Total json.RawMessage `json:"total"`
	}
	if err := json.Unmarshal(data, &inner); err != nil || isNull(data) {
		return Page{}, fmt.Errorf("%w: data is not an object", errShape)
	}
	if inner.Hits == nil {
		return Page{}, fmt.Errorf("%w: data has no hits", errShape)
	}
	events, err := parseHits(inner.Hits)
	if err != nil {
		return Page{}, err
	}
	total, lowerBound, err := parseTotal(inner.Total)
	if err != nil {
		return Page{}, err
	}
	for i, ev := range events {
		if _, ok := eventID(ev); !ok {
			return Page{}, fmt.Errorf("%w: hit %d has no integer id", errShape, i)
		}
	}
	return Page{Events: events, Total: total, TotalIsLowerBound: lowerBound}, nil
}

// parseHits reads a search's hits: each an Elasticsearch hit with the
// event in _source, or the event itself.
func parseHits(raw json.RawMessage) ([]json.RawMessage, error) {
	var hits []json.RawMessage
	if err := json.Unmarshal(raw, &hits); err != nil {
		return nil, fmt.Errorf("%w: hits is not an array", errShape)
	}
	events := make([]json.RawMessage, 0, len(hits))
	for i, h := range hits {
		var hit struct {
			Source json.RawMessage `json:"_source"`
		}
		if err := json.Unmarshal(h, &hit); err != nil || isNull(h) {
			return nil, fmt.Errorf("%w: hit %d is not an object", errShape, i)
		}
		ev := h
		if hit.Source != nil && !isNull(hit.Source) {
			ev = hit.Source
		}
		if !isObject(ev) {
			return nil, fmt.Errorf("%w: hit %d holds no event object", errShape, i)
		}
		events = append(events, ev)
	}
	return events, nil
}

// parseTotal reads a listing's total: a number, or Elasticsearch 7's
// {"value": N, "relation": "eq" | "gte"}. Past its tracking limit
// Elasticsearch stops counting and says "gte": N is then only a lower
// bound. A relation other than "eq" (or none) is taken as one too: a total
// that is not known to be exact must never end a listing.
func parseTotal(raw json.RawMessage) (total int, lowerBound bool, err error) {
	if raw == nil || isNull(raw) {
		return 0, false, fmt.Errorf("%w: data has no total", errShape)
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, false, nil
	}
	var es7 struct {
		Value    *int    `json:"value"`
		Relation *string `json:"relation"`
	}
	if err := json.Unmarshal(raw, &es7); err == nil && es7.Value != nil {
		return *es7.Value, es7.Relation != nil && *es7.Relation != "eq", nil
	}
	return 0, false, fmt.Errorf("%w: total is neither a number nor {\"value\": N}", errShape)
}

// parseRenewal reads a new JWT: responseData.authToken (v1's envelope), or
// authToken at the top level.
func parseRenewal(m map[string]json.RawMessage) (string, error) {
	var v struct {
		AuthToken string `json:"authToken"`
	}
	if raw, ok := m["responseData"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", fmt.Errorf("%w: responseData is not an object", errShape)
		}
	} else if raw, ok := m["authToken"]; ok {
		if err := json.Unmarshal(raw, &v.AuthToken); err != nil {
			return "", fmt.Errorf("%w: authToken is not a string", errShape)
		}
	}
	if v.AuthToken == "" {
		return "", shapeError(m, `"responseData.authToken" or "authToken"`)
	}
	return v.AuthToken, nil
}

// eventID reads an event's id: an integer, or a string of digits.
func eventID(doc json.RawMessage) (int64, bool) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(doc, &v); err != nil || v.ID == nil {
		return 0, false
	}
	s := string(v.ID)
	if unquoted, err := strconv.Unquote(s); err == nil {
		s = unquoted
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

// shapeError names the members an answer has, and the ones it lacks.
func shapeError(m map[string]json.RawMessage, want string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, strconv.Quote(k))
	}
	slices.Sort(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return fmt.Errorf("%w: no %s among its members [%s]", errShape, want, strings.Join(names, ", "))
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
