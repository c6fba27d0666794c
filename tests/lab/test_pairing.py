"""Pairing answers with questions, on real dissector output."""

from __future__ import annotations

import dns.message
import pytest

from lab.capture import Capture
from lab.dissect import make
from lab.model import Message, Sender, Transport
from lab.pairing import KEYED_KEPT, Pairer

PIPELINED = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
ANSWERS = (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
           b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB")


def http_capture(*exchanges: tuple[Sender, bytes]) -> list[Message]:
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP, client="c:1", server="s:2")
    dissector = make("http")
    for sender, data in exchanges:
        for piece in dissector.feed(sender, data, 0.0):
            capture.add(conn, piece)
    return capture.messages


def pairs(messages: list[Message]) -> dict[int, int]:
    pairer = Pairer()
    found = {}
    for m in messages:
        question = pairer.add(m.id, protocol=m.protocol, connection=m.connection,
                              from_client=m.sender is Sender.CLIENT,
                              first_field=m.fields[0] if m.fields else None)
        if question is not None:
            found[m.id] = question
    return found


def test_pipelined_responses_answer_their_requests_in_order() -> None:
    messages = http_capture((Sender.CLIENT, PIPELINED), (Sender.SERVER, ANSWERS))
    assert [m.summary for m in messages] == ["GET /a", "GET /b", "200 OK", "404 Not Found"]
    assert pairs(messages) == {3: 1, 4: 2}


def test_100_continue_does_not_answer_the_request() -> None:
    messages = http_capture(
        (Sender.CLIENT, b"POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        b"Content-Length: 2\r\n\r\n"),
        (Sender.SERVER, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (Sender.CLIENT, b"hi"),
        (Sender.SERVER, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))
    summaries = {m.id: m.summary for m in messages}
    assert {summaries[a]: summaries[q] for a, q in pairs(messages).items()} == {
        "201 Created": "POST /p"}


def test_echo_messages_have_no_partner() -> None:
    pairer = Pairer()
    assert pairer.add(1, protocol="tcp-echo", connection="c1", from_client=True,
                      first_field=("length", 5)) is None
    assert pairer.add(2, protocol="tcp-echo", connection="c1", from_client=False,
                      first_field=("length", 5)) is None


def conversation(protocol: str, *lines: tuple[Sender, bytes]) -> dict[str, str]:
    capture = Capture()
    conn = capture.open(protocol=protocol, transport=Transport.TCP, client="c:1", server="s:2")
    dissector = make(protocol)
    for sender, data in lines:
        for piece in dissector.feed(sender, data, 0.0):
            capture.add(conn, piece)
    summary = {m.id: m.summary for m in capture.messages}
    return {summary[a]: summary[q] for a, q in pairs(capture.messages).items()}


def test_smtp_replies_answer_their_commands_and_the_message() -> None:
    got = conversation(
        "smtp",
        (Sender.SERVER, b"220 lab.test ESMTP\r\n"),
        (Sender.CLIENT, b"MAIL FROM:<a@lab.test>\r\nRCPT TO:<b@lab.test>\r\n"),  # pipelined
        (Sender.SERVER, b"250 OK\r\n550 5.7.1 relaying denied\r\n"),
        (Sender.CLIENT, b"DATA\r\n"),
        (Sender.SERVER, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (Sender.CLIENT, b"Subject: hi\r\n\r\nbody\r\n.\r\n"),
        (Sender.SERVER, b"250 2.0.0 delivered\r\n"))
    assert got == {"250 OK": "MAIL FROM:<a@lab.test>",
                   "550 5.7.1 relaying denied": "RCPT TO:<b@lab.test>",
                   "354 End data with <CR><LF>.<CR><LF>": "DATA",
                   "250 2.0.0 delivered": 'message: "hi" (21 bytes)'}


def test_pop3_responses_answer_their_commands() -> None:
    got = conversation(
        "pop3",
        (Sender.SERVER, b"+OK POP3 ready\r\n"),
        (Sender.CLIENT, b"USER ann\r\n"),
        (Sender.SERVER, b"+OK ann\r\n"),
        (Sender.CLIENT, b"PASS secret\r\n"),
        (Sender.SERVER, b"-ERR wrong password\r\n"))
    assert got == {"+OK ann": "USER ann", "-ERR wrong password": "PASS ****"}


def test_ftp_final_replies_answer_and_150_waits() -> None:
    got = conversation(
        "ftp",
        (Sender.SERVER, b"220 ready\r\n"),
        (Sender.CLIENT, b"RETR a.txt\r\n"),
        (Sender.SERVER, b"150 opening the data connection\r\n"),
        (Sender.SERVER, b"226 sent\r\n"),
        (Sender.CLIENT, b"QUIT\r\n"),
        (Sender.SERVER, b"221 bye\r\n"))
    assert got == {"226 sent": "RETR a.txt", "221 bye": "QUIT"}


def _dns(name: str, qid: int, answer: bool = False) -> bytes:
    query = dns.message.make_query(name, "A", id=qid)
    return (dns.message.make_response(query) if answer else query).to_wire()


def test_dns_responses_pair_by_id_in_any_order() -> None:
    got = conversation(
        "dns",
        (Sender.CLIENT, _dns("a.lab.test", 1)),
        (Sender.CLIENT, _dns("b.lab.test", 2)),
        (Sender.SERVER, _dns("b.lab.test", 2, answer=True)),  # the second answered first
        (Sender.SERVER, _dns("x.lab.test", 9, answer=True)),  # answers nothing asked
        (Sender.SERVER, _dns("a.lab.test", 1, answer=True)))
    assert got == {
        "Response 0x0002 NOERROR A b.lab.test (no records)": "Query 0x0002 A b.lab.test?",
        "Response 0x0001 NOERROR A a.lab.test (no records)": "Query 0x0001 A a.lab.test?"}


def test_a_dns_id_pairs_only_on_its_own_connection() -> None:
    pairer = Pairer()
    assert pairer.add(1, protocol="dns", connection="c1", from_client=True,
                      first_field=("id", 7)) is None
    assert pairer.add(2, protocol="dns", connection="c2", from_client=False,
                      first_field=("id", 7)) is None
    assert pairer.add(3, protocol="dns", connection="c1", from_client=False,
                      first_field=("id", 7)) == 1
    assert pairer.add(4, protocol="dns", connection="c1", from_client=False,
                      first_field=("id", 7)) is None  # answered once only


def test_dns_questions_never_answered_are_forgotten_past_the_newest_thousand() -> None:
    pairer = Pairer()

    def add(message_id: int, qid: int, connection: str = "c1",
            from_client: bool = True) -> int | None:
        return pairer.add(message_id, protocol="dns", connection=connection,
                          from_client=from_client, first_field=("id", qid))

    for n in range(KEYED_KEPT + 5):  # ids 0…1004 asked, none answered yet
        assert add(n, n) is None
    assert add(5000, 7, "c2") is None  # another connection keeps its own
    assert [add(10_000 + n, n, from_client=False) for n in range(5)] == [None] * 5
    assert add(10_005, 5, from_client=False) == 5  # the oldest still kept
    assert add(10_006, KEYED_KEPT + 4, from_client=False) == KEYED_KEPT + 4
    assert add(10_007, 7, "c2", from_client=False) == 5000
    # A key asked again and again: the newest thousand of them wait, oldest first.
    for n in range(KEYED_KEPT + 2):
        add(20_000 + n, 9, "c3")
    assert add(30_000, 9, "c3", from_client=False) == 20_002


def http_and_dns() -> Capture:
    """A pipelined HTTP exchange, a malformed request answered 400, and DNS lookups
    answered out of order, interleaved in one capture."""
    capture = Capture()
    http = capture.open(protocol="http", transport=Transport.TCP, client="c:1", server="s:2")
    bad = capture.open(protocol="http", transport=Transport.TCP, client="c:3", server="s:2")
    udp = capture.open(protocol="dns", transport=Transport.UDP, client="c:4", server="s:53")
    dissectors = {conn.id: make(conn.protocol) for conn in (http, bad, udp)}
    steps = [(http, Sender.CLIENT, PIPELINED), (udp, Sender.CLIENT, _dns("a.lab.test", 1)),
             (udp, Sender.CLIENT, _dns("b.lab.test", 2)),
             (bad, Sender.CLIENT, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
             (udp, Sender.SERVER, _dns("b.lab.test", 2, answer=True)),
             (http, Sender.SERVER, ANSWERS),
             (bad, Sender.SERVER, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
             (udp, Sender.SERVER, _dns("a.lab.test", 1, answer=True))]
    for time, (conn, sender, data) in enumerate(steps):
        for piece in dissectors[conn.id].feed(sender, data, float(time)):
            capture.add(conn, piece)
    return capture


def test_pairs_over_messages_and_over_records_agree() -> None:
    from lab.capture_lines import message_record
    from lab.pairs import Pairs

    capture = http_and_dns()
    by_message, by_record = Pairs(), Pairs()
    for m in capture.messages:
        assert by_message.add(m) == by_record.add_record(message_record(m))
    summary = {m.id: m.summary for m in capture.messages}
    got = {summary[m.id]: summary[p] for m in capture.messages
           if m.sender is Sender.SERVER and (p := by_message.partner(m.id)) is not None}
    assert got["200 OK"] == "GET /a" and got["404 Not Found"] == "GET /b"
    assert "400 Bad Request" not in got  # its request was unreadable: no method to answer
    assert len(by_message) == len(got) == 4
    assert all(by_record.partner(m.id) == by_message.partner(m.id) for m in capture.messages)


def test_an_in_order_queue_is_bounded_and_never_pairs_the_wrong_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A client pipelines more requests than are kept waiting: the oldest are
    forgotten, their answers pair with nothing, the rest pair as they should, and a
    connection with nothing waiting keeps nothing."""
    import lab.pairing

    monkeypatch.setattr(lab.pairing, "ORDERED_KEPT", 3)
    pairer = Pairer()

    def add(message_id: int, from_client: bool) -> int | None:
        field = ("method", "GET") if from_client else ("status", 200)
        return pairer.add(message_id, protocol="http", connection="c1",
                          from_client=from_client, first_field=field)

    for n in range(1, 6):  # requests 1..5: 1 and 2 are forgotten
        assert add(n, True) is None
    assert [add(n, False) for n in range(6, 11)] == [None, None, 3, 4, 5]
    assert not pairer._waiting and not pairer._forgotten
