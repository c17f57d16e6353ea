package inbox

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"polyglot/protocols"
)

// Target is what the user typed to start a conversation: a person's
// address, or a group chat to join.
type Target struct {
	Network protocols.Network
	// ID is the canonical address: "@bob:example.org", "bob@example.org",
	// "4915…@s.whatsapp.net", "#room:example.org", "!id:example.org",
	// "room@conference.example.org".
	ID   string
	Room bool
}

// ErrBadTarget is the cause of every ParseTarget refusal; the message says
// which form was expected.
var ErrBadTarget = errors.New("not an address")

// mucPrefixes are the host names XMPP servers conventionally give their
// multi-user chat service ("chat." is left out: plenty of servers host
// people there).
var mucPrefixes = []string{"conference.", "muc.", "rooms.", "groupchat.", "chatrooms.", "conf."}

// ParseTarget reads an address as a user types it: "@bob:example.org"
// (Matrix user), "#room:example.org" or "!id:example.org" (Matrix room),
// "bob@example.org" (XMPP), "room@conference.example.org" or
// "xmpp:room@example.org?join" (XMPP group chat), "+4915123456789" or
// "4915123456789@s.whatsapp.net" (WhatsApp). A "matrix:", "xmpp:" or
// "whatsapp:" prefix and matrix.to links are understood. The error says
// what a valid address of the intended kind looks like.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("%w: type an address", ErrBadTarget)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return Target{}, fmt.Errorf("%w: an address has no spaces", ErrBadTarget)
	}
	if rest, ok := cutPrefixFold(s, "https://matrix.to/#/"); ok {
		if u, err := url.PathUnescape(rest); err == nil {
			rest = u
		}
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest = rest[:i]
		}
		return parseMatrix(rest)
	}
	join := false
	net, s := splitNetwork(s)
	if net == protocols.XMPP || net == "" {
		// An XMPP URI (RFC 5122): "?join" asks to enter a group chat.
		if i := strings.IndexByte(s, '?'); i >= 0 && !strings.HasPrefix(s, "@") && !strings.HasPrefix(s, "#") {
			join = strings.EqualFold(strings.SplitN(s[i+1:], ";", 2)[0], "join")
			s = s[:i]
		}
	}
	switch {
	case net == protocols.Matrix || (net == "" && (strings.HasPrefix(s, "@") || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "!"))):
		return parseMatrix(s)
	case net == protocols.WhatsApp || (net == "" && (strings.HasPrefix(s, "+") || strings.HasSuffix(strings.ToLower(s), "@s.whatsapp.net"))):
		return parseWhatsApp(s)
	case strings.Contains(s, "@"):
		return parseXMPP(s, join)
	}
	return Target{}, fmt.Errorf("%w: %q — try @name:server (Matrix), name@server (XMPP), +number (WhatsApp), or #room:server / room@conference.server to join", ErrBadTarget, s)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func parseMatrix(s string) (Target, error) {
	if s == "" {
		return Target{}, fmt.Errorf("%w: a Matrix address looks like @name:server or #room:server", ErrBadTarget)
	}
	sigil := s[0]
	kind := map[byte]string{'@': "user ID looks like @name:server", '#': "room alias looks like #room:server", '!': "room ID looks like !id:server"}[sigil]
	if kind == "" {
		return Target{}, fmt.Errorf("%w: %q — a Matrix address starts with @ (a person) or # (a room)", ErrBadTarget, s)
	}
	local, server, ok := strings.Cut(s[1:], ":")
	if !ok || local == "" || server == "" || strings.ContainsAny(server, "/@#!") {
		return Target{}, fmt.Errorf("%w: %q — a Matrix %s", ErrBadTarget, s, kind)
	}
	return Target{Network: protocols.Matrix, ID: s, Room: sigil != '@'}, nil
}

func parseXMPP(s string, join bool) (Target, error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i] // a resource names a device, not the person or room
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(domain, "@:") || strings.ContainsAny(local, "\"&'/:<>") {
		return Target{}, fmt.Errorf("%w: %q — an XMPP address looks like name@server (a group chat: room@conference.server)", ErrBadTarget, s)
	}
	domain = strings.ToLower(domain)
	room := join
	for _, p := range mucPrefixes {
		if strings.HasPrefix(domain, p) {
			room = true
		}
	}
	return Target{Network: protocols.XMPP, ID: local + "@" + domain, Room: room}, nil
}

func parseWhatsApp(s string) (Target, error) {
	num := strings.TrimPrefix(s, "+")
	if i := strings.IndexByte(num, '@'); i >= 0 {
		if !strings.EqualFold(num[i+1:], "s.whatsapp.net") {
			return Target{}, fmt.Errorf("%w: %q — a WhatsApp address is +number or number@s.whatsapp.net", ErrBadTarget, s)
		}
		num = num[:i]
	}
	if len(num) < 6 || strings.Trim(num, "0123456789") != "" {
		return Target{}, fmt.Errorf("%w: %q — a WhatsApp number is + and the digits with the country code", ErrBadTarget, s)
	}
	return Target{Network: protocols.WhatsApp, ID: num + "@s.whatsapp.net"}, nil
}

// serverOf is the homeserver or domain of a target's ID.
func (t Target) server() string {
	switch t.Network {
	case protocols.Matrix:
		if _, s, ok := strings.Cut(t.ID, ":"); ok {
			return s
		}
	default:
		if _, s, ok := strings.Cut(t.ID, "@"); ok {
			return s
		}
	}
	return ""
}
