package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/transform"
)

func runEncrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runDocument("encrypt", args, stdin, stdout, stderr)
}

func runDecrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runDocument("decrypt", args, stdin, stdout, stderr)
}

// maxDocument bounds what encrypt/decrypt read from stdin.
const maxDocument = 256 << 20

// runDocument seals or opens one JSON document from stdin with a route's
// field map, as the proxy would on that route: for backfills of existing
// data and for debugging.
func runDocument(verb string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	summary := "Seal the protected fields of the JSON document on stdin, as the proxy does on\nthe route's requests, and print it (backfills of existing data, debugging)."
	if verb == "decrypt" {
		summary = "Open the sealed fields of the JSON document on stdin with the route's field\nmap and print it; legacy plaintext passes through, a value that does not open\nis an error."
	}
	fs := newFlags(verb, verb+" --config FILE --route NAME [--side request|response] [--context VALUE]", summary, stdout, stderr)
	configFile := fs.String("config", "", "config `FILE` (required)")
	routeName := fs.String("route", "", "route `NAME` from the config whose field map applies (required)")
	sideName := fs.String("side", "", "which side's fields: request or response (default: request if the route has request fields, else response)")
	ctxValue := fs.String("context", "", "the route's AAD context `VALUE` (the value of its context header)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *configFile == "" || *routeName == "" {
		fs.Usage()
		return errUsage
	}
	cfg, fm, err := compile(*configFile)
	if err != nil {
		return err
	}
	side, err := routeSide(fm, *routeName, *sideName)
	if err != nil {
		return err
	}
	doc, err := io.ReadAll(io.LimitReader(stdin, maxDocument+1))
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	if len(doc) > maxDocument {
		return fmt.Errorf("document on stdin is larger than %d bytes", maxDocument)
	}
	doc = bytes.TrimSpace(doc)

	// Every seal or open on the command line is a key-use event: with an
	// audit section it is recorded, and a broken trail stops the command.
	trail, err := openCLITrail(cfg.Audit, stderr)
	if err != nil {
		return err
	}
	out, keyIDs, err := transformStdin(verb, cfg, side, *ctxValue, doc)
	e := audit.Event{Type: audit.TypeRequest, Route: *routeName, Method: "CLI " + strings.ToUpper(verb), KeyIDs: keyIDs, Outcome: audit.OutcomeOK}
	if err != nil {
		e.Outcome, e.Reason = audit.OutcomeError, cryptoReason(err)
	}
	if err := trail.record(e, err); err != nil {
		return err
	}
	_, err = stdout.Write(append(out, '\n'))
	return err
}

// transformStdin loads the keys and seals or opens doc; it returns the key
// versions used (for the audit event), as the transform counted them.
func transformStdin(verb string, cfg *config.Config, side *fieldmap.Side, ctxValue string, doc []byte) ([]byte, []uint32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, closeSrc, err := newKeySource(ctx, cfg.Keys, nil, zerolog.Nop())
	if err != nil {
		return nil, nil, err
	}
	defer closeSrc()
	ring, err := src.Load(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("load keys: %w", err)
	}
	var st transform.Stats
	out, err := transformDocument(verb, ring, side, ctxValue, doc, &st)
	return out, st.KeyIDs, err
}

// cryptoReason is the bounded audit reason for a failed seal or open.
func cryptoReason(err error) string {
	switch {
	case errors.Is(err, crypto.ErrKeyDestroyed):
		return "key_destroyed"
	case errors.Is(err, crypto.ErrTampered):
		return "tampered"
	case errors.Is(err, crypto.ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, crypto.ErrNoKey):
		return "no_key"
	case errors.Is(err, crypto.ErrMetadataMAC):
		return "ring_metadata"
	}
	return "error"
}

func transformDocument(verb string, ring *crypto.Keyring, side *fieldmap.Side, ctxValue string, doc []byte, st *transform.Stats) ([]byte, error) {
	// The CLI acts for a caller that may write and decrypt every class:
	// legacy plaintext passes through decrypt, and a value that does not open
	// is an error.
	t := transform.New(transform.Params{Ring: ring, Side: side, Context: ctxValue, Stats: st})
	if verb == "encrypt" {
		return t.Seal(nil, doc)
	}
	return t.Open(nil, doc)
}

func routeSide(fm *fieldmap.Map, name, side string) (*fieldmap.Side, error) {
	var names []string
	for _, r := range fm.Routes() {
		names = append(names, r.Name)
		if r.Name != name {
			continue
		}
		switch side {
		case "request":
			if r.Request == nil {
				return nil, fmt.Errorf("route %q has no request fields", name)
			}
			return r.Request, nil
		case "response":
			if r.Response == nil {
				return nil, fmt.Errorf("route %q has no response fields", name)
			}
			return r.Response, nil
		case "":
			if r.Request != nil {
				return r.Request, nil
			}
			return r.Response, nil
		default:
			return nil, errors.New("--side must be request or response")
		}
	}
	return nil, fmt.Errorf("no route %q in the config (routes: %s)", name, strings.Join(names, ", "))
}
