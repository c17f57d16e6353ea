package inbox

import (
	"context"
	"testing"
)

// Unblocking brings the blocked conversation back to Requests, undecided:
// it is listed in Blocked until then, and later messages arrive again.
// Unignoring takes the "ignored" mark off a request.
func TestUnblockRestoresTheConversation(t *testing.T) {
	ctx := context.Background()
	w := newConsentWorld(t)
	eve := stranger(2)
	w.from(t, eve, "hello, it's eve")
	r := w.request(t, eve)
	if r.Person == 0 {
		t.Fatal("a request names no person")
	}
	if err := w.in.Decide(ctx, r.Conversation, Block); err != nil {
		t.Fatal(err)
	}
	bl, err := w.in.Blocked()
	if err != nil || len(bl) != 1 || bl[0].From.ID != eve.ID || bl[0].Conversation != r.Conversation || bl[0].Person != r.Person {
		t.Fatalf("Blocked() = %+v, %v", bl, err)
	}
	w.reopen(t)
	name, n, err := w.in.UnblockAddress("whatsapp:" + eve.ID)
	if err != nil || n != 1 {
		t.Fatalf("UnblockAddress = %q, %d, %v", name, n, err)
	}
	if got := w.request(t, eve); got.Consent != ConsentUnknown || got.Conversation != r.Conversation || got.Count != 1 {
		t.Fatalf("after unblocking, the request is %+v", got)
	}
	if bl, _ := w.in.Blocked(); len(bl) != 0 {
		t.Fatalf("still listed as blocked: %+v", bl)
	}
	w.from(t, eve, "are you there?")
	if got := w.request(t, eve); got.Count != 2 {
		t.Fatalf("a message after unblocking was dropped: %+v", got)
	}
	if n, err := w.in.Unblock(r.Person); err != nil || n != 0 {
		t.Fatalf("a second unblock changed %d, %v", n, err)
	}
	if _, _, err := w.in.UnblockAddress("nobody@example.org"); err == nil {
		t.Fatal("unblocking an unknown address succeeded")
	}

	// Ignore, then unignore.
	if err := w.in.Decide(ctx, r.Conversation, Ignore); err != nil {
		t.Fatal(err)
	}
	if n, err := w.in.Unblock(r.Person); err != nil || n != 1 {
		t.Fatalf("unignore changed %d, %v", n, err)
	}
	if got := w.request(t, eve); got.Consent != ConsentUnknown {
		t.Fatalf("after unignoring, the request is %+v", got)
	}
}

// A person the user accepted on one network and blocked as a whole comes
// back to the inbox, not to Requests.
func TestUnblockAcceptedPersonReturnsToInbox(t *testing.T) {
	ctx := context.Background()
	w := newConsentWorld(t)
	w.from(t, carol, "hi, it's carol")
	conv, err := w.in.FindConversation(carol.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.in.Decide(ctx, conv, Block); err != nil {
		t.Fatal(err)
	}
	if w.listed(t, conv) {
		t.Fatal("blocked conversation listed")
	}
	if _, _, err := w.in.UnblockAddress(carol.ID); err != nil {
		t.Fatal(err)
	}
	if !w.listed(t, conv) || w.hasRequest(t, carol) {
		t.Fatal("carol (a contact) did not come back to the inbox")
	}
}
