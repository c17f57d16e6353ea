package whatsapp

import (
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types/events"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// TestMediaRetryAnswer: an attachment remembers the message it came in
// (a media-retry receipt names it), and the phone's answer — encrypted
// under the media key as WhatsApp does — gives the new download path; a
// phone that no longer has the file says so.
func TestMediaRetryAnswer(t *testing.T) {
	r := newRig(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	r.dispatch(incoming(group, bob, "DOC1", "Bob", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		FileName: proto.String("../../etc/passwd\u202etxt.exe"), Mimetype: proto.String("application/pdf"),
		DirectPath: proto.String("/v/old"), MediaKey: key, FileLength: proto.Uint64(10)}}))
	a := r.message("DOC1").Attachments[0]
	if a.Name != "../../etc/passwd\u202etxt.exe" {
		t.Fatalf("the peer's file name must reach the store unchanged (it is made safe on download): %q", a.Name)
	}
	ref, err := decodeRef(a.Key)
	if err != nil || ref.ID != "DOC1" || ref.Chat != group.String() || ref.Sender != bob.String() || ref.FromMe || ref.Kind != mediaDocument {
		t.Fatalf("attachment ref %+v, %v", ref, err)
	}

	answer, done := r.c.awaitMediaRetry("DOC1")
	defer done()
	plain, _ := proto.Marshal(&waMmsRetry.MediaRetryNotification{StanzaID: proto.String("DOC1"), DirectPath: proto.String("/v/new"),
		Result: waMmsRetry.MediaRetryNotification_SUCCESS.Enum()})
	iv := []byte("0123456789ab")
	ct, err := gcmutil.Encrypt(hkdfutil.SHA256(key, nil, []byte("WhatsApp Media Retry Notification"), 32), iv, plain, []byte("DOC1"))
	if err != nil {
		t.Fatal(err)
	}
	r.dispatch(&events.MediaRetry{MessageID: "DOC1", ChatID: group, SenderID: bob, Ciphertext: ct, IV: iv})
	select {
	case e := <-answer:
		if path, err := retriedPath(e, key); err != nil || path != "/v/new" {
			t.Fatalf("retried path %q, %v", path, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the media-retry answer never reached the waiting download")
	}
	_, err = retriedPath(&events.MediaRetry{MessageID: "DOC1", Error: &events.MediaRetryError{Code: 2}}, key)
	if !errors.Is(err, whatsmeow.ErrMediaNotAvailableOnPhone) {
		t.Fatalf("phone without the file: %v", err)
	}
}
