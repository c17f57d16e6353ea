"""Driver of scripts/bench-xmpp: Polyglot and profanity logging in for the
first time to the same seeded Prosody account, each started cold in tmux.

Per run and client it measures, from the moment the process is exec'd:
  frame     the first non-blank screen
  contact   a roster contact (cNNNN@localhost) on screen
  history   after the contact list settled: open the contact with the
            newest archived message; time until that message is on screen
  rss       VmRSS once the process is quiet (CPU time unchanged for 2 s)
  peak      VmHWM at that point
  cpu       utime+stime of the process at that point
and prints the medians and the ratios Polyglot/profanity.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"
HOST = "localhost"
CONTACT_RE = re.compile(r"c\d{4}@localhost")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"bench-xmpp: nothing listens on {port}")


class Prosody:
    """A loopback Prosody like internal/testserver's, plus the admin shell
    (for seeding) and an archive limit above Prosody's default 10,000."""

    def __init__(self, root):
        self.dir = os.path.join(root, "prosody")
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        self.cfg = os.path.join(self.dir, "prosody.cfg.lua")
        self.ca = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", key, "-out", self.ca], check=True, capture_output=True)
        q = lambda s: '"' + s + '"'
        # Prosody 0.12 advertises MAM on the account's disco only; profanity
        # 0.13 looks for it on the server's and otherwise never queries the
        # archive ("Server doesn't advertise urn:xmpp:mam:2"). ejabberd
        # advertises both; this module does what it does, for profanity's
        # sake (Polyglot asks the account).
        with open(os.path.join(self.dir, "mod_bench_mam_feature.lua"), "w") as f:
            f.write('module:add_feature("urn:xmpp:mam:2");\n')
        with open(self.cfg, "w") as f:
            f.write(f"""daemonize = false
plugin_paths = {{ {q(self.dir)} }}
run_as_root = true
pidfile = {q(os.path.join(self.dir, "prosody.pid"))}
data_path = {q(os.path.join(self.dir, "data"))}
admin_socket = {q(os.path.join(self.dir, "admin.sock"))}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
log = {{ info = {q(os.path.join(self.dir, "prosody.log"))} }}
modules_enabled = {{
	"roster"; "saslauth"; "tls"; "disco"; "posix"; "ping"; "carbons"; "mam";
	"smacks"; "pep"; "private"; "blocklist"; "vcard4"; "bookmarks"; "admin_shell";
	"bench_mam_feature";
}}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
archive_expires_after = "never"
storage_archive_item_limit = 1000000
ssl = {{ certificate = {q(self.ca)}; key = {q(key)}; }}
VirtualHost "localhost"
""")
        self.proc = subprocess.Popen(["prosody", "--config", self.cfg, "-F"], cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port, 10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            log = open(os.path.join(self.dir, "prosody.log")).read()
            if "Refusing to run" in log or "Failed to load" in log:
                raise SystemExit("bench-xmpp: prosody did not start cleanly:\n" + log)
            if "Activated service 'c2s'" in log:
                break
            time.sleep(0.02)

    def seed(self, n, m):
        """alice, her n contacts (mutual subscriptions) and m messages with
        each in her archive, through Prosody's user, roster and archive
        stores: the same calls mod_roster and mod_mam make. Messages are
        interleaved in time, alternately from the contact and from alice,
        the newest with contact n. Returns the newest message's body."""
        now = int(time.time())
        first = now - n * m * 10 - 600  # 10 s apart, ending 10 min ago
        lua = os.path.join(self.dir, "seed.lua")
        with open(lua, "w") as f:
            f.write(f"""
local um = require "core.usermanager"
local rm = require "core.rostermanager"
local sm = require "core.storagemanager"
local st = require "util.stanza"
local host, n, m, first = "{HOST}", {n}, {m}, {first}
assert(um.create_user("alice", "alice-pw", host))
local roster = rm.load_roster("alice", host)
for i = 1, n do
  local c = string.format("c%04d", i)
  assert(um.create_user(c, c .. "-pw", host))
  roster[c .. "@" .. host] = {{ subscription = "both", groups = {{}} }}
  local theirs = rm.load_roster(c, host)
  theirs["alice@" .. host] = {{ subscription = "both", groups = {{}} }}
  assert(rm.save_roster(c, host, theirs))
end
assert(rm.save_roster("alice", host, roster))
local archive = assert(sm.open(host, "archive", "archive"))
local k = 0
for j = 1, m do
  for i = 1, n do
    local c = string.format("c%04d@%s", i, host)
    local body = string.format("c%04d says message %d of %d", i, j, m)
    local from, to = c .. "/phone", "alice@" .. host
    if (i + j) % 2 == 0 then
      body = string.format("alice to c%04d, message %d of %d", i, j, m)
      from, to = "alice@" .. host .. "/laptop", c
    end
    local msg = st.message({{ type = "chat", from = from, to = to, id = "seed" .. k }})
      :tag("body"):text(body):up()
    assert(archive:append("alice", nil, msg, first + k * 10, c))
    k = k + 1
  end
end
return "seeded " .. k
""")
        out = subprocess.run(["prosodyctl", "--config", self.cfg, "shell", f'>dofile("{lua}")'],
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0 or f"seeded {n * m}" not in out.stdout:
            raise SystemExit(f"bench-xmpp: seeding failed: {out.stdout}{out.stderr}")
        if (n + m) % 2 == 0:
            return f"alice to c{n:04d}, message {m} of {m}", f"c{n:04d}@localhost"
        return f"c{n:04d} says message {m} of {m}", f"c{n:04d}@localhost"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Tmux:
    """One tmux server per run, the client exec'd from a shell that waits on
    a FIFO, so launch is the moment we write to it."""

    def __init__(self, root, env, argv, cols=120, rows=40):
        self.sock = os.path.join(root, "tmux.sock")
        fifo = os.path.join(root, "go")
        os.mkfifo(fifo)
        envargs = " ".join(shq(f"{k}={v}") for k, v in env.items())
        cmd = f"read x < {shq(fifo)}; exec env -i {envargs} " + " ".join(shq(a) for a in argv)
        self.tmux("new-session", "-d", "-s", "b", "-x", str(cols), "-y", str(rows), "sh -c " + shq(cmd))
        self.pid = int(self.tmux("display", "-p", "-t", "b", "#{pane_pid}").strip())
        self.fifo = fifo

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", *args],
                              check=True, capture_output=True, text=True).stdout

    def launch(self):
        with open(self.fifo, "w") as f:
            t0 = time.monotonic()
            f.write("go\n")
        return t0

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "b")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "b", *keys)

    def wait(self, t0, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            now = time.monotonic()
            if pred(s):
                return now - t0, s
            if now > deadline:
                raise TimeoutError(f"{what} not on screen after {timeout} s:\n{s}")
            time.sleep(0.005)

    def kill(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def proc_cpu(pid):
    """utime+stime of pid in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    mem = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                mem[k] = int(v.split()[0]) / 1024  # MiB
    return mem["VmRSS"], mem["VmHWM"]


def wait_quiet(pids, window=2.0, busy=0.02, timeout=120):
    """Waits until each of pids used less than busy (a share of one core)
    over the last window seconds: the first login's work is over on both
    ends (the client waits idle while Prosody reads its archive, so the
    client alone can look quiet mid-login). Not zero: an idle client may
    still wake (a ping)."""
    deadline = time.monotonic() + timeout
    samples = [(time.monotonic(), [proc_cpu(p) for p in pids])]
    while time.monotonic() < deadline:
        time.sleep(0.25)
        samples.append((time.monotonic(), [proc_cpu(p) for p in pids]))
        while samples[-1][0] - samples[0][0] > window + 0.01:
            samples.pop(0)
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        if t1 - t0 >= window - 0.01 and all(b - a <= busy * (t1 - t0) for a, b in zip(c0, c1)):
            return
    print(f"  (pids {pids} never below {busy:.0%} CPU over {window} s)", file=sys.stderr)


def wait_settled(t, seconds=1.0, timeout=60):
    """Waits until the screen stays the same for seconds."""
    deadline = time.monotonic() + timeout
    last, since = t.screen(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        s = t.screen()
        if s != last:
            last, since = s, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return


class PolyglotClient:
    name = "polyglot"

    def __init__(self, binary, srv, root, template=None):
        self.binary = binary
        self.template = template or os.path.join(root, "polyglot-template")
        os.makedirs(self.template, exist_ok=True)
        env = self.env(self.template)
        pw = os.path.join(self.template, "pw")
        with open(pw, "w") as f:
            f.write("alice-pw")
        with open(env["POLYGLOT_PASSPHRASE_FILE"], "w") as f:
            f.write("bench passphrase, not a secret\n")
        # `account add` checks the login (nothing else) before the first run.
        subprocess.run([binary, "account", "add", "xmpp", "alice@localhost", "--server",
                        f"127.0.0.1:{srv.port}", "--ca-file", srv.ca, "--password-file", pw],
                       env=env, check=True, capture_output=True, timeout=120)
        os.remove(pw)

    def env(self, home):
        return {"HOME": home, "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
                "XDG_STATE_HOME": f"{home}/state", "XDG_RUNTIME_DIR": f"{home}/run",
                "POLYGLOT_PASSPHRASE_FILE": f"{home}/passphrase", "TERM": "xterm-256color",
                "LANG": "C.UTF-8", "PATH": os.environ["PATH"],
                "DBUS_SESSION_BUS_ADDRESS": f"unix:path={home}/no-bus"}

    def prepare(self, run_dir):
        home = os.path.join(run_dir, "home")
        shutil.copytree(self.template, home)
        # The template's own paths, rewritten for this copy.
        cfg = os.path.join(home, "config", "polyglot", "config.toml")
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace(self.template, home))
        return self.env(home), [self.binary]

    @staticmethod
    def listed(screen, contact):
        # A conversation row, not the contact list of an empty inbox.
        return contact in screen and "No conversations yet" not in screen

    def open_first(self, t, contact):
        # The list is newest first: the top row is contact; open it.
        t.keys("g")
        t.keys("Enter")

    history_timeout = newest_timeout = 60

    @staticmethod
    def opened(screen, contact):
        # The composer shows only in an opened conversation (the list's
        # previews show message bodies too).
        return "Write a message" in screen


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={path}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/></policy></busconfig>
"""


class Keyring:
    """A Secret Service of its own (gnome-keyring on a private D-Bus, as
    internal/testserver's SecretService), so Polyglot can keep the password
    in an OS keyring: its unlock then runs no scrypt."""

    def __init__(self, root):
        d = os.path.join(root, "keyring")
        for sub in ("home", "data", "config", "run"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "bus.conf"), "w") as f:
            f.write(BUS_CONFIG.format(path=os.path.join(d, "bus")))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(d, "bus.conf"),
                                     "--nofork", "--print-address"], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
        self.address = self.bus.stdout.readline().strip()
        env = {"PATH": os.environ["PATH"], "DBUS_SESSION_BUS_ADDRESS": self.address,
               "HOME": f"{d}/home", "XDG_DATA_HOME": f"{d}/data", "XDG_CONFIG_HOME": f"{d}/config",
               "XDG_RUNTIME_DIR": f"{d}/run"}
        self.gk = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--components=secrets",
                                    "--unlock", f"--control-directory={d}/run/keyring"],
                                   env=env, cwd=d, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, text=True)
        self.gk.stdin.write("bench keyring, guards nothing")
        self.gk.stdin.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = subprocess.run(["secret-tool", "search", "--all", "bench", "probe"], env=env,
                                 capture_output=True, text=True)
            if out.returncode in (0, 1) and "Cannot autolaunch" not in out.stderr and \
                    "not provided" not in out.stderr:
                return
            time.sleep(0.1)

    def stop(self):
        for p in (self.gk, self.bus):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


class PolyglotKeyringClient(PolyglotClient):
    """Polyglot with `keystore = "keyring"`: the password in the OS keyring
    (as profanity keeps it in its accounts file), no secrets file to unlock."""
    name = "polyglot+keyring"

    def __init__(self, binary, srv, root, keyring):
        self.bus = keyring.address
        home = os.path.join(root, "polyglot-keyring-template")
        os.makedirs(f"{home}/config/polyglot")
        with open(f"{home}/config/polyglot/config.toml", "w") as f:
            f.write('keystore = "keyring"\n')
        super().__init__(binary, srv, root, template=home)

    def env(self, home):
        e = PolyglotClient.env(self, home)
        e["DBUS_SESSION_BUS_ADDRESS"] = self.bus
        return e


class ProfanityClient:
    name = "profanity"

    def __init__(self, srv):
        self.srv = srv

    def prepare(self, run_dir):
        home = os.path.join(run_dir, "home")
        os.makedirs(f"{home}/data/profanity")
        os.makedirs(f"{home}/config/profanity")
        with open(f"{home}/data/profanity/accounts", "w") as f:
            f.write(f"""[alice@localhost]
enabled=true
jid=alice@localhost
server=127.0.0.1
port={self.srv.port}
resource=bench
password=alice-pw
tls.policy=trust
""")
        # MAM on, so an opened chat shows the archived history (off by
        # default in 0.13).
        with open(f"{home}/config/profanity/profrc", "w") as f:
            f.write("[connection]\nmam=true\n")  # what `/mam on` + `/save` write
        env = {"HOME": home, "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "TERM": "xterm-256color", "LANG": "C.UTF-8", "PATH": os.environ["PATH"]}
        return env, ["profanity", "-a", "alice@localhost"]

    @staticmethod
    def listed(screen, contact):
        return True  # opened by command, whatever the screen lists

    def open_first(self, t, contact):
        t.keys("-l", f"/msg {contact}")
        t.keys("Enter")

    # profanity 0.13 pages the archive from its oldest end (20 messages,
    # more on scrolling), so the newest may never come: give up sooner.
    newest_timeout = 15
    history_timeout = 30

    @staticmethod
    def opened(screen, contact):
        return screen.startswith(" " + contact + " [")


def one_run(client, root, i, contact, body, keep, server_pid):
    run_dir = os.path.join(root, f"{client.name}-{i}")
    os.makedirs(run_dir)
    env, argv = client.prepare(run_dir)
    t = Tmux(run_dir, env, argv)
    try:
        t0 = t.launch()
        frame, _ = t.wait(t0, lambda s: s.strip() != "", 30, "first frame")
        seen, _ = t.wait(t0, lambda s: CONTACT_RE.search(s) is not None, 120, "a contact")
        # Before opening: the first login's work is done (screen still) and
        # the conversation to open is listed (Polyglot lists the contacts
        # from its store before it has connected: still is not enough).
        t.wait(t0, lambda s: client.listed(s, contact), 120, f"the conversation with {contact}")
        wait_settled(t, 1.0)
        t1 = time.monotonic()
        client.open_first(t, contact)
        local = contact.split("@")[0]
        archived = re.compile(rf"({local} says|alice to {local},) message \d+ of ")
        first = newest = None
        try:
            first, screen = t.wait(t1, lambda s: client.opened(s, contact) and archived.search(s),
                                   client.history_timeout, f"an archived message with {contact}")
            newest, screen = t.wait(t1, lambda s: client.opened(s, contact) and body in s,
                                    client.newest_timeout, repr(body))
        except TimeoutError:
            screen = t.screen()
        wait_quiet([t.pid, server_pid])
        rss, peak = proc_mem(t.pid)
        cpu = proc_cpu(t.pid)
        if keep:
            print(f"--- {client.name} run {i} screen after opening {contact}:\n{screen}")
        return {"frame": frame * 1000, "contact": seen * 1000, "history": first * 1000 if first is not None else None,
                "newest": newest * 1000 if newest is not None else None,
                "rss": rss, "peak": peak, "cpu": cpu * 1000}
    finally:
        t.kill()


ROWS = [("frame", "launch → first frame", "ms"),
        ("contact", "launch → first contact visible", "ms"),
        ("history", "open that contact → an archived message", "ms"),
        ("newest", "open that contact → its newest message", "ms"),
        ("rss", "RSS settled (VmRSS)", "MiB"),
        ("peak", "RSS peak (VmHWM)", "MiB"),
        ("cpu", "CPU time (utime+stime)", "ms")]


def idle_cpu(clients, root, contact, seconds, server_pid):
    """CPU per second of each client over seconds with nothing happening:
    after its first login is over (under 2% of a core for 2 s) and 5 s more."""
    for c in clients:
        run_dir = os.path.join(root, f"idle-{c.name}")
        os.makedirs(run_dir)
        env, argv = c.prepare(run_dir)
        t = Tmux(run_dir, env, argv)
        try:
            t0 = t.launch()
            t.wait(t0, lambda s: CONTACT_RE.search(s) is not None, 120, "a contact")
            wait_quiet([t.pid, server_pid])
            time.sleep(5)
            c0 = proc_cpu(t.pid)
            time.sleep(seconds)
            used = proc_cpu(t.pid) - c0
        finally:
            t.kill()
        print(f"  idle {c.name}: {used * 1000 / seconds:.2f} ms CPU per s over {seconds} s "
              f"(resolution {1000 / CLK_TCK / seconds:.2f})", flush=True)


def frame_on_store(binary, store, runs):
    """The real binary's first frame on a big store (scripts/bench's 1M
    one): one XMPP account whose server is down, so the inbox (not the
    demo) opens; launch → first non-blank screen, → the list's rows, and
    the peak RSS 3 s later. The store is copied once; runs after the first
    find it in the page cache."""
    root = tempfile.mkdtemp(prefix="bench-frame-")
    try:
        home = os.path.join(root, "home")
        os.makedirs(f"{home}/config/polyglot")
        os.makedirs(f"{home}/data/polyglot")
        with open(f"{home}/config/polyglot/config.toml", "w") as f:
            f.write(f'[[account]]\n  network = "xmpp"\n  address = "alice@localhost"\n'
                    f'  server = "127.0.0.1:{free_port()}"\n')
        with open(f"{home}/passphrase", "w") as f:
            f.write("bench passphrase, not a secret\n")
        shutil.copyfile(store, f"{home}/data/polyglot/polyglot.db")
        env = PolyglotClient.env(None, home)
        rows = {"frame": [], "list": [], "peak": [], "rss": []}
        for i in range(runs):
            run_dir = os.path.join(root, f"run-{i}")
            os.makedirs(run_dir)
            t = Tmux(run_dir, env, [binary])
            try:
                t0 = t.launch()
                frame, _ = t.wait(t0, lambda s: s.strip() != "", 60, "first frame")
                # A list row: a line under the header that starts with the
                # cursor mark or two spaces and a name.
                lst, screen = t.wait(t0, lambda s: re.search(r"\n(▌ |  )\S", s) is not None, 60, "the list")
                time.sleep(3)
                rss, peak = proc_mem(t.pid)
            finally:
                t.kill()
            print(f"  run {i + 1}: frame={frame * 1000:.0f} ms list={lst * 1000:.0f} ms "
                  f"rss={rss:.1f} MiB peak={peak:.1f} MiB", flush=True)
            if i == 0:
                print(screen)
            rows["frame"].append(frame * 1000)
            rows["list"].append(lst * 1000)
            rows["peak"].append(peak)
            rows["rss"].append(rss)
        print(f"medians of {runs}: launch → first frame {median(rows['frame']):.0f} ms, "
              f"→ list {median(rows['list']):.0f} ms, RSS 3 s later {median(rows['rss']):.1f} MiB, "
              f"peak {median(rows['peak']):.1f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def median(values):
    """The median, None (never) counted as the largest; None if that is
    where the median falls."""
    vals = sorted(values, key=lambda v: (v is None, v or 0))
    mid = vals[len(vals) // 2]
    if len(vals) % 2 == 0 and mid is not None and vals[len(vals) // 2 - 1] is not None:
        return (mid + vals[len(vals) // 2 - 1]) / 2
    return mid if len(vals) % 2 else (None if mid is None else mid)


def fmt(v):
    return "never" if v is None else f"{v:.1f}"


def main():
    # SIGTERM (and SIGINT, which a background job ignores) end the run
    # through the finally blocks: tmux and Prosody are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser()
    ap.add_argument("--polyglot", required=True)
    ap.add_argument("--sizes", default="200x50 1000x20")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--show", action="store_true", help="print the screen after opening")
    ap.add_argument("--only", choices=["polyglot", "profanity"])
    ap.add_argument("--keyring", action="store_true",
                    help="also Polyglot with its password in an OS keyring (gnome-keyring)")
    ap.add_argument("--store", help="instead: the first frame of the real binary on this store")
    ap.add_argument("--idle", type=int, metavar="SECONDS",
                    help="instead: CPU per second of each client, idle after its first login")
    args = ap.parse_args()
    if args.store:
        frame_on_store(args.polyglot, args.store, args.runs)
        return
    for size in args.sizes.split():
        n, m = map(int, size.split("x"))
        root = tempfile.mkdtemp(prefix="bench-xmpp-")
        srv = Prosody(root)
        keyring = None
        try:
            t = time.monotonic()
            body, contact = srv.seed(n, m)
            print(f"\n== N={n} contacts, M={m} messages each ({n * m} archived), "
                  f"seeded in {time.monotonic() - t:.1f} s; newest: {contact} {body!r}")
            clients = []
            if args.only != "profanity":
                clients.append(PolyglotClient(args.polyglot, srv, root))
                if args.keyring:
                    keyring = Keyring(root)
                    clients.append(PolyglotKeyringClient(args.polyglot, srv, root, keyring))
            if args.only != "polyglot":
                clients.append(ProfanityClient(srv))
            if args.idle:
                idle_cpu(clients, root, contact, args.idle, srv.proc.pid)
                continue
            results = {c.name: [] for c in clients}
            # Alternate the clients run by run, so load drifts hit both.
            for i in range(args.runs):
                for c in clients:
                    r = one_run(c, root, i, contact, body, args.show and i == 0, srv.proc.pid)
                    results[c.name].append(r)
                    print(f"  {c.name:16} run {i + 1}: " + " ".join(f"{k}={fmt(r[k])}" for k, _, _ in ROWS),
                          flush=True)
            print(f"\nmedians of {args.runs} runs, N={n}, M={m} (never: not on screen within "
                  f"{ProfanityClient.history_timeout} s, newest {ProfanityClient.newest_timeout} s)")
            names = [c.name for c in clients]
            ours = [x for x in names if x != "profanity"] if "profanity" in names else []
            print(f"{'':48}" + "".join(f"{x:>17}" for x in names) +
                  "".join(f"  {'ratio ' + x + '/p':>24}" for x in ours))
            for key, label, unit in ROWS:
                meds = {x: median([r[key] for r in results[x]]) for x in names}
                line = f"{label + ' (' + unit + ')':48}" + "".join(f"{fmt(meds[x]):>17}" for x in names)
                for x in ours:
                    p_, q_ = meds[x], meds["profanity"]
                    line += f"  {(f'{p_ / q_:.2f}' if None not in (p_, q_) and q_ > 0 else '-'):>24}"
                print(line)
        finally:
            if keyring:
                keyring.stop()
            srv.stop()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
