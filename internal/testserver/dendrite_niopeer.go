package testserver

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// NioPeer drives peers/nio_peer.py: a Matrix client with E2EE written by
// nobody here (matrix-nio + libolm), for interop tests. Do, MustDo,
// WaitEvent, Events, Count and Stop come from linePeer.
type NioPeer struct {
	linePeer
	UserID   string
	DeviceID string
	// Ed25519 is the device's signing key (unpadded base64), the one other
	// clients show as its fingerprint.
	Ed25519 string
}

// StartNioPeer logs user in on d with a fresh nio store and waits until its
// device keys are uploaded. It is stopped when the test ends.
func StartNioPeer(t testing.TB, d *Dendrite, userID, pass string) *NioPeer {
	t.Helper()
	return StartNioPeerDevice(t, d, userID, pass, "")
}

// StartNioPeerDevice is StartNioPeer logging in as deviceID (a new device if
// empty). The store is always fresh, so an existing device ID gets new
// identity keys: a contact's device whose key changed.
func StartNioPeerDevice(t testing.TB, d *Dendrite, userID, pass, deviceID string) *NioPeer {
	t.Helper()
	return startNioPeer(t, d.URL(), userID, pass, deviceID)
}

// StartNioPeerVia is StartNioPeer talking to the homeserver at url (a
// SyncProxy in front of a Dendrite), so a test can reorder what it sees.
func StartNioPeerVia(t testing.TB, url, userID, pass string) *NioPeer {
	t.Helper()
	return startNioPeer(t, url, userID, pass, "")
}

func startNioPeer(t testing.TB, url, userID, pass, deviceID string) *NioPeer {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import nio, olm").CombinedOutput(); err != nil {
		t.Fatalf("testserver: matrix-nio with olm not importable by %s (run scripts/test-deps.sh): %v\n%s", py, err, out)
	}
	script := filepath.Join(dendriteRepoRoot(), "internal", "testserver", "peers", "nio_peer.py")
	args := []string{script, url, userID, pass, t.TempDir()}
	if deviceID != "" {
		args = append(args, deviceID)
	}
	p := &NioPeer{UserID: userID}
	ready := p.start(t, "nio peer", userID, exec.Command(py, args...))
	p.DeviceID, _ = ready["device_id"].(string)
	p.Ed25519, _ = ready["ed25519"].(string)
	return p
}
