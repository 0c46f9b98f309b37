package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func testKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	key := testKey(1)
	for _, plaintext := range [][]byte{{}, []byte(`{"streak":3}`), bytes.Repeat([]byte("x"), 1<<20)} {
		data, err := Seal(key, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(key, data)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)): %v", len(plaintext), err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatalf("round trip of %d bytes gave %d different bytes", len(plaintext), len(got))
		}
	}
}

func TestSealDrawsFreshNonces(t *testing.T) {
	key := testKey(1)
	first, err := Seal(key, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Seal(key, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatal("two seals of one plaintext are identical: the nonce is not fresh")
	}
}

func TestSealedDataIsCompactJSONInProtocolOrder(t *testing.T) {
	data, err := Seal(testKey(1), []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(data, `{"encrypted":"`) || !strings.Contains(data, `","nonce":"`) || strings.ContainsAny(data, " \n") {
		t.Fatalf("data %s is not {\"encrypted\":..,\"nonce\":..} without spaces", data)
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	key := testKey(1)
	data, err := Seal(key, []byte(`{"streak":3}`))
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		t.Fatal(err)
	}
	sealed, _ := base64.StdEncoding.DecodeString(env.Encrypted)
	nonce, _ := base64.StdEncoding.DecodeString(env.Nonce)
	reseal := func(sealed, nonce []byte) string {
		out, _ := json.Marshal(envelope{base64.StdEncoding.EncodeToString(sealed), base64.StdEncoding.EncodeToString(nonce)})
		return string(out)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}

	cases := map[string]struct {
		key  []byte
		data string
		want error
	}{
		"flipped ciphertext bit": {key, reseal(flip(sealed, 0), nonce), ErrDecrypt},
		"flipped tag bit":        {key, reseal(flip(sealed, len(sealed)-1), nonce), ErrDecrypt},
		"flipped nonce bit":      {key, reseal(sealed, flip(nonce, 0)), ErrDecrypt},
		"truncated ciphertext":   {key, reseal(sealed[:len(sealed)-1], nonce), ErrDecrypt},
		"wrong key":              {testKey(2), data, ErrDecrypt},
		"not JSON":               {key, "not json", ErrMalformedEnvelope},
		"bare base64":            {key, `"` + env.Encrypted + `"`, ErrMalformedEnvelope},
		"empty object":           {key, `{}`, ErrMalformedEnvelope},
		"nonce not base64":       {key, `{"encrypted":"` + env.Encrypted + `","nonce":"%%%"}`, ErrMalformedEnvelope},
		"short nonce":            {key, reseal(sealed, nonce[:8]), ErrMalformedEnvelope},
		"ciphertext not base64":  {key, `{"encrypted":"%%%","nonce":"` + env.Nonce + `"}`, ErrMalformedEnvelope},
		"shorter than a tag":     {key, reseal(sealed[:tagSize-1], nonce), ErrMalformedEnvelope},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plaintext, err := Open(tc.key, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want error %v", plaintext, err, tc.want)
			}
		})
	}
}

func TestOpenIgnoresExtraMembers(t *testing.T) {
	key := testKey(1)
	data, err := Seal(key, []byte("doc"))
	if err != nil {
		t.Fatal(err)
	}
	withExtras := strings.Replace(data, "{", `{"appId":"dailyreps","version":"2",`, 1)
	got, err := Open(key, withExtras)
	if err != nil || string(got) != "doc" {
		t.Fatalf("Open(with appId, version) = %q, %v", got, err)
	}
}

func TestWrongKeySizeIsRefused(t *testing.T) {
	if _, err := Seal(make([]byte, 16), []byte("x")); err == nil {
		t.Error("Seal accepted a 16-byte key: the protocol is AES-256")
	}
	if _, err := Open(nil, `{}`); err == nil {
		t.Error("Open accepted an empty key")
	}
}
