package accounts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"polyglot/keystore"
	"polyglot/protocols"
)

// Reason is the user-facing class of a connection or login failure.
type Reason int

const (
	ReasonOther       Reason = iota
	ReasonAuth               // wrong credentials (or none stored)
	ReasonUnreachable        // DNS, refused, no route
	ReasonTLS                // certificate not trusted, wrong name, handshake
	ReasonTimeout            // no answer in time
)

func (r Reason) String() string {
	return [...]string{"error", "authentication failed", "server unreachable", "TLS problem", "timed out"}[r]
}

// Classify says which Reason err is. Connectors should wrap causes with
// %w; a few well-known texts are recognised as a fallback.
func Classify(err error) Reason {
	if err == nil {
		return ReasonOther
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		hostErrP  *x509.HostnameError
		invalid   x509.CertificateInvalidError
		invalidP  *x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		dnsErr    *net.DNSError
		opErr     *net.OpError
	)
	switch {
	case errors.Is(err, protocols.ErrAuthFailed), errors.Is(err, keystore.ErrNotFound):
		return ReasonAuth
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &hostErrP),
		errors.As(err, &invalid), errors.As(err, &invalidP), errors.As(err, &verify),
		errors.As(err, &record), errors.As(err, &alert):
		return ReasonTLS
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		if opErr != nil && opErr.Timeout() {
			return ReasonTimeout
		}
		return ReasonUnreachable
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "x509:"), strings.Contains(s, "tls:"):
		return ReasonTLS
	case strings.Contains(s, "connection refused"), strings.Contains(s, "no such host"),
		strings.Contains(s, "network is unreachable"), strings.Contains(s, "no route to host"):
		return ReasonUnreachable
	case strings.Contains(s, "i/o timeout"):
		return ReasonTimeout
	}
	return ReasonOther
}

// LoginError is what Add returns when the login check fails: nothing was
// saved.
type LoginError struct {
	Account string
	Reason  Reason
	Err     error
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("cannot add %s: %s", e.Account, describe(e.Reason, e.Err))
}

func (e *LoginError) Unwrap() error { return e.Err }

// describe is the one-line human explanation with a next step.
func describe(r Reason, err error) string {
	cause := ""
	if err != nil {
		cause = err.Error()
	}
	// A connector's own explanation (WhatsApp's "login needed — link
	// again: …") is shown as it is.
	var own interface{ Detail() string }
	if errors.As(err, &own) {
		return own.Detail()
	}
	switch r {
	case ReasonAuth:
		if errors.Is(err, keystore.ErrNotFound) {
			// Nothing reached the server: say what is missing, not "refused".
			return "no password is stored for this account in the keystore (never saved there, or deleted)"
		}
		return "the server rejected the user name or password (" + cause + ")"
	case ReasonUnreachable:
		return "server unreachable; check the address, the server setting and your network (" + cause + ")"
	case ReasonTLS:
		return "TLS problem: the server's certificate is not trusted; for a private CA set ca_file (" + cause + ")"
	case ReasonTimeout:
		return "the server did not answer in time (" + cause + ")"
	}
	return cause
}

// NoSecretError is a connector factory's answer when the keystore holds no
// password (or token) for the account: nothing was sent to any server, the
// user has to enter it. It wraps keystore.ErrNotFound, so Classify sees an
// auth problem and Status.NoSecret is set.
type NoSecretError struct {
	Account string
	Err     error // wraps keystore.ErrNotFound
}

func (e *NoSecretError) Error() string {
	return "no password is stored for " + e.Account + " in the keystore"
}

func (e *NoSecretError) Unwrap() error { return e.Err }

// ErrExists is returned by Add for an ID already configured.
var ErrExists = errors.New("account already exists")

// ErrUnknownAccount is returned for an ID not in the config.
var ErrUnknownAccount = errors.New("no such account")

// ErrNoConnector is returned when the registry has no factory for a network.
var ErrNoConnector = errors.New("this build has no connector for that network")
