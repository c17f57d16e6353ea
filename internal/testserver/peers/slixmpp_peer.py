#!/usr/bin/python3
"""A foreign XMPP client for Polyglot's integration tests, on Debian's slixmpp.

Run with /usr/bin/python3 (a pyenv shim on PATH cannot see Debian's packages):

    slixmpp_peer.py JID PASSWORD HOST PORT CAFILE [--carbons] [--no-auto-receipts]

It speaks a line protocol: one JSON command per line on stdin, one JSON event
per line on stdout. Events: ready, message, presence, sent, count, joined,
error. Commands (field "op"):

    send      to, body?, id?, type?, origin_id?, receipt?, markable?,
              chat_state?, replace?, retract?, reactions?{id,keys},
              reply?{to,id}, payload? (raw XML child to add),
              confirm? ("sent" only once a ping after it was answered)
    mark      to, id, kind ("receipt" | "received" | "displayed"), type?
    raw       xml (sent verbatim on the stream)
    iq        type ("get" | "set"), to?, payload (raw XML child): sends an
              IQ and emits {"ev":"iq","type":"result"|"error","xml":…}
    subscribe to                 presence subscription request
    presence  (available presence)
    join      room, nick         join a MUC and wait for self-presence
    count                        how many messages with a body arrived
    quit
"""
import asyncio
import base64
import hashlib
import json
import logging
import ssl
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Peer(ClientXMPP):
    def __init__(self, jid, password, carbons, auto_receipts):
        super().__init__(jid, password)
        self.want_carbons = carbons
        self.received = 0
        for p in ["xep_0030", "xep_0045", "xep_0085", "xep_0184", "xep_0199",
                  "xep_0280", "xep_0308", "xep_0333", "xep_0359", "xep_0424",
                  "xep_0444", "xep_0461", "xep_0297"]:
            self.register_plugin(p)
        self.plugin["xep_0184"].auto_ack = auto_receipts
        self.plugin["xep_0184"].auto_request = False
        self.add_event_handler("session_start", self.on_start)
        # slixmpp's "message" event only fires for messages with a body;
        # receipts, markers, chat states and reactions have none.
        self.register_handler(Callback("peer-all-messages", MatchXPath("{jabber:client}message"), self.on_message))
        self.add_event_handler("carbon_received", self.on_carbon)
        self.add_event_handler("carbon_sent", self.on_carbon)
        self.add_event_handler("presence", self.on_presence)
        self.add_event_handler("failed_auth", lambda e: emit({"ev": "error", "error": "auth failed"}))

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        if self.want_carbons:
            await self.plugin["xep_0280"].enable()
        emit({"ev": "ready", "jid": str(self.boundjid)})
        asyncio.ensure_future(self.read_commands())

    def describe(self, msg, carbon=""):
        d = {
            "ev": "message", "t": time.time(), "from": str(msg["from"]),
            "to": str(msg["to"]), "id": msg["id"], "type": msg["type"],
            "body": msg["body"], "carbon": carbon,
            "origin_id": msg["origin_id"]["id"],
            "stanza_id": msg["stanza_id"]["id"],
            "receipt_request": bool(msg.xml.find("{urn:xmpp:receipts}request") is not None),
            "markable": msg.xml.find("{urn:xmpp:chat-markers:0}markable") is not None,
            "chat_state": msg["chat_state"] if msg.xml.find("{http://jabber.org/protocol/chatstates}*") is not None else "",
            "replace": msg["replace"]["id"],
            "retract": msg["apply_to"]["id"] if msg.xml.find("{urn:xmpp:fasten:0}apply-to") is not None else (msg.xml.find("{urn:xmpp:message-retract:1}retract").get("id") if msg.xml.find("{urn:xmpp:message-retract:1}retract") is not None else ""),
            "reactions": sorted(msg["reactions"].get_values()) if msg.xml.find("{urn:xmpp:reactions:0}reactions") is not None else None,
            "reactions_id": msg["reactions"]["id"] if msg.xml.find("{urn:xmpp:reactions:0}reactions") is not None else "",
            "reply_id": msg["reply"]["id"] if msg.xml.find("{urn:xmpp:reply:0}reply") is not None else "",
            "displayed": msg["displayed"]["id"] if msg.xml.find("{urn:xmpp:chat-markers:0}displayed") is not None else "",
            "receipt": msg["receipt"] if msg.xml.find("{urn:xmpp:receipts}received") is not None else "",
            "xml": str(msg),
        }
        return d

    def on_message(self, msg):
        if msg.xml.find("{urn:xmpp:carbons:2}received") is not None or msg.xml.find("{urn:xmpp:carbons:2}sent") is not None:
            return  # reported by on_carbon
        if msg["body"]:
            self.received += 1
        emit(self.describe(msg))

    def on_carbon(self, msg):
        inner = msg["carbon_received"] if msg["carbon_received"]["body"] or msg["carbon_received"]["id"] else msg["carbon_sent"]
        kind = "received" if msg.xml.find("{urn:xmpp:carbons:2}received") is not None else "sent"
        emit(self.describe(inner, carbon=kind))

    def on_presence(self, p):
        emit({"ev": "presence", "from": str(p["from"]), "type": p["type"],
              "nick": p["muc"]["nick"] if p.xml.find("{http://jabber.org/protocol/muc#user}x") is not None else ""})

    async def read_commands(self):
        loop = asyncio.get_event_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                self.disconnect()
                return
            try:
                await self.command(json.loads(line))
            except Exception as e:  # report, keep serving
                emit({"ev": "error", "error": repr(e)})

    async def command(self, c):
        op = c["op"]
        if op == "send" and c.get("retract"):
            # slixmpp's own XEP-0424 (v0, fastening) sender, fallback body included
            self.plugin["xep_0424"].send_retraction(c["to"], c["retract"], mtype=c.get("type", "chat"))
            emit({"ev": "sent", "id": "", "t": time.time()})
        elif op == "send":
            msg = self.make_message(mto=c["to"], mbody=c.get("body") or None, mtype=c.get("type", "chat"))
            if c.get("id"):
                msg["id"] = c["id"]
            if c.get("origin_id"):
                msg["origin_id"]["id"] = c["origin_id"]
            if c.get("receipt"):
                msg["request_receipt"] = True
            if c.get("markable"):
                msg["markable"]
            if c.get("chat_state"):
                msg["chat_state"] = c["chat_state"]
            if c.get("replace"):
                msg["replace"]["id"] = c["replace"]
            if c.get("reactions"):
                msg["reactions"]["id"] = c["reactions"]["id"]
                msg["reactions"].set_values(c["reactions"]["keys"], all_chars=True)
            if c.get("reply"):
                msg["reply"]["to"] = c["reply"]["to"]
                msg["reply"]["id"] = c["reply"]["id"]
            if c.get("payload"):
                msg.append(ET.fromstring(c["payload"]))
            msg.send()
            if c.get("confirm"):
                # The stream is ordered: the server's answer to a ping sent
                # after the message proves it took the message.
                try:
                    await self.plugin["xep_0199"].ping(jid=self.boundjid.domain, timeout=5)
                except Exception as e:
                    emit({"ev": "error", "error": "unconfirmed: " + repr(e)})
                    return
            emit({"ev": "sent", "id": msg["id"], "t": time.time()})
        elif op == "mark":
            msg = self.make_message(mto=c["to"], mtype=c.get("type", "chat"))
            if c["kind"] == "receipt":
                msg["receipt"] = c["id"]
            else:
                msg[c["kind"]]["id"] = c["id"]
            msg.send()
            emit({"ev": "sent", "id": msg["id"], "t": time.time()})
        elif op == "raw":
            self.send_raw(c["xml"])
            emit({"ev": "sent", "id": "", "t": time.time()})
        elif op == "iq":
            iq = self.make_iq(ifrom=self.boundjid, ito=c.get("to") or None, itype=c["type"])
            iq.append(ET.fromstring(c["payload"]))
            try:
                resp = await iq.send(timeout=10)
            except IqError as e:
                resp = e.iq
            emit({"ev": "iq", "type": resp["type"], "xml": str(resp)})
        elif op == "subscribe":
            self.send_presence(pto=c["to"], ptype="subscribe")
            emit({"ev": "sent", "id": "", "t": time.time()})
        elif op == "presence":
            self.send_presence()
            emit({"ev": "sent", "id": "", "t": time.time()})
        elif op == "join":
            await self.plugin["xep_0045"].join_muc_wait(c["room"], c["nick"], maxstanzas=0, timeout=10)
            emit({"ev": "joined", "room": c["room"]})
        elif op == "download":
            # Fetch an https URL as a plain client would, trusting the
            # test CA; answer the SHA-256 and size of what came.
            ctx = ssl.create_default_context(cafile=self.ca_certs)
            def fetch():
                with urllib.request.urlopen(c["url"], context=ctx, timeout=30) as r:
                    return r.read()
            data = await asyncio.get_event_loop().run_in_executor(None, fetch)
            emit({"ev": "downloaded", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        elif op == "send_file":
            # XEP-0363 by hand (slixmpp's plugin breaks on Python 3.11):
            # a slot from the upload service, a PUT, then the GET URL as
            # body and OOB, as Conversations sends it.
            data = base64.b64decode(c["data"])
            iq = self.make_iq(ito=c["service"], itype="get")
            req = ET.Element("{urn:xmpp:http:upload:0}request", filename=c["name"], size=str(len(data)))
            req.set("content-type", c.get("mime", "application/octet-stream"))
            iq.append(req)
            resp = await iq.send(timeout=10)
            slot = resp.xml.find("{urn:xmpp:http:upload:0}slot")
            put_el = slot.find("{urn:xmpp:http:upload:0}put")
            put = put_el.get("url")
            headers = {h.get("name"): (h.text or "").strip() for h in put_el.findall("{urn:xmpp:http:upload:0}header")}
            get = slot.find("{urn:xmpp:http:upload:0}get").get("url")
            ctx = ssl.create_default_context(cafile=self.ca_certs)
            def upload():
                r = urllib.request.Request(put, data=data, method="PUT",
                                           headers=dict(headers, **{"Content-Type": c.get("mime", "application/octet-stream")}))
                with urllib.request.urlopen(r, context=ctx, timeout=30) as resp:
                    return resp.status
            await asyncio.get_event_loop().run_in_executor(None, upload)
            msg = self.make_message(mto=c["to"], mbody=get, mtype="chat")
            x = ET.Element("{jabber:x:oob}x")
            u = ET.SubElement(x, "{jabber:x:oob}url")
            u.text = get
            msg.append(x)
            msg.send()
            emit({"ev": "sent", "id": msg["id"], "url": get, "t": time.time()})
        elif op == "count":
            emit({"ev": "count", "n": self.received})
        elif op == "quit":
            self.disconnect()
        else:
            emit({"ev": "error", "error": "unknown op " + op})


def main():
    jid, password, host, port, cafile = sys.argv[1:6]
    flags = set(sys.argv[6:])
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    peer = Peer(jid, password, "--carbons" in flags, "--no-auto-receipts" not in flags)
    peer.ca_certs = cafile
    peer.connect((host, int(port)))
    peer.add_event_handler("disconnected", lambda _: peer.loop.stop())
    try:
        peer.loop.run_forever()
    finally:
        emit({"ev": "closed"})


if __name__ == "__main__":
    main()
