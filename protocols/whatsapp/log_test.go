package whatsapp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestWhatsmeowDebugNeverLogged: even with POLYGLOT_LOG_LEVEL=debug,
// whatsmeow's debug lines (protocol nodes with pairing refs and keys) are
// not written; its info lines are.
func TestWhatsmeowDebugNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	l := wmLog(zerolog.New(&buf).Level(zerolog.DebugLevel), "whatsmeow")
	l.Debugf("<iq><pair-device><ref>%s</ref></pair-device></iq>", "2@secret-ref")
	l.Sub("Send").Debugf("node %s", "secret")
	l.Infof("connected")
	if out := buf.String(); strings.Contains(out, "secret") || !strings.Contains(out, "connected") {
		t.Fatalf("log: %s", out)
	}
}
