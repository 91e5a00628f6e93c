package awskeys

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fieldseal/fieldseal/crypto"
)

const validRing = `{"format":"fieldseal.aws-ring/v1","cmk":"alias/pii","primary":2,` +
	`"keys":[{"id":1,"created":"2026-01-01T00:00:00Z","wrapped":"AQID","cmk_key_id":"arn:k"},` +
	`{"id":2,"created":"2026-02-01T00:00:00Z","wrapped":"BAUG","cmk_key_id":"arn:k"}]}`

func TestParseRing(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"a valid ring parses", validRing, ""},
		{"a v2 ring parses", strings.Replace(strings.Replace(validRing, "v1", "v2", 1), `"primary":2,`, `"primary":2,"ring_id":"r","metadata_seal":{"wrapped":"AQID","cmk_key_id":"arn:k"},`, 1), ""},
		{"a v2 ring without its seal is refused", strings.Replace(strings.Replace(validRing, "v1", "v2", 1), `"primary":2,`, `"primary":2,"ring_id":"r",`, 1), "metadata seal"},
		{"a v1 ring with lifecycle fields is refused", strings.Replace(validRing, `"primary":2,`, `"primary":2,"destroyed":[3],`, 1), "fields"},
		{"a destroyed version with a wrapped key is refused", strings.Replace(strings.Replace(validRing, "v1", "v2", 1), `"primary":2,`, `"primary":2,"ring_id":"r","destroyed":[1],"metadata_seal":{"wrapped":"AQID","cmk_key_id":"arn:k"},`, 1), "still has"},
		{"a retired primary is refused", strings.Replace(strings.Replace(validRing, "v1", "v2", 1), `"primary":2,`, `"primary":2,"ring_id":"r","retired":[2],"metadata_seal":{"wrapped":"AQID","cmk_key_id":"arn:k"},`, 1), "retired"},
		{"another format is refused", strings.Replace(validRing, "v1", "v9", 1), "format"},
		{"a ring without keys is refused", `{"format":"fieldseal.aws-ring/v1","primary":1,"keys":[]}`, "no keys"},
		{"a primary outside the ring is refused", strings.Replace(validRing, `"primary":2`, `"primary":3`, 1), "primary v3"},
		{"duplicate key ids are refused", strings.Replace(validRing, `"id":2`, `"id":1`, 1), "duplicate key id 1"},
		{"key id 0 is refused", strings.Replace(validRing, `"id":1`, `"id":0`, 1), "key id 0"},
		{"a key without wrapped bytes is refused", strings.Replace(validRing, `"AQID"`, `""`, 1), "no wrapped key"},
		{"a key without its cmk is refused", strings.Replace(validRing, `"cmk_key_id":"arn:k"}`, `"cmk_key_id":""}`, 1), "names no cmk"},
		{"text that is not JSON is refused", `not json`, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRing([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil || r.Primary != 2 || len(r.Keys) != 2 || string(r.Keys[1].Wrapped) != "\x04\x05\x06" {
					t.Fatalf("parseRing = %+v, %v", r, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformedRing) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrMalformedRing mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseRing(f *testing.F) {
	f.Add([]byte(validRing))
	f.Add([]byte(`{"format":"fieldseal.aws-ring/v1","primary":0,"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRing(data)
		if err != nil {
			return
		}
		// Whatever parses must be self-consistent and survive a round trip.
		if _, ok := r.key(r.Primary); !ok {
			t.Fatal("primary not in ring")
		}
		s, err := r.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseRing([]byte(s)); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func TestRequestToken(t *testing.T) {
	a := requestToken("parent-version", 7)
	t.Run("writers from the same parent derive the same token", func(t *testing.T) {
		if requestToken("parent-version", 7) != a {
			t.Fatal("token is not deterministic")
		}
	})
	t.Run("another parent or key id gives another token", func(t *testing.T) {
		if requestToken("other-version", 7) == a || requestToken("parent-version", 8) == a {
			t.Fatal("token collides")
		}
	})
	t.Run("the token fits Secrets Manager's 32 to 64 characters", func(t *testing.T) {
		if len(a) < 32 || len(a) > 64 {
			t.Fatalf("token %q has %d characters", a, len(a))
		}
	})
}

func TestEncryptionContextNamesRingAndVersion(t *testing.T) {
	t.Run("a v2 ring binds keys to its ring id, not the secret name", func(t *testing.T) {
		r := &ring{Format: ringFormat, RingID: "r1"}
		ec := r.keyContext("pii/ring", wrappedKey{ID: 3})
		if len(ec) != 2 || ec["fieldseal:ring"] != "r1" || ec["fieldseal:version"] != "3" {
			t.Fatalf("encryption context = %v", ec)
		}
	})
	t.Run("v1 rings and keys made by them keep the secret name", func(t *testing.T) {
		v1 := &ring{Format: ringFormatV1}
		if ec := v1.keyContext("pii/ring", wrappedKey{ID: 3}); len(ec) != 2 || ec["fieldseal:secret"] != "pii/ring" || ec["fieldseal:version"] != "3" {
			t.Fatalf("v1 encryption context = %v", ec)
		}
		v1.upgrade("pii/ring")
		v1.Keys = append(v1.Keys, wrappedKey{ID: 3, Secret: "pii/ring"})
		if ec := v1.keyContext("new/name", v1.Keys[0]); ec["fieldseal:secret"] != "pii/ring" {
			t.Fatalf("upgraded key context = %v", ec)
		}
	})
	t.Run("the metadata seal context changes with any metadata", func(t *testing.T) {
		r := &ring{Format: ringFormat, RingID: "r1", CMK: "alias/a", RingVersions: crypto.RingVersions{Primary: 2},
			Keys: []wrappedKey{{ID: 1, Created: time.Unix(1, 0)}, {ID: 2, Created: time.Unix(2, 0)}}}
		base := r.sealContext()[ContextMetadata]
		for name, edit := range map[string]func(r *ring){
			"primary":   func(r *ring) { r.Primary = 1 },
			"minimum":   func(r *ring) { r.MinVersion = 2 },
			"retired":   func(r *ring) { r.Retired = []uint32{1} },
			"destroyed": func(r *ring) { r.Destroyed = []uint32{3} },
			"cmk":       func(r *ring) { r.CMK = "alias/b" },
			"ring id":   func(r *ring) { r.RingID = "r2" },
			"a key":     func(r *ring) { r.Keys = r.Keys[1:] },
		} {
			c := r.clone()
			edit(c)
			if c.sealContext()[ContextMetadata] == base && name != "ring id" {
				t.Errorf("editing the %s leaves the seal context unchanged", name)
			}
			if name == "ring id" && c.sealContext()[ContextRing] == r.sealContext()[ContextRing] {
				t.Error("the ring id is not in the seal context")
			}
		}
	})
}

func TestRingSizeCheck(t *testing.T) {
	c := &clients{opts: Options{MaxRingBytes: 1000}}
	t.Run("a ring over the limit is refused before it is written", func(t *testing.T) {
		if _, err := c.checkSize("rotate", "pii/ring", strings.Repeat("x", 1001)); !errors.Is(err, ErrRingTooLarge) {
			t.Fatalf("err = %v, want ErrRingTooLarge", err)
		}
	})
	t.Run("a ring close to the limit is written with a notice", func(t *testing.T) {
		n, err := c.checkSize("rotate", "pii/ring", strings.Repeat("x", 900))
		if err != nil || len(n) != 1 || !strings.Contains(n[0], "900 of 1000 bytes") {
			t.Fatalf("notices %v, err %v", n, err)
		}
	})
	t.Run("a small ring has no notice", func(t *testing.T) {
		if n, err := c.checkSize("rotate", "pii/ring", strings.Repeat("x", 800)); err != nil || n != nil {
			t.Fatalf("notices %v, err %v", n, err)
		}
	})
}

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

func TestCallErrorsNameTheCallAndMapToCategories(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:Decrypt"}
	for _, tc := range []struct {
		name     string
		sdkErr   error
		kind     error
		wantText string
		result   string
	}{
		{"access denied names the call and the resource", responseError(400, denied), ErrAccessDenied,
			`kms Decrypt key v3 of secret "pii/ring": AccessDeniedException: User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:Decrypt`, "access_denied"},
		{"a wrong encryption context is invalid ciphertext", responseError(400, &smithy.GenericAPIError{Code: "InvalidCiphertextException"}), ErrWrongContext,
			`kms Decrypt key v3 of secret "pii/ring": InvalidCiphertextException`, "invalid_ciphertext"},
		{"a missing secret is not found", responseError(400, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}), ErrNotFound,
			`kms Decrypt key v3 of secret "pii/ring": ResourceNotFoundException: Secrets Manager can't find the specified secret.`, "not_found"},
		{"a refused connection is unavailable", responseError(0, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), ErrUnavailable,
			`kms Decrypt key v3 of secret "pii/ring": unreachable: dial tcp: connect: connection refused`, "unavailable"},
		{"a 501 answer is an unsupported operation", responseError(501, errors.New("deserialization failed")), ErrUnsupported,
			`kms Decrypt key v3 of secret "pii/ring": HTTP 501 Not Implemented: the endpoint does not implement this operation`, "unsupported"},
		{"throttling is its own result", responseError(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), nil,
			`kms Decrypt key v3 of secret "pii/ring": ThrottlingException`, "throttled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := callError("kms", "Decrypt", fmt.Sprintf("key v%d of secret %q", 3, "pii/ring"), tc.sdkErr)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tc.kind)
			}
			if err.Error() != tc.wantText {
				t.Fatalf("text\n got %q\nwant %q", err.Error(), tc.wantText)
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Operation != "Decrypt" {
				t.Fatal("not a *CallError")
			}
			if got := result(tc.sdkErr); got != tc.result {
				t.Fatalf("metric result = %q, want %q", got, tc.result)
			}
		})
	}
}

func TestContainsAllComparesVersionsByIdentity(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC)
	base := &ring{Keys: []wrappedKey{{ID: 1, Created: t0}, {ID: 2, Created: t0.Add(1)}}}
	if !containsAll(base, &ring{Keys: []wrappedKey{{ID: 2, Created: t0.Add(1)}}}) {
		t.Fatal("a ring does not contain its own version")
	}
	if containsAll(base, &ring{Keys: []wrappedKey{{ID: 2, Created: t0.Add(2)}}}) {
		t.Fatal("another writer's version 2 was taken for ours")
	}
}
