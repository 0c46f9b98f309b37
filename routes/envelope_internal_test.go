package routes

import (
	"encoding/json/v2"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/tools/router"
)

// checkDataByDecoding is checkData as it was written first, by strict
// decoding into a struct: parseEnvelope must judge every input the same way
// while reading it in place.
func checkDataByDecoding(data string) string {
	var env struct {
		Encrypted string  `json:"encrypted"`
		Nonce     string  `json:"nonce"`
		AppID     *string `json:"appId,omitzero"`
		Version   *string `json:"version,omitzero"`
	}
	if err := json.UnmarshalRead(strings.NewReader(data), &env, json.RejectUnknownMembers(true)); err != nil {
		return "invalid"
	}
	if n, ok := base64Len(env.Nonce); !ok || n != nonceSize {
		return "nonce"
	}
	if n, ok := base64Len(env.Encrypted); !ok || n < tagSize {
		return "ciphertext"
	}
	return ""
}

func TestParseEnvelopeMatchesStrictDecoding(t *testing.T) {
	ct := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 33 bytes
	nonce := "AAECAwQFBgcICQoL"
	for _, data := range []string{
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `"}`,
		`{ "nonce" : "` + nonce + `" , "encrypted" : "` + ct + `" } `,
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `","appId":"dailyreps","version":"2"}`,
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `","appId":null,"version":null}`,
		`{"encrypted":"\u0041` + ct[1:] + `","nonce":"` + nonce + `"}`, // an escape
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `"}x`,          // trailing data
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `"}{}`,
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `","extra":"1"}`,
		`{"encrypted":"` + ct + `","Nonce":"` + nonce + `"}`, // names are exact
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `","nonce":"` + nonce + `"}`,
		`{"encrypted":"` + ct + `","nonce":null}`,
		`{"encrypted":null,"nonce":"` + nonce + `"}`,
		`{"encrypted":"` + ct + `"}`,
		`{"nonce":"` + nonce + `"}`,
		`{"encrypted":"` + ct + `","nonce":12}`,
		`{"encrypted":["` + ct + `"],"nonce":"` + nonce + `"}`,
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `","appId":1}`,
		`{"encrypted":"","nonce":"` + nonce + `"}`,
		`{"encrypted":"AAAA","nonce":"` + nonce + `"}`,  // too short
		`{"encrypted":"` + ct + `","nonce":"AAECAwQF"}`, // wrong nonce size
		`{"encrypted":"` + ct + `=","nonce":"` + nonce + `"}`,
		`{"encrypted":"` + ct + "\xff" + `","nonce":"` + nonce + `"}`, // invalid UTF-8
		`{"encrypted":"` + ct + `","nonce":"` + nonce + `"`,
		`{`, `{}`, `{"encrypted"}`, `{"encrypted":"` + ct + `",}`,
	} {
		want := checkDataByDecoding(data)
		got := ""
		if err := checkData(data, 1<<20); err != nil {
			msg := router.ToApiError(err).Message
			switch {
			case strings.Contains(msg, "not a valid envelope"):
				got = "invalid"
			case strings.Contains(msg, "nonce"):
				got = "nonce"
			case strings.Contains(msg, "ciphertext"):
				got = "ciphertext"
			default:
				got = msg
			}
		}
		if got != want {
			t.Errorf("checkData(%q) = %q, strict decoding says %q", data, got, want)
		}
	}
}
