package ingresseapi_test

import (
	"strings"
	"testing"

	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
)

func TestParseCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want ingresseapi.Credentials
	}{
		{
			name: "all three, any case, comments, CRLF",
			file: "# Ingresse\r\n\r\nAPIKey = key-1 \r\nUSERTOKEN=user-1\r\n  jwt=aGVhZGVy.cGF5bG9hZA==.c2ln\r\n",
			want: ingresseapi.Credentials{APIKey: "key-1", UserToken: "user-1", JWT: "aGVhZGVy.cGF5bG9hZA==.c2ln"},
		},
		{
			name: "a JWT alone",
			file: "jwt=only.a.jwt",
			want: ingresseapi.Credentials{JWT: "only.a.jwt"},
		},
		{
			name: "an empty value is not set",
			file: "apikey=\nusertoken=user-2\n",
			want: ingresseapi.Credentials{UserToken: "user-2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ingresseapi.ParseCredentials([]byte(tc.file))
			if err != nil {
				t.Fatalf("ParseCredentials: %v", err)
			}
			if got != tc.want {
				t.Errorf("ParseCredentials = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseCredentialsErrorsHoldNoValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		// inError is what the error must say; secrets what it must not.
		inError []string
		secrets []string
	}{
		{
			name:    "unknown key",
			file:    "apikey=sekrit-api-key\nuser_token=sekrit-user-token\n",
			inError: []string{"line 2", `"user_token"`, "apikey, usertoken, jwt"},
			secrets: []string{"sekrit-api-key", "sekrit-user-token"},
		},
		{
			name:    "a line without =",
			file:    "apikey=sekrit-api-key\n\neyJhbGciOiJIUzI1NiJ9.sekrit\n",
			inError: []string{"line 3", "not key=value"},
			secrets: []string{"sekrit-api-key", "eyJhbGciOiJIUzI1NiJ9", "sekrit"},
		},
		{
			name:    "a base64 credential alone looks like key=",
			file:    "c2VrcmV0LXRva2VuLXZhbHVlLTEyMzQ1Ng==\n",
			inError: []string{"line 1", "unknown key", "not shown"},
			secrets: []string{"c2VrcmV0", "c2vrcmv0"},
		},
		{
			name:    "a short base64 credential alone",
			file:    "dG9rZW4xMjM=\n",
			inError: []string{"line 1", "not shown"},
			secrets: []string{"dG9rZW4xMjM"},
		},
		{
			name:    "a key set twice",
			file:    "jwt=sekrit-jwt-1\nJWT=sekrit-jwt-2\n",
			inError: []string{"line 2", "jwt is set again", "line 1"},
			secrets: []string{"sekrit-jwt-1", "sekrit-jwt-2"},
		},
		{
			name:    "no credential",
			file:    "# nothing yet\napikey=\n",
			inError: []string{"no credential"},
		},
		{
			name:    "an empty file",
			file:    "",
			inError: []string{"no credential"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ingresseapi.ParseCredentials([]byte(tc.file))
			if err == nil {
				t.Fatal("ParseCredentials accepted the file")
			}
			for _, s := range tc.inError {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
					t.Errorf("error %q holds the value %q", err, s)
				}
			}
		})
	}
}
