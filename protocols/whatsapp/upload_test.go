package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"polyglot/protocols"
)

// upRig records what would be uploaded and answers as WhatsApp's media
// server does: the material whatsmeow computes (a random media key, the
// SHA-256 of plaintext and ciphertext) and where the file lies.
type upRig struct {
	got   []byte
	mt    whatsmeow.MediaType
	calls int
	resp  whatsmeow.UploadResponse
}

func (u *upRig) hook(_ context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	u.calls++
	u.got, u.mt = append([]byte(nil), data...), mt
	sum := sha256.Sum256(data)
	enc := sha256.Sum256(append([]byte("ciphertext:"), data...))
	u.resp = whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net/v/t62/abc", DirectPath: "/v/t62/abc?ccb=11",
		MediaKey: bytes.Repeat([]byte{7}, 32), FileSHA256: sum[:], FileEncSHA256: enc[:], FileLength: uint64(len(data))}
	return u.resp, nil
}

func waFile(t *testing.T, name, mime string, b []byte) protocols.OutgoingFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return protocols.OutgoingFile{Path: p, Name: name, MIME: mime, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
}

// TestFileUploadBuildsMediaMessages: a file is uploaded with the media
// type of its kind and sent as the matching protobuf — image (with its
// dimensions), video, audio (caption as a text after it) or document
// (with its file name) — carrying mimetype, file length, SHA-256, enc
// SHA-256, media key, URL and direct path; the result's attachment holds
// what a download needs; the message ID stays the same on a retry.
func TestFileUploadBuildsMediaMessages(t *testing.T) {
	r := newRig(t)
	u := &upRig{}
	r.c.uploadHook = u.hook
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewRGBA(image.Rect(0, 0, 33, 21))); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, mime string
		data       []byte
		mt         whatsmeow.MediaType
		caption    string
	}{
		{"photo.png", "image/png", pic.Bytes(), whatsmeow.MediaImage, "a photo"},
		{"clip.mp4", "video/mp4", []byte("\x00\x00\x00\x18ftypmp42 video"), whatsmeow.MediaVideo, "a clip"},
		{"voice.ogg", "audio/ogg", []byte("OggS voice"), whatsmeow.MediaAudio, "listen"},
		{"report.pdf", "application/pdf", []byte("%PDF-1.4 report"), whatsmeow.MediaDocument, ""},
		{"drawing.svg", "image/svg+xml", []byte("<svg/>"), whatsmeow.MediaDocument, "svg goes as a document"},
	}
	for i, tc := range cases {
		f := waFile(t, tc.name, tc.mime, tc.data)
		before := len(r.sentMsgs())
		res, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: protocols.ClientID("f-" + tc.name), To: r.c.address(alice),
			Body: tc.caption, File: &f, MinEncryption: protocols.EncE2EE})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if u.mt != tc.mt || !bytes.Equal(u.got, tc.data) || u.calls != i+1 {
			t.Fatalf("%s: uploaded %q as %v", tc.name, u.got, u.mt)
		}
		sent := r.sentMsgs()[before:]
		s := sent[0]
		if protocols.MessageID(s.id) != res.NetworkID || res.Encryption != protocols.EncE2EE {
			t.Fatalf("%s: id %s result %+v", tc.name, s.id, res)
		}
		up := u.resp
		var got, want proto.Message
		switch tc.mt {
		case whatsmeow.MediaImage:
			im := s.msg.GetImageMessage()
			got = im
			want = &waE2E.ImageMessage{URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, Mimetype: proto.String(tc.mime),
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(uint64(len(tc.data))),
				Caption: proto.String(tc.caption), Width: proto.Uint32(33), Height: proto.Uint32(21), MediaKeyTimestamp: im.MediaKeyTimestamp}
		case whatsmeow.MediaVideo:
			vm := s.msg.GetVideoMessage()
			got = vm
			want = &waE2E.VideoMessage{URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, Mimetype: proto.String(tc.mime),
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(uint64(len(tc.data))),
				Caption: proto.String(tc.caption), MediaKeyTimestamp: vm.MediaKeyTimestamp}
		case whatsmeow.MediaAudio:
			am := s.msg.GetAudioMessage()
			got = am
			want = &waE2E.AudioMessage{URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, Mimetype: proto.String(tc.mime),
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(uint64(len(tc.data))),
				MediaKeyTimestamp: am.MediaKeyTimestamp}
			if len(sent) != 2 || sent[1].msg.GetConversation() != tc.caption || sent[1].id == s.id {
				t.Fatalf("audio caption: %+v", sent)
			}
		default:
			dm := s.msg.GetDocumentMessage()
			got = dm
			var capt *string
			if tc.caption != "" {
				capt = proto.String(tc.caption)
			}
			want = &waE2E.DocumentMessage{URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, Mimetype: proto.String(tc.mime),
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(uint64(len(tc.data))),
				FileName: proto.String(tc.name), Title: proto.String(tc.name), Caption: capt, MediaKeyTimestamp: dm.MediaKeyTimestamp}
		}
		if got == nil || !proto.Equal(got, want) || got.(interface{ GetMediaKeyTimestamp() int64 }).GetMediaKeyTimestamp() == 0 {
			t.Fatalf("%s: protobuf\n got %v\nwant %v", tc.name, got, want)
		}
		// What the sender keeps is what a download needs.
		if len(res.Attachments) != 1 {
			t.Fatalf("%s: attachments %+v", tc.name, res.Attachments)
		}
		a := res.Attachments[0]
		ref, err := decodeRef(a.Key)
		if err != nil || a.URL != up.DirectPath || a.Size != int64(len(tc.data)) || a.MIME != tc.mime ||
			!bytes.Equal(ref.MediaKey, up.MediaKey) || !bytes.Equal(ref.SHA256, up.FileSHA256) || !bytes.Equal(ref.EncSHA256, up.FileEncSHA256) ||
			mediaTypes[ref.Kind] != tc.mt {
			t.Fatalf("%s: attachment %+v ref %+v %v", tc.name, a, ref, err)
		}
	}

	// A retry (the server did not answer) sends the same message ID.
	f := waFile(t, "again.pdf", "application/pdf", []byte("%PDF again"))
	out := protocols.OutgoingMessage{ClientID: "f-again", To: r.c.address(alice), File: &f}
	r.setFail(errors.New("connection reset"))
	if _, err := r.c.Send(r.c.ctx, out); err == nil {
		t.Fatal("send with a failing socket succeeded")
	}
	r.setFail(nil)
	res, err := r.c.Send(r.c.ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	first := res.NetworkID
	if res2, _ := r.c.Send(r.c.ctx, out); res2.NetworkID != first {
		t.Fatalf("retry id %s, first %s", res2.NetworkID, first)
	}

	// Over the limit: refused before an upload. A changed file: not sent.
	calls := u.calls
	big := protocols.OutgoingFile{Path: f.Path, Name: "big.iso", MIME: "application/octet-stream", Size: maxUpload + 1, SHA256: f.SHA256}
	_, err = r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "f-big", To: r.c.address(alice), File: &big})
	var tl *protocols.TooLargeError
	if !errors.As(err, &tl) || u.calls != calls {
		t.Fatalf("big: %v, %d uploads", err, u.calls-calls)
	}
	os.WriteFile(f.Path, []byte("%PDF changed"), 0o600)
	if _, err := r.c.Send(r.c.ctx, protocols.OutgoingMessage{ClientID: "f-changed", To: r.c.address(alice), File: &f}); !errors.Is(err, protocols.ErrFileChanged) || u.calls != calls {
		t.Fatalf("changed: %v", err)
	}
}

func (r *rig) sentMsgs() []sentMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentMsg(nil), r.sent...)
}
