"""Explanations: the notes files are sound, every code and command a dissector can
emit has a note, and real conversations through the lab are explained message by message."""

from __future__ import annotations

import asyncio
import ftplib
import io
import poplib
import re
import smtplib
import string
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import dns.flags
import dns.opcode
import dns.rcode
import pytest

from lab.clients.dns import TYPES, DnsClient
from lab.clients.http import HttpClient
from lab.clients.ws import ChatClient
from lab.dissect import ftp, ftp_data, pop3, smtp, ws_frames
from lab.engine import Engine
from lab.explain import explain, value_notes
from lab.explain_notes import load_files, notes_for
from lab.model import Message, Sender
from lab.servers.dns_zone import EDITABLE
from tests.lab.helpers import run

C, S = Sender.CLIENT, Sender.SERVER
RFC = re.compile(r"RFC (\d+)(?: (?:§\d+(?:\.\d+)*|Appendix [A-Z]+))?")
NO_SECTIONS = {"768", "862"}  # short RFCs without numbered sections
#: Notes on the lab's own ideas, which no RFC defines: (file, table path).
LAB_NOTES = {("common.toml", p) for p in (
    "message.malformed", "message.note", "message.client", "message.server", "field.error",
    "field.length",
    "flag.malformed", "flag.truncated", "flag.injected", "flag.held")} | {
    ("http.toml", "field.latency ms"), ("websocket.toml", "field.note"),
    ("ftp.toml", "field.wire"), ("ftp.toml", "field.line")}


def notes_in(table: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, note table) under ``table``."""
    for key, value in table.items():
        if isinstance(value, dict):
            where = f"{path}.{key}" if path else key
            is_note = isinstance(value.get("note"), str)
            yield from [(where, value)] if is_note else notes_in(value, where)


def templates(data: dict[str, Any]) -> Iterator[str]:
    """Every meaning template and reply meaning in one file."""
    for _, note in notes_in(data):
        meaning = note.get("meaning", [])
        yield from [meaning] if isinstance(meaning, str) else meaning
    for table in data.get("answer", {}).values():
        yield from table.values()


# -- the files ----------------------------------------------------------------------


def test_every_note_is_a_plain_sentence_or_two_naming_its_rfc_section() -> None:
    files = load_files()
    assert {"http.toml", "smtp.toml", "pop3.toml", "ftp.toml", "dns.toml", "websocket.toml",
            "mail.toml", "raw.toml", "common.toml"} <= set(files)
    count = 0
    for name, data in files.items():
        assert name == "common.toml" or data["explain"]["protocols"], name
        for path, note in notes_in(data):
            count += 1
            text, rfc = note["note"], note.get("rfc", "")
            assert set(note) <= {"note", "rfc", "meaning", "source"}, (name, path)
            assert re.search(r"[.?!”)…]$", text) and len(text) <= 320, (name, path, text)
            assert len(re.findall(r"[.?!]”?(?:\s|$)", text)) <= 3, (name, path, text)
            if note.get("source") == "lab":
                assert (name, path) in LAB_NOTES and not rfc, (name, path)
                continue
            match = RFC.fullmatch(rfc)
            assert match, (name, path, rfc)
            assert " §" in rfc or "Appendix" in rfc or match[1] in NO_SECTIONS, (name, path, rfc)
    assert count > 500


def test_templates_name_values_and_keys_do_not_clash() -> None:
    for name, data in load_files().items():
        for template in templates(data):
            parts = [(n, spec, conv) for _, n, spec, conv in string.Formatter().parse(template)
                     if n is not None]  # "{header: Host}" would be a format spec: not allowed
            assert all(re.fullmatch(r"[a-z][\w -]*", n) and not spec and conv is None
                       for n, spec, conv in parts), (name, template)
        for group, table in data.get("value", {}).items():
            keys = [str(k).lower() for k in table]
            assert len(keys) == len(set(keys)), (name, group)


@pytest.mark.parametrize("protocol", ["http", "websocket", "smtp", "pop3", "ftp"])
def test_answer_tables_name_verbs_and_codes_that_have_notes(protocol: str) -> None:
    notes = notes_for(protocol)
    assert notes.answers is not None and notes.replies
    verbs = set(notes.values[notes.answers.verbs]) | {"message", *notes.aliases.values()}
    for verb, table in notes.replies.items():
        assert verb in verbs, (protocol, verb)
        for key in table:
            assert notes.value("code", key) or notes.value("status", key), (verb, key)


# -- every code and command a dissector can emit --------------------------------------

HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
HTTP_HEADERS = {
    "Host", "Content-Type", "Content-Length", "Content-Encoding", "ETag", "If-None-Match",
    "If-Modified-Since", "If-Match", "If-Range", "Range", "Content-Range", "Accept-Ranges",
    "Connection", "Keep-Alive", "Upgrade", "Location", "Cache-Control", "Expires", "Age",
    "Last-Modified", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset",
    "User-Agent", "Server", "Date", "Transfer-Encoding", "Allow", "Vary", "Referer",
    "Authorization", "WWW-Authenticate", "Cookie", "Set-Cookie", "Origin", "Expect",
    "Retry-After", "Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}
SMTP_COMMANDS = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
                 "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", smtp.AUTH_RESPONSE,
                 *smtp._DETAILS, *smtp._AFTER}
SMTP_CODES = {211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501,
              502, 503, 504, 550, 551, 552, 553, 554, 555,  # RFC 5321 §4.2.3
              235, 334, 432, 454, 530, 534, 535, 538,  # RFC 4954 §6, RFC 3207 §4
              521, 556}  # RFC 7504 §3
POP3_COMMANDS = {"USER", "PASS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
                 "QUIT", "TOP", "UIDL", "CAPA", "STLS", "AUTH", pop3.AUTH_RESPONSE,
                 *pop3.MULTILINE, *pop3._MASKS}
FTP_COMMANDS = {"USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "REIN", "QUIT", "PORT", "PASV",
                "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO", "REST", "RNFR",
                "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "LIST", "NLST", "SITE", "SYST",
                "STAT", "HELP", "NOOP",  # RFC 959 §4.1
                "AUTH", "ADAT", "PROT", "PBSZ", "CCC", "MIC", "CONF", "ENC",  # RFC 2228
                "FEAT", "OPTS", "EPRT", "EPSV", "SIZE", "MDTM", "MLSD", "MLST",  # 2389, 2428, 3659
                *ftp._DETAILS, *ftp._AFTER}
FTP_CODES = {110, 120, 125, 150, 200, 202, 211, 212, 213, 214, 215, 220, 221, 225, 226, 227,
             230, 250, 257, 331, 332, 350, 421, 425, 426, 450, 451, 452, 500, 501, 502, 503,
             504, 530, 532, 550, 551, 552, 553,  # RFC 959 §4.2.2
             229, 522,  # RFC 2428
             232, 234, 235, 334, 335, 336, 431, 533, 534, 535, 536, 537, 631, 632, 633}  # 2228
DNS_TYPES = {*TYPES, *EDITABLE, "PTR", "SRV", "OPT", "CAA"}
WS_CLOSE_CODES = {*ws_frames.CLOSE_MEANINGS, 1004, 1015}

EXPECTED: list[tuple[str, str, set[str]]] = [
    ("http", "status", {str(s.value) for s in HTTPStatus}), ("http", "method", HTTP_METHODS),
    ("http", "header", HTTP_HEADERS), ("smtp", "command", SMTP_COMMANDS),
    ("smtp", "code", {str(c) for c in SMTP_CODES}), ("pop3", "command", POP3_COMMANDS),
    ("pop3", "status", {"+OK", "-ERR", "+"}), ("ftp", "command", FTP_COMMANDS),
    ("ftp", "code", {str(c) for c in FTP_CODES}),
    ("ftp-data", "direction", set(ftp_data._DIRECTIONS.values())),
    ("dns", "rcode", {dns.rcode.to_text(r) for r in dns.rcode.Rcode}),
    ("dns", "opcode", {dns.opcode.to_text(o) for o in dns.opcode.Opcode}),
    ("dns", "type", DNS_TYPES), ("websocket", "opcode", set(ws_frames.NAMES.values())),
    ("websocket", "close code", {str(c) for c in WS_CLOSE_CODES}),
    ("websocket", "header", {"Upgrade", "Connection", "Sec-WebSocket-Key",
                             "Sec-WebSocket-Accept", "Sec-WebSocket-Version"}),
]


@pytest.mark.parametrize(("protocol", "group", "keys"), EXPECTED,
                         ids=[f"{p}-{g}" for p, g, _ in EXPECTED])
def test_every_code_and_command_has_a_note_of_its_own(protocol: str, group: str,
                                                      keys: set[str]) -> None:
    table = notes_for(protocol).values.get(group, {})
    missing = sorted(k for k in keys if k.lower() not in table)  # no class fallback here
    assert not missing, f"{protocol} {group}: no note for {missing}"


def test_every_dns_header_flag_has_a_note() -> None:
    notes = notes_for("dns")
    for flag in dns.flags.Flag:
        name = dns.flags.to_text(flag).lower()
        assert notes.value("flag", name) or notes.field_named(name), name


def test_codes_without_a_note_fall_back_to_their_class() -> None:
    for protocol, group, key, said in [("http", "status", "499", "4xx"),
                                       ("websocket", "close code", "4321", "4000"),
                                       ("smtp", "enhanced", "5.7.99", "5.7.x")]:
        note = notes_for(protocol).value(group, key)
        assert note is not None and said in note.text
    assert notes_for("smtp").value("code", "799") is None


# -- meanings -------------------------------------------------------------------------


def message(protocol: str, sender: Sender, summary: str, *fields: tuple[str, Any],
            malformed: bool = False) -> Message:
    return Message(id=1, time=0.0, connection="c1", protocol=protocol, sender=sender,
                   client="127.0.0.1:50000", server="127.0.0.1:2525", summary=summary,
                   size=len(summary), raw=summary.encode(), fields=fields, malformed=malformed)


def test_a_reply_means_what_it_says_after_the_command_it_answers() -> None:
    mail = message("smtp", C, "MAIL FROM:<ann@lab.test>", ("command", "MAIL"),
                   ("argument", "FROM:<ann@lab.test>"), ("from", "ann@lab.test"))
    ok = message("smtp", S, "250 OK", ("code", 250), ("text", "OK"),
                 ("command", "MAIL FROM:<ann@lab.test>"))
    accepted = "The server accepted the sender; the client may now name recipients."
    assert explain(ok).meaning == accepted
    bare = message("smtp", S, "250 OK", ("code", 250), ("text", "OK"))
    assert explain(bare, answering=mail).meaning == accepted  # the inspector's pairing
    assert explain(bare).meaning.startswith("250: requested action okay")
    assert "ann@lab.test" in explain(mail).meaning
    notes = {n.name: n.note for n in explain(ok).fields}
    assert notes["code"].startswith("250") and "MAIL FROM" in notes["command"]
    assert "RFC 5321" in explain(ok).rfc


def test_templates_fall_back_when_a_value_is_missing() -> None:
    with_target = message("http", S, "404 Not Found", ("status", 404), ("request", "GET /x.png"))
    assert "nothing at /x.png" in explain(with_target).meaning
    alone = message("http", S, "404 Not Found", ("status", 404))
    assert explain(alone).meaning.lower().startswith("not found")
    odd = message("http", S, "299 Odd", ("status", 299))
    assert explain(odd).meaning.startswith("2xx")
    upgrade = message("websocket", C, "GET /chat", ("method", "GET"), ("target", "/chat"),
                      ("header: UPGRADE", "websocket"))
    assert "websocket connection" in explain(upgrade).meaning


def test_malformed_and_unknown_messages_still_get_a_meaning() -> None:
    broken = message("pop3", S, "malformed response: x", ("error", "not +OK or -ERR: x"),
                     malformed=True)
    meaning = explain(broken).meaning
    assert "POP3" in meaning and "not +OK or -ERR" in meaning
    assert [n.name for n in explain(broken).fields] == ["error", "malformed"]
    stranger, echo = (message(p, s, "hi", ("length", 2)) for p, s in [("gopher", C),
                                                                       ("udp-echo", S)])
    assert explain(stranger).meaning == "Bytes the client sent towards the server."
    assert explain(echo).meaning == "The echo server sends the same datagram (2 bytes) back."


# -- real conversations through the lab ---------------------------------------------------

#: Fields whose value must have a note of its own (header fields too; ``command`` only
#: when the client sends it: in a reply it names the command answered).
KEYED = {"method", "status", "code", "opcode", "rcode", "close code", "question", "direction",
         "content"}
#: What any message means when nothing in it has a note: never enough in a real conversation.
GENERIC = {notes_for("*").messages[sender].text for sender in ("client", "server")}
#: Commands sent on purpose that no server knows: only their field has a note.
UNKNOWN = {"WHAT"}


def unexplained(messages: list[Message]) -> list[str]:
    """What the notes leave unexplained in ``messages`` (empty when all is well)."""
    problems = []
    for m in messages:
        explanation = explain(m)
        if explanation.meaning.startswith("A ") or explanation.meaning in GENERIC:
            problems.append(f"no meaning: {m.protocol} {m.summary}")
        for name, value in m.fields:
            keyed = name in KEYED or name.startswith(("header: ", "trailer: ")) or (
                name == "command" and m.sender is C and m.protocol != "ftp-data")
            if keyed and value not in UNKNOWN and not value_notes(notes_for(m.protocol), name,
                                                                  value):
                problems.append(f"no note: {m.protocol} {name} = {value!r}")
    return sorted(set(problems))


async def _http(engine: Engine, tmp: Path) -> None:
    server = await engine.add_server("http", port=0, options={"db": str(tmp / "notes.db")})
    http = engine.client_object((await engine.add_client("http")).id)
    assert isinstance(http, HttpClient)
    base = f"http://{server.address}"
    page = await http.request("GET", base + "/style.css")
    etag = next(v for k, v in page.headers if k.lower() == "etag")
    for method, path, headers, body in [
            ("GET", "/", [], None), ("HEAD", "/", [], None), ("GET", "/missing.html", [], None),
            ("GET", "/style.css", [("If-None-Match", etag)], None),
            ("GET", "/style.css", [("Range", "bytes=0-9")], None),
            ("GET", "/style.css", [("Range", "bytes=99999-")], None),
            ("DELETE", "/index.html", [], None), ("GET", "/api/notes", [], None),
            ("POST", "/api/notes", [("Content-Type", "application/json")],
             b'{"title": "t", "body": "b"}')]:
        assert (await http.request(method, base + path, headers, body)).ok


async def _mail(engine: Engine, tmp: Path) -> None:
    options = {"root": str(tmp / "mail")}
    smtp_server = await engine.add_server("smtp", port=0, options=options)
    pop3_server = await engine.add_server("pop3", port=0, options=options)
    smtp_host, smtp_port = smtp_server.address.rsplit(":", 1)
    pop_host, pop_port = pop3_server.address.rsplit(":", 1)

    def talk() -> None:
        with smtplib.SMTP(smtp_host, int(smtp_port), timeout=5) as client:
            client.noop(), client.verify("ann")
            client.sendmail("you@lab.test", ["ann@lab.test", "nobody@else.test"],
                            b"Subject: Hi\r\nFrom: you@lab.test\r\n\r\nHello Ann.\r\n")
            client.rset(), client.help()
        box = poplib.POP3(pop_host, int(pop_port), timeout=5)
        box.capa(), box.user("ann"), box.pass_("lab"), box.stat(), box.list(), box.uidl()
        box.top(1, 1), box.retr(1), box.noop(), box.dele(1), box.rset()
        with pytest.raises(poplib.error_proto):
            box.retr(9)
        box.quit()

    await asyncio.to_thread(talk)


async def _ftp(engine: Engine, tmp: Path) -> None:
    root = tmp / "served"
    root.mkdir()
    (root / "a.txt").write_bytes(b"hello ftp\n" * 100)
    server = await engine.add_server("ftp", port=0, options={"root": str(root)})
    host, port = server.address.rsplit(":", 1)

    def talk() -> None:
        with ftplib.FTP() as client:
            client.connect(host, int(port), timeout=5)
            client.login("student", "lab")
            client.sendcmd("SYST"), client.sendcmd("FEAT"), client.pwd(), client.sendcmd("NOOP")
            client.size("a.txt"), client.sendcmd("MDTM a.txt"), client.nlst()
            client.retrlines("LIST", lambda line: None)
            client.retrbinary("RETR a.txt", lambda data: None)
            client.storbinary("STOR b.txt", io.BytesIO(b"upload"))
            client.rename("b.txt", "c.txt"), client.delete("c.txt")
            client.mkd("new"), client.cwd("new"), client.sendcmd("CDUP"), client.rmd("new")
            client.set_pasv(False)
            client.retrbinary("RETR a.txt", lambda data: None)
            with pytest.raises(ftplib.error_perm):
                client.retrbinary("RETR missing.txt", lambda data: None)
            with pytest.raises(ftplib.error_perm):
                client.sendcmd("WHAT")

    await asyncio.to_thread(talk)


async def _dns_and_ws(engine: Engine, tmp: Path) -> None:
    server = await engine.add_server("dns", port=0)
    lookup = engine.client_object((await engine.add_client("dns")).id)
    assert isinstance(lookup, DnsClient)
    for name, rdtype in [("www.lab.test", "A"), ("nope.lab.test", "A"), ("lab.test", "MX"),
                         ("www.lab.test", "AAAA"), ("example.com", "A"), ("lab.test", "ANY")]:
        await lookup.query(name, rdtype, server.address)
    await lookup.query("www.lab.test", "A", server.address, tcp=True)
    chat_server = await engine.add_server("ws", port=0)
    chat = engine.client_object((await engine.add_client("ws")).id)
    assert isinstance(chat, ChatClient)
    host, port = chat_server.address.rsplit(":", 1)
    await chat.connect(host, int(port), "ana")
    await chat.say("hello")
    await chat.leave()


@pytest.mark.parametrize("talk", [_http, _mail, _ftp, _dns_and_ws],
                         ids=["http", "smtp+pop3", "ftp", "dns+websocket"])
def test_real_conversations_are_explained_message_by_message(tmp_path: Path, talk: Any) -> None:
    async def main() -> list[Message]:
        engine = Engine()
        try:
            await talk(engine, tmp_path)
            await asyncio.sleep(0.3)  # the last replies and data connections are captured
        finally:
            await engine.shutdown()
        return list(engine.capture.messages)

    messages = run(main)
    assert len(messages) > 10
    assert not unexplained(messages)


def test_a_note_the_lab_wrote_is_explained_as_a_note_not_as_bytes_that_crossed() -> None:
    def message(summary: str, raw: bytes, protocol: str = "pop3") -> Message:
        return Message(id=1, time=0.0, connection="c1", protocol=protocol, sender=S,
                       client="10.0.0.2:5000", server="10.0.0.1:1110", summary=summary,
                       size=len(raw), raw=raw, fields=(), injected=True)

    refused = explain(message("Server refused: over the rate limit", b""))
    assert refused.meaning == ("A note the lab wrote into the capture (nothing crossed the "
                               "network here): Server refused: over the rate limit.")
    wire = explain(message("Wire refused 10.0.0.2: more than 1 connection", b"", "tcp-echo"))
    assert wire.meaning.startswith("A note the lab wrote into the capture")
    rewritten = explain(message("Wire rewrote 227", b"227 Entering Passive Mode\r\n", "ftp"))
    assert not rewritten.meaning.startswith("A note")  # a rewritten line did cross
