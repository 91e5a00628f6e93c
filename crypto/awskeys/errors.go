package awskeys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/fieldseal/fieldseal/crypto"
)

// Error categories, checked with errors.Is. Every error returned by this package for
// a failed AWS call is a *CallError that matches one of them when it applies.
var (
	// ErrAccessDenied: IAM policy, KMS key policy or credentials refuse the call.
	ErrAccessDenied = errors.New("access denied (check the IAM policy, the KMS key policy and the credentials in use)")
	// ErrWrongContext: KMS refused a ciphertext: wrong encryption context, wrong
	// CMK, or a wrapped key that was altered.
	ErrWrongContext = errors.New("wrapped key does not open under this CMK and encryption context")
	// ErrNotFound: the secret or the CMK does not exist (or is not visible).
	ErrNotFound = errors.New("not found")
	// ErrRingExists: Init found an existing secret and refused to overwrite it.
	ErrRingExists = errors.New("key ring secret already exists")
	// ErrMalformedRing: the secret does not hold a valid fieldseal key ring.
	ErrMalformedRing = errors.New("malformed key ring")
	// ErrUnsupported: the endpoint (typically an emulator) does not implement a call.
	ErrUnsupported = errors.New("operation not supported by this endpoint")
	// ErrConflict: concurrent writers kept winning; Rotate gave up after its attempts.
	ErrConflict = errors.New("key ring changed concurrently too many times")
	// ErrUnavailable: the service could not be reached or timed out.
	ErrUnavailable = errors.New("service unavailable")
	// ErrRingTooLarge: the ring would not fit the secret size limit; destroy
	// old versions (keys destroy) to make room.
	ErrRingTooLarge = errors.New("key ring too large for its secret")
	// ErrLifecycle is crypto.ErrLifecycle: a retire, minimum-version or
	// destroy request that would leave the ring without a usable primary or
	// lookup version, or names no such version.
	ErrLifecycle = crypto.ErrLifecycle
	// ErrVerify: Verify found a problem; its Report names it.
	ErrVerify = errors.New("key ring verification failed")
	// ErrBadBackup is crypto.ErrBadBackup: a backup file is not a valid,
	// intact fieldseal aws ring backup.
	ErrBadBackup = crypto.ErrBadBackup
	// ErrKMSKeyState: the CMK is disabled, pending deletion or not a symmetric
	// encryption key.
	ErrKMSKeyState = errors.New("kms key is not usable for symmetric encryption")
)

// CallError is a failed AWS call: which service and operation, on which resource,
// and why. Its text never contains key material.
type CallError struct {
	Service   string // "kms" or "secretsmanager"
	Operation string // e.g. "Decrypt"
	Resource  string // e.g. `key v3 of secret "pii/ring"`
	Kind      error  // one of the Err* categories, or nil
	Err       error  // the SDK error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s %s %s: %s", e.Service, e.Operation, e.Resource, describe(e.Err))
}

// Unwrap exposes both the category and the SDK error to errors.Is / errors.As.
func (e *CallError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// describe renders an SDK error as "Code: message" when the service answered,
// which is shorter and clearer than the SDK's full chain.
func describe(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if msg := ae.ErrorMessage(); msg != "" {
			return ae.ErrorCode() + ": " + msg
		}
		return ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented {
		return "HTTP 501 Not Implemented: the endpoint does not implement this operation"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "unreachable: " + oe.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

func callError(service, op, resource string, err error) error {
	return &CallError{Service: service, Operation: op, Resource: resource, Kind: classify(err), Err: err}
}

// classify maps an SDK error to a category; nil when none applies.
func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
			"InvalidSignatureException", "ExpiredTokenException", "IncompleteSignature",
			"InvalidClientTokenId":
			return ErrAccessDenied
		case "InvalidCiphertextException", "IncorrectKeyException":
			return ErrWrongContext
		case "ResourceNotFoundException", "NotFoundException":
			return ErrNotFound
		case "DisabledException", "KMSInvalidStateException", "InvalidKeyUsageException":
			return ErrKMSKeyState
		case "UnknownOperationException", "UnknownOperation", "NotImplemented", "InvalidAction":
			return ErrUnsupported
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotImplemented:
			return ErrUnsupported
		case http.StatusForbidden:
			return ErrAccessDenied
		}
		if re.HTTPStatusCode() == 0 || re.HTTPStatusCode() >= 500 {
			return ErrUnavailable // 0: the request was never answered
		}
		return nil
	}
	// No HTTP response at all: connection refused, DNS, timeout, retry quota.
	return ErrUnavailable
}

// result is the bounded metric label for one attempt's outcome.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	switch classify(err) {
	case ErrAccessDenied:
		return "access_denied"
	case ErrWrongContext:
		return "invalid_ciphertext"
	case ErrNotFound:
		return "not_found"
	case ErrUnavailable:
		return "unavailable"
	case ErrUnsupported:
		return "unsupported"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "ThrottlingException" || ae.ErrorCode() == "TooManyRequestsException") {
		return "throttled"
	}
	return "error"
}
