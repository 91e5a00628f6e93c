package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/fieldseal/fieldseal/internal/jsonerror"
)

// loadSpec loads and validates openapi.yaml.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// TestOpenAPIDescribesTheHandler checks openapi.yaml against the handler
// both ways: the operations it describes are the paths the handler serves
// (POST each), the error codes it lists are the handler's tables, and every
// status it describes is driven against the handler, the answer validated
// against the description (status included), while every status the
// handler's error table can answer is described.
func TestOpenAPIDescribesTheHandler(t *testing.T) {
	doc := loadSpec(t)

	t.Run("the described operations are the handler's paths, POST only", func(t *testing.T) {
		var described []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				described = append(described, method+" "+path)
			}
		}
		var served []string
		for path := range Paths {
			served = append(served, http.MethodPost+" "+path)
		}
		sort.Strings(described)
		sort.Strings(served)
		if !slices.Equal(described, served) {
			t.Errorf("openapi.yaml describes %v, the handler serves %v", described, served)
		}
	})

	t.Run("the error codes are the handler's", func(t *testing.T) {
		var call []string
		for _, c := range callErrors {
			call = append(call, c.Code)
		}
		call = append(call, jsonerror.Internal.Code, jsonerror.Canceled.Code)
		var item []string
		for _, e := range itemErrors {
			item = append(item, e.code)
		}
		item = append(item, itemCode(io.EOF)) // the fallback
		for _, tc := range []struct {
			schema string
			codes  []string
			enum   func(*openapi3.Schema) []any
		}{
			{"Error", call, func(s *openapi3.Schema) []any { return s.Properties["error"].Value.Properties["code"].Value.Enum }},
			{"ItemError", item, func(s *openapi3.Schema) []any { return s.Properties["code"].Value.Enum }},
		} {
			var enum []string
			for _, v := range tc.enum(doc.Components.Schemas[tc.schema].Value) {
				enum = append(enum, fmt.Sprint(v))
			}
			sort.Strings(enum)
			codes := slices.Clone(tc.codes)
			sort.Strings(codes)
			if !slices.Equal(enum, slices.Compact(codes)) {
				t.Errorf("%s codes: openapi.yaml lists %v, the handler has %v", tc.schema, enum, codes)
			}
		}
	})

	// notDriven are statuses described but not produced here, with why.
	notDriven := map[int]string{
		http.StatusInternalServerError: "internal: an error no row of the table names; the handler has no known path to it",
	}
	// Statuses the handler answers outside the operations (unknown paths
	// and methods) are not operation statuses; canceled calls have nobody
	// to answer.
	outside := []int{http.StatusNotFound, http.StatusMethodNotAllowed, jsonerror.StatusClientClosed}

	t.Run("every status of the error table is described for every operation", func(t *testing.T) {
		for path, item := range doc.Paths.Map() {
			op := item.Post
			for _, c := range callErrors {
				if slices.Contains(outside, c.Status) {
					continue
				}
				if op.Responses.Status(c.Status) == nil {
					t.Errorf("POST %s: status %d (%s) is not described", path, c.Status, c.Code)
				}
			}
		}
	})

	ta := newTestAPI(t, func(o *Options) { o.MaxBodyBytes = 4096; o.BodyTimeout = 200 * time.Millisecond })
	noKeys := newTestAPI(t, func(o *Options) { o.Keys = staticKeys{} })
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{
		OpSeal:   `{"items":[{"class":"email","value":"a@x"},{"route":"customers-write","document":{"email":"a@x"}},{"class":"nope","value":1}]}`,
		OpOpen:   `{"items":[{"class":"email","value":"legacy@x"},{"class":"email","value":"fs1:AAAA"},{"fields":[{"path":"e","class":"email"}],"document":{"e":null}}]}`,
		OpLookup: `{"items":[{"class":"customer_no","value":"C-1"},{"class":"email","value":"a@x"}]}`,
	}
	// drive returns a request that makes the handler answer status for op.
	drive := map[int]func(op string) (*testAPI, *http.Request){ // 408 is driven by stalledBody
		200: func(op string) (*testAPI, *http.Request) { return ta, jsonReq(ta, op, "full", good[op]) },
		400: func(op string) (*testAPI, *http.Request) { return ta, jsonReq(ta, op, "full", `{"items":{}}`) },
		401: func(op string) (*testAPI, *http.Request) { return ta, jsonReq(ta, op, "", good[op]) },
		403: func(op string) (*testAPI, *http.Request) { return ta, jsonReq(ta, op, "refused", good[op]) },
		408: nil,
		413: func(op string) (*testAPI, *http.Request) {
			return ta, jsonReq(ta, op, "full", `{"items":[`+strings.Repeat(" ", 4096)+`]}`)
		},
		415: func(op string) (*testAPI, *http.Request) {
			r := jsonReq(ta, op, "full", good[op])
			r.Header.Set("Content-Type", "text/plain")
			return ta, r
		},
		503: func(op string) (*testAPI, *http.Request) { return noKeys, jsonReq(noKeys, op, "full", good[op]) },
	}
	for path, item := range doc.Paths.Map() {
		op := Paths[path]
		for code := range item.Post.Responses.Map() {
			status, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("POST %s: response %q is not a status", path, code)
				continue
			}
			if why, ok := notDriven[status]; ok {
				t.Logf("POST %s %d not driven: %s", path, status, why)
				continue
			}
			d, ok := drive[status]
			if !ok {
				t.Errorf("POST %s: described status %d is not driven by this test", path, status)
				continue
			}
			t.Run(fmt.Sprintf("POST %s answers %d as described", path, status), func(t *testing.T) {
				var resp *http.Response
				var body []byte
				var req *http.Request
				if status == http.StatusRequestTimeout {
					req = jsonReq(ta, op, "full", good[op])
					resp, body = stalledBody(t, ta.url, req)
				} else {
					_, req = d(op)
					reqBody, _ := io.ReadAll(req.Body)
					req.Body = io.NopCloser(bytes.NewReader(reqBody))
					var err error
					resp, err = http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					req.Body = io.NopCloser(bytes.NewReader(reqBody))
				}
				if resp.StatusCode != status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
				}
				validate(t, router, req, resp, body)
			})
		}
	}
}

func jsonReq(ta *testAPI, op, token, body string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, ta.url+"/v1/"+op, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// validate checks an answer against the operation openapi.yaml describes
// for req: the status must be described, and headers and body must match.
func validate(t *testing.T, router routers.Router, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	// Routes are found under the described server's URL.
	specReq := req.Clone(context.Background())
	u, err := url.Parse("http://127.0.0.1:8443" + req.URL.Path)
	if err != nil {
		t.Fatal(err)
	}
	specReq.URL, specReq.Host = u, u.Host
	route, params, err := router.FindRoute(specReq)
	if err != nil {
		t.Fatalf("find %s %s in openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: specReq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("answer %d does not match openapi.yaml: %v\n%s", resp.StatusCode, err, body)
	}
}

// stalledBody sends req's headers and half its body over a raw connection
// and returns the answer the handler gives when the rest never comes.
func stalledBody(t *testing.T, base string, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body, _ := io.ReadAll(req.Body)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n%s",
		req.URL.Path, u.Host, req.Header.Get("Authorization"), len(body), body[:len(body)/2])
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on a hung test, not an assertion
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read the answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	return resp, b
}
