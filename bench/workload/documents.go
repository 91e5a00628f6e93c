package workload

import (
	"encoding/json"
	"fmt"
	"strings"
)

// CustomerFields returns the five protected fields of the Customer document.
func CustomerFields() []Field {
	return []Field{
		{Path: "email", Class: "email"},
		{Path: "phone", Class: "phone"},
		{Path: "address.street", Class: "street"},
		{Path: "birth_date", Class: "birth_date"},
		{Path: "iban", Class: "iban"},
	}
}

// ListFields returns the two protected fields of every List element.
func ListFields() []Field {
	return []Field{
		{Path: "#.email", Class: "email"},
		{Path: "#.phone", Class: "phone"},
	}
}

// Field is one protected value: where it is and which field class seals it.
type Field struct {
	Path  string
	Class string
}

// CustomerSize is the exact size in bytes of the Customer document.
const CustomerSize = 1024

// ListLen is the number of elements in the List document.
const ListLen = 100

type address struct {
	Street   string `json:"street"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

type customer struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Phone       string   `json:"phone"`
	Address     address  `json:"address"`
	BirthDate   string   `json:"birth_date"`
	IBAN        string   `json:"iban"`
	Status      string   `json:"status"`
	Tier        string   `json:"tier"`
	Marketing   bool     `json:"marketing_opt_in"`
	Balance     float64  `json:"balance"`
	Tags        []string `json:"tags"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
	Notes       string   `json:"notes"`
	Preferences struct {
		Language string `json:"language"`
		Currency string `json:"currency"`
		Channel  string `json:"channel"`
	} `json:"preferences"`
}

// Customer returns a fresh copy of the 1 KB customer document: compact JSON,
// exactly CustomerSize bytes, with every CustomerFields path a string.
func Customer() []byte {
	c := customer{
		ID:        "c-000001",
		Name:      "Jane Example",
		Email:     "jane.example@example.com",
		Phone:     "+44 20 7946 0958",
		Address:   address{Street: "221B Baker Street", City: "London", Postcode: "NW1 6XE", Country: "GB"},
		BirthDate: "1984-03-17",
		IBAN:      "GB82WEST12345698765432",
		Status:    "active",
		Tier:      "gold",
		Marketing: true,
		Balance:   1234.56,
		Tags:      []string{"newsletter", "priority", "eu-region", "paperless"},
		CreatedAt: "2024-01-15T09:30:00Z",
		UpdatedAt: "2026-11-20T16:45:12Z",
	}
	c.Preferences.Language = "en-GB"
	c.Preferences.Currency = "GBP"
	c.Preferences.Channel = "email"
	base := mustMarshal(c)
	pad := CustomerSize - len(base)
	if pad < 0 {
		panic(fmt.Sprintf("workload: customer document is %d bytes before padding, over %d", len(base), CustomerSize))
	}
	c.Notes = strings.Repeat("n", pad)
	return mustMarshal(c)
}

type listItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	City      string `json:"city"`
	Status    string `json:"status"`
	Tier      string `json:"tier"`
	CreatedAt string `json:"created_at"`
	Balance   int    `json:"balance_cents"`
}

// List returns a fresh copy of the list document: a JSON array of ListLen
// customers (about 20 KB), each with the two ListFields values as strings.
func List() []byte {
	items := make([]listItem, ListLen)
	for i := range items {
		items[i] = listItem{
			ID:        fmt.Sprintf("c-%06d", i+1),
			Name:      fmt.Sprintf("Customer Number %03d", i+1),
			Email:     fmt.Sprintf("customer.%03d@example.com", i+1),
			Phone:     fmt.Sprintf("+44 20 7946 %04d", i),
			City:      "Manchester",
			Status:    "active",
			Tier:      "silver",
			CreatedAt: "2025-06-01T12:00:00Z",
			Balance:   1000 + i*37,
		}
	}
	return mustMarshal(items)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("workload: marshal fixed document: " + err.Error())
	}
	return b
}

// LargeSize is the size in bytes of the Large document.
const LargeSize = 1 << 20

type historyEvent struct {
	At     string `json:"at"`
	Kind   string `json:"kind"`
	Amount int    `json:"amount_cents"`
	Ref    string `json:"ref"`
	OK     bool   `json:"ok"`
}

// Large returns a fresh copy of the large document: the customer document's
// fields (CustomerFields protected, as in Customer) with an unprotected
// "history" array of small event objects and padding in "notes" that bring
// it to exactly LargeSize bytes. It is what a bulk export or
// a record with a long embedded history looks like: few protected values in
// a lot of JSON the proxy must still scan.
func Large() []byte {
	var c struct {
		customer
		History []historyEvent `json:"history"`
	}
	if err := json.Unmarshal(Customer(), &c.customer); err != nil {
		panic("workload: customer document: " + err.Error())
	}
	c.Notes = ""
	ev := func(i int) historyEvent {
		return historyEvent{At: fmt.Sprintf("2025-%02d-%02dT%02d:%02d:00Z", i%12+1, i%28+1, i%24, i%60),
			Kind: "payment", Amount: 100 + i*7%9000, Ref: fmt.Sprintf("ref-%08d", i), OK: i%17 != 0}
	}
	one := len(mustMarshal(ev(0))) + 1
	base := len(mustMarshal(c)) + 2
	for i := 0; base+(i+1)*one <= LargeSize-one; i++ {
		c.History = append(c.History, ev(i))
	}
	doc := mustMarshal(c)
	if pad := LargeSize - len(doc); pad > 0 {
		c.Notes = strings.Repeat("n", pad)
		doc = mustMarshal(c)
	}
	return doc
}
