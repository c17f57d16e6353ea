#!/usr/bin/python3
"""A foreign Matrix client for Polyglot's integration tests, on Debian's
python3-matrix-nio (0.20) with python3-olm: E2EE that nobody here wrote.

Run with /usr/bin/python3 (a pyenv shim on PATH cannot see Debian's packages):

    nio_peer.py HOMESERVER USER_ID PASSWORD STORE_DIR [DEVICE_ID]

DEVICE_ID logs in as that existing device; with a fresh STORE_DIR it uploads
new identity keys for it (a device whose key changed).

NIO_PEER_DEBUG=1 in the environment sends nio's own log (Olm/Megolm sessions,
to-device events) to stderr, which a failing test prints.

It speaks a line protocol: one JSON command per line on stdin, one JSON event
per line on stdout. Every command may carry "id"; its answer is
{"ev":"ok","id":..., ...} or {"ev":"error","id":...,"error":...}.

Events: ready{user_id,device_id,ed25519}, message{room,event_id,sender,body,formatted,
msgtype,relates_to,encrypted}, undecryptable{room,event_id,sender,session_id} (a
message whose Megolm key has not come; it follows as "message" if the key comes
later), room_key{room,session_id,sender} (a Megolm key received),
redaction{room,event_id,redacts,sender}, reaction{room,event_id,sender,target,key},
receipt{room,event_id,user}, typing{room,users}, invite{room,sender,name},
member{room,user,membership}.

Commands (field "op"):
    create_dm  invite, encrypted? (default true)  -> room
    create_room name?, invite?, encrypted? (default true) -> room (a group, not a DM)
    join       room
    send       room, body?, html?, txn?, content? (raw m.room.message content),
               type? (event type, default m.room.message), reply_to?, edit_of?
    send_file  room, name, data (base64), mime?  -> event_id, encrypted_file
               uploads the bytes (encrypted with AES-CTR when the room is
               encrypted: the m.file content carries the "file" key, not "url")
    redact     room, target
    react      room, target, key
    typing     room, on
    read       room, event
    invite     room, user
    set_name   room, name
    mark_direct room, user  (records the room in this account's m.direct, as
               Element does when it joins a DM)
    displayname name
    devices    user  -> {"devices": [device ids]}  (after a keys query)
    logout     (this device leaves the account; its keys go with it)
    quit
"""
import asyncio
import base64
import hashlib
import io
import json
import logging
import os
import sys
import urllib.parse
import urllib.request

from nio import (AsyncClient, AsyncClientConfig, InviteMemberEvent, MegolmEvent,
                 RedactionEvent, RoomMessage, RoomMemberEvent, TypingNoticeEvent,
                 ReceiptEvent, UnknownEvent, RoomEncryptedMedia, RoomKeyEvent,
                 ForwardedRoomKeyEvent, EncryptionError)
from nio.crypto.attachments import decrypt_attachment
from nio.responses import LoginResponse

logging.basicConfig(level=logging.CRITICAL)
if os.environ.get("NIO_PEER_DEBUG"):
    import logbook
    from nio.log import logger_group
    logger_group.level = logbook.DEBUG
    logbook.StreamHandler(sys.stderr, level=logbook.DEBUG).push_application()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Peer:
    def __init__(self, hs, user, password, store, device_id=""):
        os.makedirs(store, exist_ok=True)
        cfg = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True,
                                max_timeouts=None)
        self.c = AsyncClient(hs, user, device_id=device_id, store_path=store, config=cfg)
        self.direct = {}  # m.direct as mark_direct wrote it
        # Undecryptable events by (room, session), opened when their key comes.
        self.waiting = {}
        self.password = password
        self.c.add_event_callback(self.on_message, (RoomMessage, RoomEncryptedMedia))
        self.c.add_event_callback(self.on_undecryptable, MegolmEvent)
        self.c.add_event_callback(self.on_redaction, RedactionEvent)
        self.c.add_event_callback(self.on_unknown, UnknownEvent)
        self.c.add_event_callback(self.on_invite, InviteMemberEvent)
        self.c.add_event_callback(self.on_member, RoomMemberEvent)
        self.c.add_ephemeral_callback(self.on_typing, TypingNoticeEvent)
        self.c.add_ephemeral_callback(self.on_receipt, ReceiptEvent)
        self.c.add_to_device_callback(self.on_room_key, (RoomKeyEvent, ForwardedRoomKeyEvent))

    async def on_message(self, room, ev):
        src = ev.source.get("content", {})
        emit({"ev": "message", "room": room.room_id, "event_id": ev.event_id,
              "sender": ev.sender, "body": src.get("body"),
              "formatted": src.get("formatted_body"), "msgtype": src.get("msgtype"),
              "relates_to": src.get("m.relates_to"), "encrypted": bool(ev.decrypted),
              "url": src.get("url"), "file": src.get("file"), "info": src.get("info"),
              "filename": src.get("filename"), "profile": src.get("com.beeper.per_message_profile")})

    async def on_undecryptable(self, room, ev):
        self.waiting.setdefault((room.room_id, ev.session_id), []).append(ev)
        emit({"ev": "undecryptable", "room": room.room_id, "event_id": ev.event_id,
              "sender": ev.sender, "session_id": ev.session_id})

    async def on_room_key(self, ev):
        """A room key came: open the events that waited for it. Nothing orders
        to-device messages before room events (Dendrite hands each stream to
        /sync on its own), so Element and every client that reads such a
        room does the same; nio alone would leave them undecryptable."""
        emit({"ev": "room_key", "room": ev.room_id, "session_id": ev.session_id,
              "sender": ev.sender})
        room = self.c.rooms.get(ev.room_id)
        for megolm in self.waiting.pop((ev.room_id, ev.session_id), []):
            try:
                dec = self.c.olm.decrypt_megolm_event(megolm, ev.room_id)
            except EncryptionError:
                continue
            if room is not None and isinstance(dec, (RoomMessage, RoomEncryptedMedia)):
                await self.on_message(room, dec)

    async def on_redaction(self, room, ev):
        emit({"ev": "redaction", "room": room.room_id, "event_id": ev.event_id,
              "redacts": ev.redacts, "sender": ev.sender})

    async def on_unknown(self, room, ev):
        if ev.type == "m.reaction":
            rel = ev.source.get("content", {}).get("m.relates_to", {})
            emit({"ev": "reaction", "room": room.room_id, "event_id": ev.event_id,
                  "sender": ev.sender, "target": rel.get("event_id"), "key": rel.get("key")})

    async def on_invite(self, room, ev):
        if ev.state_key == self.c.user_id and ev.membership == "invite":
            emit({"ev": "invite", "room": room.room_id, "sender": ev.sender,
                  "name": room.display_name})

    async def on_member(self, room, ev):
        emit({"ev": "member", "room": room.room_id, "user": ev.state_key,
              "membership": ev.membership})

    async def on_typing(self, room, ev):
        emit({"ev": "typing", "room": room.room_id, "users": list(ev.users)})

    async def on_receipt(self, room, ev):
        for r in ev.receipts:
            emit({"ev": "receipt", "room": room.room_id, "event_id": r.event_id,
                  "user": r.user_id, "type": r.receipt_type})

    async def prepare_encrypted(self, room):
        """Make sure every member device gets our Megolm session."""
        if self.c.should_query_keys:
            await self.c.keys_query()
        missing = self.c.get_missing_sessions(room)
        if missing:
            await self.c.keys_claim(missing)

    async def send(self, room, etype, content, txn=None):
        if self.c.rooms.get(room) is not None and self.c.rooms[room].encrypted:
            await self.prepare_encrypted(room)
        r = await self.c.room_send(room, etype, content, tx_id=txn,
                                   ignore_unverified_devices=True)
        if not hasattr(r, "event_id"):
            raise RuntimeError(str(r))
        return r.event_id

    async def run(self):
        r = await self.c.login(self.password, device_name="nio-peer")
        if not isinstance(r, LoginResponse):
            emit({"ev": "error", "error": "login: " + str(r)})
            return
        if self.c.should_upload_keys:
            await self.c.keys_upload()
        await self.c.sync(timeout=0, full_state=True)
        emit({"ev": "ready", "user_id": self.c.user_id, "device_id": self.c.device_id,
              "ed25519": self.c.olm.account.identity_keys["ed25519"]})
        syncer = asyncio.create_task(self.c.sync_forever(timeout=5000, full_state=True))
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=16 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                cmd = json.loads(line)
            except ValueError as e:
                emit({"ev": "error", "error": "bad json: %s" % e})
                continue
            if cmd.get("op") == "quit":
                break
            try:
                out = await self.handle(cmd) or {}
                out.update({"ev": "ok", "id": cmd.get("id")})
                emit(out)
            except Exception as e:  # report and keep serving
                emit({"ev": "error", "id": cmd.get("id"), "error": "%s: %s" % (type(e).__name__, e)})
        syncer.cancel()
        await self.c.close()

    async def handle(self, cmd):
        op = cmd["op"]
        c = self.c
        if op == "create_dm":
            init = []
            if cmd.get("encrypted", True):
                init.append({"type": "m.room.encryption", "state_key": "",
                             "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
            r = await c.room_create(invite=[cmd["invite"]], is_direct=True, initial_state=init)
            if not hasattr(r, "room_id"):
                raise RuntimeError(str(r))
            await self.wait_room(r.room_id)
            return {"room": r.room_id}
        if op == "create_room":
            # A named group room (not a DM), encrypted unless told not.
            init = []
            if cmd.get("encrypted", True):
                init.append({"type": "m.room.encryption", "state_key": "",
                             "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
            r = await c.room_create(name=cmd.get("name"), invite=cmd.get("invite", []), initial_state=init)
            if not hasattr(r, "room_id"):
                raise RuntimeError(str(r))
            await self.wait_room(r.room_id)
            return {"room": r.room_id}
        if op == "join":
            r = await c.join(cmd["room"])
            if not hasattr(r, "room_id"):
                raise RuntimeError(str(r))
            await self.wait_room(r.room_id)
            return {"room": r.room_id}
        if op == "send":
            content = cmd.get("content")
            if content is None:
                content = {"msgtype": "m.text", "body": cmd.get("body", "")}
                if cmd.get("html"):
                    content["format"] = "org.matrix.custom.html"
                    content["formatted_body"] = cmd["html"]
                if cmd.get("reply_to"):
                    content["m.relates_to"] = {"m.in_reply_to": {"event_id": cmd["reply_to"]}}
                if cmd.get("edit_of"):
                    content = {"msgtype": "m.text", "body": "* " + content["body"],
                               "m.new_content": dict(content),
                               "m.relates_to": {"rel_type": "m.replace", "event_id": cmd["edit_of"]}}
            eid = await self.send(cmd["room"], cmd.get("type", "m.room.message"), content, cmd.get("txn"))
            return {"event_id": eid}
        if op == "send_file":
            room = cmd["room"]
            data = base64.b64decode(cmd["data"])
            name = cmd.get("name", "file.bin")
            mime = cmd.get("mime", "application/octet-stream")
            encrypted = c.rooms.get(room) is not None and c.rooms[room].encrypted
            r, keys = await c.upload(io.BytesIO(data), content_type=mime, filename=name,
                                     encrypt=encrypted, filesize=len(data))
            if not hasattr(r, "content_uri"):
                raise RuntimeError(str(r))
            content = {"msgtype": "m.file", "body": name, "filename": name,
                       "info": {"size": len(data), "mimetype": mime}}
            if keys:
                f = dict(keys)
                f["url"] = r.content_uri
                f["mimetype"] = mime
                content["file"] = f
            else:
                content["url"] = r.content_uri
            eid = await self.send(room, "m.room.message", content)
            return {"event_id": eid, "encrypted_file": bool(keys)}
        if op == "download":
            # Fetch an mxc:// URL (authenticated media first, then the
            # legacy path), decrypt it with the event's "file" keys when
            # given, and answer the plaintext's SHA-256 and size.
            mxc = cmd["mxc"]
            server, media = mxc[len("mxc://"):].split("/", 1)
            def fetch():
                last = None
                for path in ("/_matrix/client/v1/media/download/", "/_matrix/media/v3/download/"):
                    req = urllib.request.Request(c.homeserver + path + server + "/" + media,
                                                 headers={"Authorization": "Bearer " + c.access_token})
                    try:
                        with urllib.request.urlopen(req, timeout=30) as resp:
                            return resp.read()
                    except Exception as e:  # try the next path
                        last = e
                raise RuntimeError("download failed: %s" % last)
            data = await asyncio.get_running_loop().run_in_executor(None, fetch)
            f = cmd.get("file")
            if f:
                data = decrypt_attachment(data, f["key"]["k"], f["hashes"]["sha256"], f["iv"])
            return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                    "raw_sha256": hashlib.sha256(data).hexdigest() if not f else ""}
        if op == "redact":
            r = await c.room_redact(cmd["room"], cmd["target"])
            if not hasattr(r, "event_id"):
                raise RuntimeError(str(r))
            return {"event_id": r.event_id}
        if op == "react":
            content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": cmd["target"], "key": cmd["key"]}}
            r = await c.room_send(cmd["room"], "m.reaction", content, ignore_unverified_devices=True)
            if not hasattr(r, "event_id"):
                raise RuntimeError(str(r))
            return {"event_id": r.event_id}
        if op == "typing":
            await c.room_typing(cmd["room"], bool(cmd.get("on", True)), timeout=30000)
            return {}
        if op == "read":
            await c.room_read_markers(cmd["room"], cmd["event"], cmd["event"])
            return {}
        if op == "invite":
            await c.room_invite(cmd["room"], cmd["user"])
            return {}
        if op == "set_name":
            r = await c.room_put_state(cmd["room"], "m.room.name", {"name": cmd["name"]})
            if not hasattr(r, "event_id"):
                raise RuntimeError(str(r))
            return {}
        if op == "mark_direct":
            self.direct.setdefault(cmd["user"], []).append(cmd["room"])
            path = "/_matrix/client/v3/user/%s/account_data/m.direct" % urllib.parse.quote(c.user_id)
            r = await c.send("PUT", path, json.dumps(self.direct),
                             {"Authorization": "Bearer " + c.access_token, "Content-Type": "application/json"})
            if r.status != 200:
                raise RuntimeError("m.direct: HTTP %d %s" % (r.status, await r.text()))
            return {}
        if op == "displayname":
            await c.set_displayname(cmd["name"])
            return {}
        if op == "devices":
            await c.keys_query()
            return {"devices": sorted(c.device_store[cmd["user"]].keys()) if cmd["user"] in c.device_store.users else []}
        if op == "logout":
            r = await c.logout()
            if type(r).__name__ != "LogoutResponse":
                raise RuntimeError(str(r))
            return {}
        raise ValueError("unknown op %r" % op)

    async def wait_room(self, room):
        for _ in range(200):
            if room in self.c.rooms:
                return
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.stderr.write(__doc__)
        sys.exit(2)
    asyncio.run(Peer(*sys.argv[1:]).run())
