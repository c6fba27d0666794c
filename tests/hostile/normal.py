"""A normal, real third-party client for each kind: what a user sees when it works.

Each returns a short text of the reply (``200``, ``250``…) or raises."""

from __future__ import annotations

import ftplib
import poplib
import smtplib
import socket
import subprocess
from collections.abc import Callable

import dns.message
import dns.query
import dns.rdatatype
from websockets.sync.client import connect

from tests.hostile.served import HOST

TIMEOUT = 10.0


def http(port: int) -> str:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          "--max-time", str(TIMEOUT), f"http://{HOST}:{port}/"],
                         capture_output=True, text=True, timeout=TIMEOUT + 5, check=False)
    if out.stdout != "200":
        raise RuntimeError(f"curl: {out.stdout} {out.stderr.strip()}")
    return "200"


def smtp(port: int) -> str:
    with smtplib.SMTP(HOST, port, timeout=TIMEOUT) as client:
        refused = client.sendmail("ann@lab.test", ["bob@lab.test"],
                                  b"Subject: after the storm\r\n\r\nstill here\r\n")
        if refused:
            raise RuntimeError(f"refused {refused}")
        code, _ = client.noop()
    return str(code)


def pop3(port: int) -> str:
    client = poplib.POP3(HOST, port, timeout=TIMEOUT)
    try:
        client.user("bob")
        client.pass_("lab")
        count, _ = client.stat()
        return f"+OK {count} messages"
    finally:
        client.quit()


def ftp(port: int) -> str:
    with ftplib.FTP() as client:
        client.connect(HOST, port, timeout=TIMEOUT)
        client.login("student", "lab")
        names = client.nlst()
        if "hello.txt" not in names:
            raise RuntimeError(f"NLST: {names}")
    return "hello.txt listed"


def ws(port: int) -> str:
    with connect(f"ws://{HOST}:{port}/?name=normal", open_timeout=TIMEOUT,
                 close_timeout=2) as client:
        client.send("still here")
        for _ in range(20):
            text = client.recv(timeout=TIMEOUT)
            if text == "normal: still here":
                return str(text)
    raise RuntimeError("no echo from the room")


def _dns_answer(response: dns.message.Message) -> str:
    answer = [item.to_text() for rrset in response.answer for item in rrset]
    if answer != ["127.0.0.1"]:
        raise RuntimeError(f"answer {answer}")
    return "www.lab.test A 127.0.0.1"


def dns_udp(port: int) -> str:
    query = dns.message.make_query("www.lab.test", dns.rdatatype.A)
    return _dns_answer(dns.query.udp(query, HOST, port=port, timeout=TIMEOUT))


def dns_tcp(port: int) -> str:
    query = dns.message.make_query("www.lab.test", dns.rdatatype.A)
    return _dns_answer(dns.query.tcp(query, HOST, port=port, timeout=TIMEOUT))


def tcp_echo(port: int) -> str:
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as sock:
        sock.sendall(b"ping\n")
        got = b""
        while len(got) < 5:
            chunk = sock.recv(64)
            if not chunk:
                break
            got += chunk
    if got != b"ping\n":
        raise RuntimeError(f"echo {got!r}")
    return "ping"


def udp_echo(port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(b"ping", (HOST, port))
        data, _ = sock.recvfrom(64)
    if data != b"ping":
        raise RuntimeError(f"echo {data!r}")
    return "ping"


#: target name → the normal client for it.
CLIENTS: dict[str, Callable[[int], str]] = {
    "http": http, "smtp": smtp, "pop3": pop3, "ftp": ftp, "ws": ws,
    "dns-udp": dns_udp, "dns-tcp": dns_tcp, "tcp-echo": tcp_echo, "udp-echo": udp_echo,
}
