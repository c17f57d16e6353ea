package testserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// JSPeer drives peers/jssdk/peer.mjs: a Matrix client on matrix-js-sdk with
// its Rust crypto (matrix-sdk-crypto-wasm), with cross-signing set up, for
// E2EE and SAS-verification interop tests. Its commands and events are the
// same line-JSON style as NioPeer's (Do, MustDo, WaitEvent… from linePeer).
type JSPeer struct {
	linePeer
	UserID   string
	DeviceID string
}

var jssdkInstall struct {
	once    sync.Once
	modules string
	err     error
}

// JSSDKModules returns the node_modules dir holding the peer's exact package
// versions, installing them with scripts/install-jssdk.sh the first time
// (seconds, once per lockfile).
func JSSDKModules(t testing.TB) string {
	t.Helper()
	jssdkInstall.once.Do(func() {
		script := filepath.Join(dendriteRepoRoot(), "scripts", "install-jssdk.sh")
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			jssdkInstall.err = fmt.Errorf("%s failed: %v\n%s", script, err, dendriteLastLines(stderr.String(), 30))
			return
		}
		jssdkInstall.modules = strings.TrimSpace(string(out))
	})
	if jssdkInstall.err != nil {
		t.Fatalf("testserver: installing the matrix-js-sdk peer (run scripts/test-deps.sh): %v", jssdkInstall.err)
	}
	return jssdkInstall.modules
}

// StartJSPeer logs user in on d with a fresh in-memory crypto store,
// bootstraps cross-signing and waits until the device is ready. It is
// stopped when the test ends. A missing Node or package fails the test.
func StartJSPeer(t testing.TB, d *Dendrite, userID, pass string) *JSPeer {
	t.Helper()
	node := NeedBinary(t, "node")
	modules := JSSDKModules(t)
	script := filepath.Join(dendriteRepoRoot(), "internal", "testserver", "peers", "jssdk", "peer.mjs")
	cmd := exec.Command(node, script, d.URL(), userID, pass)
	cmd.Env = append(os.Environ(), "POLYGLOT_JSSDK_MODULES="+modules)
	p := &JSPeer{UserID: userID}
	ready := p.start(t, "js-sdk peer", userID, cmd)
	if ready["cross_signing"] != true {
		t.Fatalf("testserver: js-sdk peer %s has no cross-signing: %v\n%s", userID, ready, dendriteLastLines(p.Stderr(), 30))
	}
	p.DeviceID, _ = ready["device_id"].(string)
	return p
}
