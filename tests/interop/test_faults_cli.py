"""cslab relay and serve with faults, as real processes: --latency slows a round
trip by about its value, --loss with --seed drops the same datagrams each run."""

from __future__ import annotations

import socket
import time

from tests.interop.test_cli import Cslab, echo_server  # noqa: F401  (a fixture)


def round_trip(port: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"ping\n")
        got = b""
        while len(got) < 5:
            got += sock.recv(100)
        return time.monotonic() - start


def test_relay_latency_adds_about_its_value_and_is_printed_once(echo_server: int) -> None:  # noqa: F811
    lab = Cslab("relay", "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_server}",
                "--latency", "200")
    try:
        _, port = lab.listening()
        took = round_trip(port)
        assert 0.18 <= took < 1.0, took
        lines = [lab.line() for _ in range(3)]  # the note, the ping, its echo
        assert any("Wire delayed 200 ms a round trip [injected]" in line for line in lines)
        assert lab.terminate() == 0
    finally:
        lab.kill()


def lost(seed: str) -> list[int]:
    """Which of 20 datagrams to a udp-echo server with 30 % loss come back (each way)."""
    lab = Cslab("serve", "udp-echo", "--port", "0", "--loss", "0.3", "--seed", seed)
    try:
        _, port = lab.listening()
        back = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            sock.connect(("127.0.0.1", port))
            for i in range(20):
                sock.send(b"%d" % i)
                try:
                    back.append(int(sock.recv(100)))
                except TimeoutError:
                    pass
        assert lab.terminate() == 0
        return sorted(set(back))  # a late echo counts all the same
    finally:
        lab.kill()


def test_serve_loss_with_a_seed_repeats() -> None:
    first = lost("5")
    assert first == lost("5")
    assert 2 <= len(first) <= 19


def test_a_bad_loss_is_refused_with_exit_2() -> None:
    lab = Cslab("serve", "udp-echo", "--port", "0", "--loss", "2")
    try:
        assert lab.proc.wait(10) == 2
        assert "loss" in lab.stderr()
    finally:
        lab.kill()
