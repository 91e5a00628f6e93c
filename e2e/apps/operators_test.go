package appse2e_test

import (
	"encoding/json"
	"testing"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// Issue 16 item 2: a query document puts an operator object where the
// record has a value ({"selector":{"rrn":{"$eq":..}}}, {"$in":[..]}).
// Sealed whole, it matched nothing; with operators: true each operand is
// sealed with the (deterministic) class and the store finds the record.
func TestQueryOperatorsFindSealedRecords(t *testing.T) {
	store := newDocStore(t)
	sc := start(t, store.URL(), fieldMap("rrn", "{mode: deterministic, operators: true}",
		route{name: "doc", methods: "PUT, GET", paths: `"/db/{id}"`, request: "rrn", response: "rrn"},
		route{name: "find", methods: "POST", paths: "/db/_find", request: "selector.rrn", response: `"docs.#.rrn"`}))
	for _, rec := range [][2]string{{"ada", "900101-1234567"}, {"bob", "850505-2345678"}, {"cy", "770707-3456789"}} {
		id, rrn := rec[0], rec[1]
		sc.DoWant(t, 201, sidecartest.Req{Method: "PUT", Path: "/db/" + id, JSON: `{"rrn":"` + rrn + `"}`})
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"a plain value", `{"selector":{"rrn":"900101-1234567"}}`, []string{"ada"}},
		{"$eq", `{"selector":{"rrn":{"$eq":"850505-2345678"}}}`, []string{"bob"}},
		{"$in", `{"selector":{"rrn":{"$in":["900101-1234567","770707-3456789","000000-0000000"]}}}`, []string{"ada", "cy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := sc.Do(t, sidecartest.Req{Method: "POST", Path: "/db/_find", JSON: tt.query})
			var got struct {
				Docs []struct {
					ID  string `json:"_id"`
					RRN string `json:"rrn"`
				} `json:"docs"`
			}
			if err := json.Unmarshal(resp.Body, &got); resp.Status != 200 || err != nil {
				t.Fatalf("_find: %d %s", resp.Status, resp.Body)
			}
			var ids []string
			for _, d := range got.Docs {
				ids = append(ids, d.ID)
				if len(d.RRN) != len("900101-1234567") {
					t.Fatalf("rrn not opened: %s", resp.Body)
				}
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("found %v, want %v (query reached the store as %s)", ids, tt.want, store.lastBody())
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("found %v, want %v", ids, tt.want)
				}
			}
		})
	}
	store.mustNotHold(t, "900101-1234567", "850505-2345678", "770707-3456789", "000000-0000000")
}
