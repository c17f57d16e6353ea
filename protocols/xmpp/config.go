package xmpp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"polyglot/protocols"
)

// Config is one XMPP account.
type Config struct {
	JID      string // bare JID, user@domain
	Password string
	// Account is the accounts ID copied into every Address.Account.
	Account string
	// Server overrides where to connect (host:port). Empty: DNS SRV
	// (_xmpp-client / _xmpps-client), then the domain on the default port.
	Server string
	// CAFile is a PEM file of extra certificates to trust (a test CA or a
	// self-signed server certificate). Verification stays on.
	CAFile string
	// InsecureSkipVerifyLoopback turns certificate verification off. It is
	// refused unless Server is a loopback address, and messages then report
	// EncNone instead of EncTransport: an unverified TLS link protects nothing.
	InsecureSkipVerifyLoopback bool
	// DirectTLS connects with TLS from the first byte (XEP-0368) instead of
	// STARTTLS.
	DirectTLS bool
	// Resource to bind; empty lets the server choose.
	Resource string
	// Nick in group chats; empty uses the JID's local part.
	Nick string
	// Rooms are MUC addresses joined at every connect, besides the
	// autojoin bookmarks (XEP-0402) found on the server.
	Rooms []string
	// DataDir keeps the MAM catch-up position between runs (one small file)
	// and, with OMEMOKey, the OMEMO store (omemo.db); empty keeps the
	// position in memory only and turns OMEMO off.
	DataDir string
	// OMEMOKey (omemo.KeySize bytes, from the keystore) seals the OMEMO
	// store's private keys and sessions. Empty: OMEMO off, every message
	// travels with TLS only.
	OMEMOKey []byte
	// HistoryDays and HistoryMessages bound the history an account's first
	// login fetches from the server's archive, newest first (default 30
	// days, at most 2 000 messages). Older messages load on demand
	// (FetchHistory).
	HistoryDays, HistoryMessages int
	// DeliveryReceipts decides whether a delivery receipt (XEP-0184, XEP-0333
	// received) may go back to the sender of a message. nil never sends one:
	// the core owns consent and wires this to "has the user accepted from?".
	DeliveryReceipts func(from protocols.Address) bool
	// PingInterval and PingTimeout bound how long a dead link goes unnoticed
	// (default 20 s + 10 s, so under 60 s).
	PingInterval, PingTimeout time.Duration
	// MaxBody caps an incoming body in bytes (default 64 KiB); longer bodies
	// are cut and carry a Notice.
	MaxBody int
	Logger  zerolog.Logger
}

// OMEMOKeyKind is the keystore kind of an account's OMEMO store key
// (Config.OMEMOKey): made on first use, kept in the keystore, never in
// omemo.db.
const OMEMOKeyKind = "omemo-key"

const (
	defaultPingInterval = 20 * time.Second
	defaultPingTimeout  = 10 * time.Second
	defaultMaxBody      = 64 << 10
	defaultHistoryDays  = 30
	defaultHistoryMsgs  = 2000
)

func (c *Config) validate() (jid.JID, error) {
	if c.JID == "" {
		return jid.JID{}, errors.New("xmpp: JID is empty")
	}
	j, err := jid.Parse(c.JID)
	if err != nil {
		return jid.JID{}, fmt.Errorf("xmpp: bad JID %q: %w", c.JID, err)
	}
	if j.Localpart() == "" {
		return jid.JID{}, fmt.Errorf("xmpp: JID %q has no user part", c.JID)
	}
	if c.InsecureSkipVerifyLoopback && !isLoopback(c.Server) {
		return jid.JID{}, fmt.Errorf("xmpp: InsecureSkipVerifyLoopback needs a loopback Server, got %q", c.Server)
	}
	if c.PingInterval <= 0 {
		c.PingInterval = defaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = defaultPingTimeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = defaultMaxBody
	}
	if c.Nick == "" {
		c.Nick = j.Localpart()
	}
	return j.Bare(), nil
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig verifies the server as the JID's domain against the system roots
// plus CAFile.
func (c *Config) tlsConfig(domain string) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName: domain,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"xmpp-client"},
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("xmpp: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("xmpp: CA file %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.InsecureSkipVerifyLoopback {
		cfg.InsecureSkipVerify = true // allowed by validate() for loopback only
	}
	return cfg, nil
}
