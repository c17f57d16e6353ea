package whatsapp

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"polyglot/protocols"
)

// TestSendTextIsIdempotent: the WhatsApp ID for a ClientID is chosen and
// stored before the first attempt, so a failed attempt, a retry and a
// retry after a restart all send the same ID.
func TestSendTextIsIdempotent(t *testing.T) {
	r := newRig(t)
	out := protocols.OutgoingMessage{ClientID: "c-1", To: r.c.address(alice), Body: hostileBody}

	r.setFail(errors.New("connection reset"))
	if _, err := r.c.Send(r.c.ctx, out); err == nil {
		t.Fatal("Send with a failing socket succeeded")
	}
	r.setFail(nil)
	res, err := r.c.Send(r.c.ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	s := r.lastSent()
	if s.to != alice || protocols.MessageID(s.id) != res.NetworkID || res.Chat != protocols.ChatID(alice.String()) || res.Encryption != protocols.EncE2EE {
		t.Fatalf("sent %v id %s; result %+v", s.to, s.id, res)
	}
	if !strings.HasPrefix(s.id, "3EB0") || len(s.id) < 16 {
		t.Fatalf("ID %q is not one whatsmeow generates", s.id)
	}
	if !proto.Equal(s.msg, &waE2E.Message{Conversation: proto.String(hostileBody)}) {
		t.Fatalf("protobuf %v", s.msg)
	}

	if fi, err := os.Stat(r.db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("whatsapp.db: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// A restart: a new connector on the same whatsapp.db.
	r.c.Close()
	r.open()
	res2, err := r.c.Send(r.c.ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if res2.NetworkID != res.NetworkID || protocols.MessageID(r.lastSent().id) != res.NetworkID {
		t.Fatalf("retry after restart sent ID %s, first was %s", res2.NetworkID, res.NetworkID)
	}
	// Another message gets another ID.
	res3, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "c-2", Chat: protocols.ChatID(alice.String()), Body: "next"})
	if err != nil || res3.NetworkID == res.NetworkID {
		t.Fatalf("second message: %+v %v", res3, err)
	}
	// A verified-only message is refused: WhatsApp peers are not verified here.
	if _, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "c-3", Chat: protocols.ChatID(alice.String()), Body: "x",
		MinEncryption: protocols.EncE2EEVerified}); !errors.Is(err, protocols.ErrEncryptionUnavailable) {
		t.Fatalf("verified-only send = %v", err)
	}
}

// TestOutgoingProtobufs: a reply quotes its original, an edit, a reaction
// and a deletion are the protocol messages WhatsApp's own apps send.
func TestOutgoingProtobufs(t *testing.T) {
	r := newRig(t)
	r.dispatch(incoming(alice, alice, "A1", "Alice", text("question?")))
	r.message("A1")

	// Reply to Alice's message.
	if _, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "r-1", Chat: protocols.ChatID(alice.String()), Body: "answer", ReplyTo: "A1"}); err != nil {
		t.Fatal(err)
	}
	reply := r.lastSent()
	x := reply.msg.GetExtendedTextMessage()
	ci := x.GetContextInfo()
	if x.GetText() != "answer" || ci.GetStanzaID() != "A1" || ci.GetParticipant() != alice.String() || ci.GetQuotedMessage().GetConversation() != "question?" {
		t.Fatalf("reply protobuf %v", reply.msg)
	}

	// Edit our reply.
	res, err := r.c.Edit(r.c.ctx, protocols.ChatID(alice.String()), protocols.MessageID(reply.id), "e-1", "better answer")
	if err != nil {
		t.Fatal(err)
	}
	edit := r.lastSent()
	pm := edit.msg.GetEditedMessage().GetMessage().GetProtocolMessage()
	if pm.GetType() != waE2E.ProtocolMessage_MESSAGE_EDIT || pm.GetKey().GetID() != reply.id || !pm.GetKey().GetFromMe() ||
		pm.GetEditedMessage().GetConversation() != "better answer" || res.NetworkID != protocols.MessageID(edit.id) || edit.id == reply.id {
		t.Fatalf("edit protobuf %v (id %s)", edit.msg, edit.id)
	}

	// React to Alice's message, then take it back.
	if err := r.c.React(r.c.ctx, protocols.ChatID(alice.String()), "A1", "🎉", false); err != nil {
		t.Fatal(err)
	}
	re := r.lastSent().msg.GetReactionMessage()
	if re.GetText() != "🎉" || re.GetKey().GetID() != "A1" || re.GetKey().GetFromMe() || re.GetKey().GetRemoteJID() != alice.String() {
		t.Fatalf("reaction protobuf %v", re)
	}
	if err := r.c.React(r.c.ctx, protocols.ChatID(alice.String()), "A1", "🎉", true); err != nil {
		t.Fatal(err)
	}
	if re := r.lastSent().msg.GetReactionMessage(); re.GetText() != "" || re.GetKey().GetID() != "A1" {
		t.Fatalf("reaction removal protobuf %v", re)
	}

	// Delete our reply for everyone.
	if err := r.c.Retract(r.c.ctx, protocols.ChatID(alice.String()), protocols.MessageID(reply.id)); err != nil {
		t.Fatal(err)
	}
	rv := r.lastSent().msg.GetProtocolMessage()
	if rv.GetType() != waE2E.ProtocolMessage_REVOKE || rv.GetKey().GetID() != reply.id || !rv.GetKey().GetFromMe() {
		t.Fatalf("revoke protobuf %v", rv)
	}

	// A group reply names the quoted sender as participant.
	r.dispatch(incoming(group, bob, "G1", "Bob", text("in the group")))
	r.message("G1")
	if _, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "r-2", Chat: protocols.ChatID(group.String()), Group: true, Body: "ok", ReplyTo: "G1"}); err != nil {
		t.Fatal(err)
	}
	if g := r.lastSent(); g.to != group || g.msg.GetExtendedTextMessage().GetContextInfo().GetParticipant() != bob.String() {
		t.Fatalf("group reply to %v: %v", g.to, g.msg)
	}
	if _, err := r.c.FetchHistory(r.c.ctx, protocols.ChatID(alice.String()), "", 10); !errors.Is(err, protocols.ErrUnsupported) || r.c.Capabilities().History {
		t.Fatal("FetchHistory without the History capability must be ErrUnsupported")
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"+49 170 1234567":               "491701234567@s.whatsapp.net",
		"491701234567@s.whatsapp.net":   "491701234567@s.whatsapp.net",
		"491701234567:5@s.whatsapp.net": "491701234567@s.whatsapp.net",
		"120363000000000001@g.us":       "120363000000000001@g.us",
	} {
		j, err := ParseAddress(in)
		if err != nil || j.String() != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s", in, j, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "+49 abc", "12"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
}

// TestLogoutWithNoRouteIsBounded: removing an account unlinks the device;
// when WhatsApp cannot be reached (a route that swallows the connection)
// the attempt ends with the caller's deadline and says to unlink on the
// phone.
func TestLogoutWithNoRouteIsBounded(t *testing.T) {
	r := newRig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	if err := r.c.cli.SetProxyAddress("http://" + l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = r.c.Logout(ctx)
	if err == nil || !strings.Contains(err.Error(), "unlink it on the phone") {
		t.Fatalf("Logout with no route = %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("Logout took %s with a 2 s deadline", took)
	}
}
