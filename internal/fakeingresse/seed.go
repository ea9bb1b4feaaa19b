package fakeingresse

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fixture is an event as the event service answers it: the data of
// Ingresse's two published webhook examples (the same event), with the
// members the service adds (timezone, staff, accepted_currencies).
//
//go:embed testdata/event.json
var fixture []byte

// Fixture returns a copy of the fixture event document (id 21447).
func Fixture() json.RawMessage {
	return slices.Clone(fixture)
}

// Ingresse's timestamps: microseconds and an explicit offset.
const (
	layoutStamp   = "2006-01-02T15:04:05.000000-07:00"
	layoutSession = "2006-01-02T15:04:05-07:00"
)

var (
	titleKinds  = []string{"Festival", "Show", "Baile", "Sunset", "Encontro", "Noite", "Feira", "Circuito"}
	titleThemes = []string{"de Verão", "Eletrônico", "do Samba", "Sertanejo", "de Jazz", "Indie", "de Forró", "Gastronômico", "de Rock", "Junino"}
	places      = []struct {
		name     string
		lat, lon float64
	}{
		{"Sergipe", -10.59, -37.38},
		{"Allianz Parque", -23.53, -46.68},
		{"Marina da Glória", -22.92, -43.17},
		{"Mineirão", -19.87, -43.97},
		{"Arena Fonte Nova", -12.98, -38.5},
		{"Pepsi On Stage", -29.99, -51.18},
	}
	statuses = []struct {
		id   int
		name string
	}{{1, "draft"}, {2, "published"}, {3, "private"}}
)

// SeedEvents builds n distinct event documents in the fixture's shape,
// with ids 1 to n, of companyID and producerID, all updated at updatedAt:
// titles, slugs, places, sessions, status and attributes vary from one to
// the next, deterministically. Tests and `make dev` share it.
func SeedEvents(n int, companyID, producerID int64, updatedAt time.Time) []json.RawMessage {
	docs := make([]json.RawMessage, 0, n)
	for i := 1; i <= n; i++ {
		docs = append(docs, SeedEvent(i, companyID, producerID, updatedAt))
	}
	return docs
}

// SeedEvent is the i-th of SeedEvents' documents, on its own: for callers
// that build many without holding them all.
func SeedEvent(i int, companyID, producerID int64, updatedAt time.Time) json.RawMessage {
	// Each document starts from a fresh decoding of the fixture. Numbers
	// stay json.Numbers, so 100000.0 is written back as it was.
	d := json.NewDecoder(bytes.NewReader(fixture))
	d.UseNumber()
	var ev map[string]any
	if err := d.Decode(&ev); err != nil {
		panic(fmt.Sprintf("fakeingresse: the fixture does not decode: %v", err))
	}
	num := func(v any) json.Number { return json.Number(fmt.Sprint(v)) }

	id := int64(i)
	title := fmt.Sprintf("%s %s %d", titleKinds[i%len(titleKinds)], titleThemes[(i/len(titleKinds))%len(titleThemes)], i)
	status := statuses[1]
	switch {
	case i%5 == 0:
		status = statuses[0]
	case i%7 == 0:
		status = statuses[2]
	}
	place := places[i%len(places)]

	ev["id"] = num(id)
	ev["companyId"] = num(companyID)
	ev["producerId"] = num(producerID)
	ev["title"] = title
	ev["slug"] = slug(title)
	ev["description"] = fmt.Sprintf("%s: %d atrações, abertura dos portões às %dh.", title, 2+i%9, 16+i%6)
	ev["createdAt"] = updatedAt.Add(-time.Duration(1+i%30) * 24 * time.Hour).Format(layoutStamp)
	ev["updatedAt"] = updatedAt.Format(layoutStamp)
	ev["status"] = map[string]any{"id": num(status.id), "name": status.name}
	ev["place"] = map[string]any{
		"city": nil, "country": nil, "externalId": strconv.FormatInt(174195295973440+int64(i%len(places)), 10),
		"id": num(13970 + i%len(places)), "location": map[string]any{"lat": num(place.lat), "lon": num(place.lon)},
		"name": place.name, "origin": "facebook", "state": nil, "street": nil, "zip": nil,
	}
	poster := map[string]any{}
	for _, size := range []string{"small", "medium", "large", "xLarge"} {
		poster[size] = fmt.Sprintf("https://event-kraken.s3.amazonaws.com/event/posters/%d/%s.jpg", id, size)
	}
	ev["poster"] = poster

	// 1 to 3 sessions, a week apart from a day 1 to 60 days after the update.
	var sessions []any
	first := updatedAt.UTC().Truncate(24 * time.Hour).Add(time.Duration(1+i%60)*24*time.Hour + 20*time.Hour)
	for k := range 1 + i%3 {
		sessions = append(sessions, map[string]any{
			"dateTime": first.Add(time.Duration(k) * 7 * 24 * time.Hour).Format(layoutSession),
			"id":       num(id*10 + int64(k)),
			"status":   "available",
		})
	}
	ev["sessions"] = sessions
	ev["staff"] = map[string]any{
		"admin": []any{num(producerID)}, "entrance_manager": []any{}, "entrance_operator": []any{},
		"sales_manager": []any{}, "sales_operator": []any{},
	}

	attrs := ev["attributes"].(map[string]any)
	setAttr := func(key string, v any) { attrs[key].(map[string]any)["value"] = v }
	setAttr("saleEnabled", i%4 != 0)
	setAttr("cpfTicketsLimit", num(1+i%6))
	setAttr("creditcardLimit", num(1+i%3))
	setAttr("ticketTransferEnabled", i%3 != 0)
	// Always with a decimal point, as Ingresse writes floats: 1.0, 2.5.
	setAttr("retentionPercentage", json.Number(strconv.FormatFloat(1+float64(i%5)/2, 'f', 1, 64)))
	if i%4 == 1 {
		setAttr("videoUrl", fmt.Sprintf("https://www.youtube.com/watch?v=fake%05d", i))
	}

	b, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("fakeingresse: encoding seed event %d: %v", i, err))
	}
	return b
}

// slug is title in lower case ASCII words joined by dashes.
func slug(title string) string {
	r := strings.NewReplacer("ã", "a", "á", "a", "â", "a", "é", "e", "ê", "e", "í", "i", "ó", "o", "ô", "o", "ú", "u", "ç", "c")
	var b strings.Builder
	dash := false
	for _, c := range r.Replace(strings.ToLower(title)) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
