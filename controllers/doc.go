// Package controllers reconciles each IngresseEvent into a derived ConfigMap
// of the same name and honest status conditions.
//
// # The ConfigMap
//
// One per IngresseEvent, same name and namespace, controlled by it (garbage
// collected with it), written with server-side apply as FieldOwner. Its keys
// suit both `envFrom` and a volume mount:
//
//   - Core scalars, always present (null or absent members are ""):
//     EVENT_ID, EVENT_TITLE, EVENT_SLUG, EVENT_STATUS, EVENT_STATUS_ID,
//     EVENT_COMPANY_ID, EVENT_PRODUCER_ID, EVENT_CREATED_AT,
//     EVENT_UPDATED_AT, EVENT_PLACE_ID, EVENT_PLACE_NAME,
//     EVENT_PLACE_STREET, EVENT_PLACE_CITY, EVENT_PLACE_STATE,
//     EVENT_PLACE_ZIP, EVENT_PLACE_COUNTRY, EVENT_PLACE_LAT, EVENT_PLACE_LON
//     (the number's text), EVENT_POSTER_SMALL/MEDIUM/LARGE/XLARGE,
//     EVENT_SESSION_COUNT, EVENT_NEXT_SESSION_ID and
//     EVENT_NEXT_SESSION_DATETIME (the earliest session not started and not
//     cancelled, as status.nextSession).
//   - One EVENT_ATTR_<UPPER_SNAKE> key per attribute (see attributeKeys):
//     strings as text, numbers as their JSON text, true/false, null as "",
//     objects and arrays as canonical JSON.
//   - sessions.json (the sessions, canonical JSON, [] when none) and
//     event.json (the whole spec, unknown members included, canonical JSON:
//     sorted members, no spaces).
//
// Labels app.kubernetes.io/managed-by=ingresse-operator,
// app.kubernetes.io/name=ingresse-event and events.ingresse.com/event-id;
// annotation events.ingresse.com/content-hash, the SHA-256 of the data.
//
// The data stays within a budget (DefaultMaxConfigMapDataBytes) and every
// value within what one environment variable can hold: event.json,
// sessions.json and attribute keys are dropped, largest first, until it
// does, and the ContentComplete condition names what went.
//
// # Status
//
// Written once per reconcile with a merge patch on the status subresource,
// and only when it changed: observedGeneration, the Ready, ContentComplete,
// SalesEnabled and UpcomingSession conditions, configMapRef and
// nextSession. A reconcile is requeued for the instant the next session
// starts, so UpcomingSession and the next-session keys change on time
// without polling.
package controllers
