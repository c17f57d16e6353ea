package accounts

import (
	"errors"
	"fmt"
	"testing"

	"polyglot/protocols"
)

type detailed struct{ d string }

func (e *detailed) Error() string  { return "raw " + e.d }
func (e *detailed) Detail() string { return e.d }
func (e *detailed) Unwrap() error  { return protocols.ErrAuthFailed }

// TestDescribeKeepsAConnectorsOwnDetail: an auth failure that is not a
// refused password (WhatsApp's "login needed — link again") is shown in
// the connector's words, wrapped or not.
func TestDescribeKeepsAConnectorsOwnDetail(t *testing.T) {
	e := &detailed{d: "login needed — link again: unlinked from the phone"}
	for _, err := range []error{e, fmt.Errorf("connect: %w", e), errors.Join(protocols.ErrAuthFailed, e)} {
		if got := describe(Classify(err), err); got != e.d {
			t.Errorf("describe(%v) = %q, want %q", err, got, e.d)
		}
	}
	if got := describe(ReasonAuth, protocols.ErrAuthFailed); got == e.d {
		t.Error("a plain refusal lost its text")
	}
}
