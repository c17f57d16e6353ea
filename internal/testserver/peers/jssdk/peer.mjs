// A foreign Matrix client for Polyglot's interop tests, on matrix-js-sdk with
// its Rust crypto (matrix-sdk-crypto-wasm): E2EE, cross-signing and SAS
// verification that nobody here wrote.
//
//     node peer.mjs HOMESERVER USER_ID PASSWORD
//
// POLYGLOT_JSSDK_MODULES names the node_modules directory that `npm ci` filled
// (scripts/install-jssdk.sh prints it); without it ./node_modules next to this
// file is used.
//
// Line protocol like nio_peer.py: one JSON command per line on stdin, one JSON
// event per line on stdout. Every command may carry "id"; its answer is
// {"ev":"ok","id":..., ...} or {"ev":"error","id":...,"error":...}.
//
// Events: ready{user_id,device_id,cross_signing}, message{room,event_id,sender,
// body,formatted,msgtype,relates_to,encrypted}, undecryptable{room,event_id,
// sender}, invite{room,sender}, verify_request{txn,user,device,initiated_by_me},
// verify_phase{txn,phase}, sas{txn,emoji:[[emoji,name]...],decimals},
// verify_done{txn,user}, verify_cancel{txn,code,by}.
//
// Commands (field "op"):
//     create_dm   invite, encrypted? (default true)  -> room
//     join        room
//     send        room, body                       -> event_id
//     devices     user                             -> devices [ids]
//     verify_user user, device? (default: the user's only device) -> txn
//                 to-device request; SAS is started once the other side is ready
//     verify_dm   user, room -> txn (the request's event ID)
//                 in-room request in a DM, as Element's "Verify user" sends it
//     accept      txn   (answers an incoming request with ready)
//     confirm     txn   (the emoji match: sends our MAC)
//     mismatch    txn   (the emoji differ: cancels)
//     trust       user  -> verified (is the user cross-signing verified for us)
//     quit
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

// The SDK and the Rust crypto log through console: keep stdout for protocol
// lines only.
const toStderr = (...a) => process.stderr.write(a.map(String).join(" ") + "\n");
for (const k of ["log", "info", "debug", "warn", "error", "trace"]) console[k] = toStderr;

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.POLYGLOT_JSSDK_MODULES || path.join(here, "node_modules");
const lib = (file) => import(pathToFileURL(path.join(modules, "matrix-js-sdk", "lib", file)).href);
const sdk = await lib("index.js");
const { logger } = await lib("logger.js");
// Info on stderr: the harness shows its tail when a test fails.
logger.setLevel(process.env.POLYGLOT_JSSDK_DEBUG ? "debug" : "info");
const { ClientEvent, RoomEvent, RoomMemberEvent, MatrixEventEvent } = sdk;
const { CryptoEvent, VerificationPhase, VerificationRequestEvent, VerifierEvent } = await lib("crypto-api/index.js");

const phaseName = (p) => ({ 1: "unsent", 2: "requested", 3: "ready", 4: "started", 5: "cancelled", 6: "done" })[p] ?? String(p);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Peer {
  constructor(hs, user, password) {
    this.hs = hs;
    this.user = user;
    this.password = password;
    this.seen = new Set(); // event IDs already reported as message
    this.requests = new Map(); // txn -> VerificationRequest
    this.sas = new Map(); // txn -> ShowSasCallbacks
  }

  async start() {
    const login = await sdk.createClient({ baseUrl: this.hs }).loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: this.user },
      password: this.password,
      initial_device_display_name: "js-sdk-peer",
    });
    this.c = sdk.createClient({
      baseUrl: this.hs,
      userId: login.user_id,
      deviceId: login.device_id,
      accessToken: login.access_token,
      verificationMethods: ["m.sas.v1"],
    });
    await this.c.initRustCrypto({ useIndexedDB: false });
    this.crypto = this.c.getCrypto();
    this.wire();
    const prepared = new Promise((resolve, reject) => {
      const onSync = (state, _prev, data) => {
        if (state === "PREPARED" || state === "SYNCING") {
          this.c.off(ClientEvent.Sync, onSync);
          resolve();
        } else if (state === "ERROR") {
          this.c.off(ClientEvent.Sync, onSync);
          reject(data?.error ?? new Error("sync failed"));
        }
      };
      this.c.on(ClientEvent.Sync, onSync);
    });
    // Short long-polls, as nio_peer.py uses: a sync that Dendrite fails to
    // wake for a new to-device event then costs 5 s, not 30.
    await this.c.startClient({ initialSyncLimit: 20, lazyLoadMembers: false, pollTimeout: 5000 });
    await prepared;
    // A user verification signs the other user's master key: both sides
    // need cross-signing, as every current Element client has it.
    await this.crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: (makeRequest) => this.withPassword(makeRequest),
    });
    emit({
      ev: "ready",
      user_id: login.user_id,
      device_id: login.device_id,
      cross_signing: await this.crypto.isCrossSigningReady(),
    });
  }

  // withPassword answers the server's user-interactive auth with our password.
  async withPassword(makeRequest) {
    try {
      return await makeRequest(null);
    } catch (e) {
      const session = e?.data?.session;
      if (!session) throw e;
      return await makeRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: this.user },
        password: this.password,
        session,
      });
    }
  }

  wire() {
    const c = this.c;
    c.on(RoomEvent.Timeline, (ev, room, toStart) => {
      if (!toStart) this.onTimeline(ev, room);
    });
    c.on(MatrixEventEvent.Decrypted, (ev) => this.onTimeline(ev, c.getRoom(ev.getRoomId())));
    c.on(RoomMemberEvent.Membership, (ev, member) => {
      if (member.userId === c.getUserId() && member.membership === "invite") {
        emit({ ev: "invite", room: member.roomId, sender: ev.getSender() });
      }
    });
    c.on(CryptoEvent.VerificationRequestReceived, (req) => this.track(req));
  }

  onTimeline(ev, room) {
    const id = ev.getId();
    // A local echo of our own send has a temporary ID and a status; the
    // server's copy follows with the real event ID.
    if (!id || id.startsWith("~") || ev.status || this.seen.has(id)) return;
    if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) return; // Decrypted follows
    if (ev.isDecryptionFailure()) {
      emit({ ev: "undecryptable", room: ev.getRoomId() ?? room?.roomId, event_id: id, sender: ev.getSender() });
      return; // a late key re-decrypts it: MatrixEventEvent.Decrypted
    }
    if (ev.getType() !== "m.room.message") return;
    this.seen.add(id);
    const content = ev.getContent();
    emit({
      ev: "message",
      room: ev.getRoomId(),
      event_id: id,
      sender: ev.getSender(),
      body: content.body ?? null,
      formatted: content.formatted_body ?? null,
      msgtype: content.msgtype ?? null,
      relates_to: content["m.relates_to"] ?? null,
      encrypted: ev.isEncrypted(),
    });
  }

  // track follows one verification request through its phases and drives
  // the SAS part: the side that asked starts SAS once the other is ready;
  // either side shows the emoji as soon as a verifier exists.
  track(req) {
    const txn = req.transactionId;
    if (!txn || this.requests.has(txn)) return;
    this.requests.set(txn, req);
    emit({
      ev: "verify_request",
      txn,
      user: req.otherUserId,
      device: req.otherDeviceId ?? null,
      initiated_by_me: req.initiatedByMe,
    });
    let last = -1;
    let verifying = false;
    const onChange = async () => {
      const phase = req.phase;
      if (phase !== last) {
        last = phase;
        emit({ ev: "verify_phase", txn, phase: phaseName(phase) });
      }
      if (phase === VerificationPhase.Ready && req.initiatedByMe && !req.verifier && !verifying) {
        verifying = true;
        try {
          this.runVerifier(txn, await req.startVerification("m.sas.v1"));
        } catch (e) {
          toStderr("startVerification:", e?.stack ?? e);
        }
      } else if (req.verifier && !verifying) {
        verifying = true;
        this.runVerifier(txn, req.verifier);
      }
      if (phase === VerificationPhase.Done) {
        req.off(VerificationRequestEvent.Change, onChange);
        emit({ ev: "verify_done", txn, user: req.otherUserId });
      } else if (phase === VerificationPhase.Cancelled) {
        req.off(VerificationRequestEvent.Change, onChange);
        emit({ ev: "verify_cancel", txn, code: req.cancellationCode, by: req.cancellingUserId ?? null });
      }
    };
    req.on(VerificationRequestEvent.Change, onChange);
    onChange();
  }

  runVerifier(txn, verifier) {
    verifier.on(VerifierEvent.ShowSas, (cb) => {
      this.sas.set(txn, cb);
      emit({ ev: "sas", txn, emoji: cb.sas.emoji ?? [], decimals: cb.sas.decimal ?? [] });
    });
    // verify() settles when the whole exchange has ended; the outcome is
    // reported through the request's phase (done / cancelled).
    verifier.verify().catch((e) => toStderr("verify:", e?.message ?? e));
  }

  async waitFor(what, cond, ms = 30000) {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
      if (await cond()) return;
    }
    throw new Error("timed out waiting for " + what);
  }

  // readyRoom waits until we are joined and, when the room says it is
  // encrypted, until the crypto layer knows it too: sending earlier would
  // go out in plaintext.
  async readyRoom(roomId) {
    await this.waitFor("room " + roomId, () => this.c.getRoom(roomId)?.getMyMembership() === "join");
    const room = this.c.getRoom(roomId);
    if (room.currentState.getStateEvents("m.room.encryption", "")) {
      await this.waitFor("encryption in " + roomId, () => this.crypto.isEncryptionEnabledInRoom(roomId));
    }
  }

  async handle(cmd) {
    const c = this.c;
    switch (cmd.op) {
      case "create_dm": {
        const initial_state = [];
        if (cmd.encrypted ?? true) {
          initial_state.push({ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } });
        }
        const r = await c.createRoom({ invite: [cmd.invite], is_direct: true, preset: "trusted_private_chat", initial_state });
        await this.readyRoom(r.room_id);
        return { room: r.room_id };
      }
      case "join": {
        await c.joinRoom(cmd.room);
        await this.readyRoom(cmd.room);
        return { room: cmd.room };
      }
      case "send": {
        await this.readyRoom(cmd.room);
        const r = await c.sendEvent(cmd.room, "m.room.message", { msgtype: "m.text", body: cmd.body ?? "" });
        return { event_id: r.event_id };
      }
      case "devices": {
        const m = await this.crypto.getUserDeviceInfo([cmd.user], true);
        return { devices: [...(m.get(cmd.user)?.keys() ?? [])].sort() };
      }
      case "verify_user": {
        let device = cmd.device;
        if (!device) {
          const m = await this.crypto.getUserDeviceInfo([cmd.user], true);
          const ids = [...(m.get(cmd.user)?.keys() ?? [])];
          if (ids.length !== 1) throw new Error(`${cmd.user} has ${ids.length} devices; name one`);
          device = ids[0];
        }
        const req = await this.crypto.requestDeviceVerification(cmd.user, device);
        this.track(req);
        return { txn: req.transactionId, device };
      }
      case "verify_dm": {
        // What Element does for "Verify user": an in-room request in the DM.
        await this.readyRoom(cmd.room);
        const req = await this.crypto.requestVerificationDM(cmd.user, cmd.room);
        this.track(req);
        return { txn: req.transactionId };
      }
      case "accept": {
        await this.request(cmd.txn).accept();
        return {};
      }
      case "confirm": {
        await this.sasFor(cmd.txn).confirm();
        return {};
      }
      case "mismatch": {
        this.sasFor(cmd.txn).mismatch();
        return {};
      }
      case "trust": {
        const s = await this.crypto.getUserVerificationStatus(cmd.user);
        return { verified: s.isCrossSigningVerified() };
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    }
  }

  request(txn) {
    const r = this.requests.get(txn);
    if (!r) throw new Error(`no verification ${txn}`);
    return r;
  }

  sasFor(txn) {
    const s = this.sas.get(txn);
    if (!s) throw new Error(`no emoji shown yet for ${txn}`);
    return s;
  }

  async serve() {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.trim()) continue;
      let cmd;
      try {
        cmd = JSON.parse(line);
      } catch (e) {
        emit({ ev: "error", error: "bad json: " + e.message });
        continue;
      }
      if (cmd.op === "quit") break;
      // Commands run concurrently, as a person's clicks would: a confirm
      // must not wait behind a slow send.
      this.handle(cmd).then(
        (out) => emit({ ...(out ?? {}), ev: "ok", id: cmd.id ?? null }),
        (e) => emit({ ev: "error", id: cmd.id ?? null, error: `${e?.name ?? "Error"}: ${e?.message ?? e}` }),
      );
    }
    this.c.stopClient();
  }
}

if (process.argv.length !== 5) {
  process.stderr.write("usage: node peer.mjs HOMESERVER USER_ID PASSWORD\n");
  process.exit(2);
}
const peer = new Peer(...process.argv.slice(2));
try {
  await peer.start();
} catch (e) {
  emit({ ev: "error", error: "start: " + (e?.message ?? e) });
  process.exit(1);
}
await peer.serve();
process.exit(0);
