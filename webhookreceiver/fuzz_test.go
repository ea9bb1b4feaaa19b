package webhookreceiver

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver/examples"
)

// FuzzDecode feeds arbitrary bodies to the decoding and validation path.
// Whatever it accepts is an event-create or event-update delivery with a
// positive id and a valid name, under a bounded metric label; whatever it
// refuses is a 400 with a message.
func FuzzDecode(f *testing.F) {
	for _, ex := range examples.All() {
		f.Add(ex.Body)
	}
	for _, s := range []string{
		string(ticketBody),
		`{"webhook":"event-update","data":{"id":1,"updatedAt":"2018-03-06T20:49:04+00:00"},"timestamp":"2019-03-12T19:32:46Z"}`,
		`{"webhook":"event-create","data":{"id":9223372036854775807,"updatedAt":"2018-03-06 20:49:04","companyId":0},"timestamp":"2018-04-02T13:57:04.770619"}`,
		`{"webhook":"event-create","data":{"id":"1"},"timestamp":"x"}`,
		`{"webhook":"event-create","data":{"id":1,"sessions":[{"id":1.5}]}}`,
		`{"webhook":"sale","data":{"buyer":{"email":"a@b.c"}}}`,
		`{"webhook":"event-create","data":{"id":1,"updatedAt":"2018-03-06T20:49:04Z","attributes":{"k":{"value":1e400}}},"timestamp":"2019-03-12T19:32:46Z"}`,
		`[]`, `null`, ``, `{"webhook":"event-create"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		label, d, err := decodeEnvelope(body)
		if label != webhookNone && label != webhookUnknown && label != webhookEventCreate && label != webhookEventUpdate && !ignoredWebhooks[label] {
			t.Fatalf("unbounded metric label %q", label)
		}
		if err != nil {
			// As the handler answers it: through the one mapper.
			if he := asHTTPError(err); he.code != http.StatusBadRequest || he.msg == "" || d != nil {
				t.Fatalf("a refusal must be a 400 with a message and no delivery: %v %+v", err, d)
			}
			return
		}
		if d == nil {
			if label == webhookEventCreate || label == webhookEventUpdate || label == webhookNone {
				t.Fatalf("%s acknowledged without a delivery", label)
			}
			return
		}
		if label != d.Webhook || (label != webhookEventCreate && label != webhookEventUpdate) {
			t.Fatalf("stored type %q under label %q", d.Webhook, label)
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if d.Spec.ID <= 0 || d.Name() != eventsv1alpha1.ResourceName(d.Spec.ID) {
			t.Fatalf("accepted id %d as %q", d.Spec.ID, d.Name())
		}
		if errs := validation.IsDNS1123Subdomain(d.Name()); len(errs) > 0 {
			t.Fatalf("name %q: %v", d.Name(), errs)
		}
		// What the store makes of an accepted document (labels,
		// annotations, the digest's round trip) is fuzzed in
		// internal/eventstore (FuzzDecodeEventData).
	})
}

// FuzzAuthHeaders feeds arbitrary Authorization headers and query strings
// to the credential parsing: a delivery authenticates exactly when one of
// the tokens it presents is a configured token.
func FuzzAuthHeaders(f *testing.F) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ingresse:"+testToken))
	for _, seed := range [][2]string{
		{"Bearer " + testToken, ""}, {"bearer  " + testToken + " ", ""}, {basic, ""}, {"", "token=" + testToken},
		{"", "token=a&token=b&token=c&token=d&token=" + testToken}, {"Basic !!", "token=%zz"}, {"Bearer", ""},
		{"Token " + testToken, "Token=" + testToken}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	tokens, err := parseTokens([]byte("# test\n" + testToken + "\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, authorization, rawQuery string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: rawQuery}}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		presented := presentedTokens(r)
		if len(presented) > maxPresentedTokens || slices.Contains(presented, "") {
			t.Fatalf("presented %d tokens, some empty: %q", len(presented), presented)
		}
		if got, want := tokens.matches(presented), slices.Contains(presented, testToken); got != want {
			t.Fatalf("matches = %v for %q", got, presented)
		}
		if strings.HasPrefix(authorization, "Bearer "+testToken) && strings.TrimSpace(authorization[len("Bearer "):]) == testToken && !tokens.matches(presented) {
			t.Fatal("a valid bearer token was refused")
		}
	})
}

// FuzzSignature feeds arbitrary Standard Webhooks headers and bodies to
// the verification: it accepts exactly when a v1 signature among the first
// maxSignatures is the HMAC of id.timestamp.body, and never panics.
func FuzzSignature(f *testing.F) {
	key := []byte("a 32 byte key for fuzzing only!!")
	valid := "v1," + base64.StdEncoding.EncodeToString(sign(key, "msg_1", "1700000000", []byte("{}")))
	f.Add("msg_1", "1700000000", valid, []byte("{}"))
	f.Add("msg_1", "1700000000", "v1,AAAA "+valid, []byte("{}"))
	f.Add("", "", "", []byte(nil))
	f.Add("msg_1", "-1", "v1,,", []byte("x"))
	secrets := &secretSet{keys: [][]byte{key}}
	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte) {
		s := signedHeaders{id: id, timestamp: timestamp, signature: signature}
		_ = s.checkFresh(time.Now())
		expected := sign(key, id, timestamp, body)
		want := false
		for i, field := range strings.Fields(signature) {
			if i == maxSignatures {
				break
			}
			if v, sig, ok := strings.Cut(field, ","); ok && v == "v1" {
				raw, err := base64.StdEncoding.DecodeString(sig)
				want = want || err == nil && len(raw) == sha256.Size && string(raw) == string(expected)
			}
		}
		if got := s.verify(secrets, body); got != want {
			t.Fatalf("verify = %v, want %v", got, want)
		}
	})
}
