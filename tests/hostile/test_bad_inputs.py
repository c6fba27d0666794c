"""Bad files and options, given to the real ``cslab`` as a user would: each one gets
exactly one line on stderr (``cslab: …`` naming the file or option and what is wrong),
exit code 2, no traceback, and nothing hangs (every run has a deadline). An export
that fails leaves no file behind, and one to a full disk or an interrupted one
leaves no partial file. Scenario checking is linear in the file's size.

Every bad input is made by the test in tmp_path."""

from __future__ import annotations

import base64
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.capture import Capture
from lab.dissect import make
from lab.export import capture_records, export
from lab.model import Sender, Transport
from lab.scenario import parse

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("jsonl", "har", "pcapng", "cslab")
#: The most a refused input may take, in seconds: far more than it needs, so a hang
#: is told from a busy machine.
DEADLINE = 60.0

Record = dict[str, Any]


def cslab(*args: str | Path, timeout: float = DEADLINE,
          limit_file_size: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m lab.cli ARGS``, finished within ``timeout`` (a hang fails the test)."""

    def limit() -> None:  # a disk that fills after this many bytes, for each file
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        assert limit_file_size is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run([sys.executable, "-m", "lab.cli", *map(str, args)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout,
                          preexec_fn=limit if limit_file_size else None)


def assert_refused(done: subprocess.CompletedProcess[str], *names: str,
                   says: tuple[str, ...] = ()) -> str:
    """Exit 2, one ``cslab: `` line on stderr naming ``names`` and saying one of ``says``."""
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    line = lines[0]
    assert line.startswith("cslab: "), line
    for name in names:
        assert name in line, (name, line)
    assert not says or any(word in line for word in says), (says, line)
    assert done.returncode == 2, (done.returncode, line)
    return line


# ---- a good capture, and bad ones made from it ---------------------------------------

def good_capture() -> Capture:
    """One HTTP exchange, dissected as the lab does."""
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP,
                        client="127.0.0.1:5000", server="127.0.0.1:8080")
    dissector = make("http")
    steps = ((Sender.CLIENT, b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"),
             (Sender.SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
    for offset, (sender, data) in enumerate(steps):
        for piece in dissector.feed(sender, data, 1000.0 + offset):
            capture.add(conn, piece)
    capture.close(conn.id)
    return capture


def good_records() -> list[Record]:
    return capture_records(good_capture())


def lines(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def with_message(**changes: Any) -> Callable[[Path], bytes]:
    """The good capture with its first message's fields changed (a JSON literal for a
    value that is a str starting with ``=``, as NaN or Infinity)."""

    def build(folder: Path) -> bytes:
        records = good_records()
        first = next(r for r in records if r["type"] == "message")
        literals = {}
        for key, value in changes.items():
            if isinstance(value, str) and value.startswith("="):
                first[key] = f"@{key}@"
                literals[f'"@{key}@"'] = value[1:]
            else:
                first[key] = value
        text = lines(records)
        for marker, literal in literals.items():
            text = text.replace(marker.encode(), literal.encode())
        return text

    return build


def random_bytes(folder: Path) -> bytes:
    return random.Random(17).randbytes(64 * 1024)


def not_utf8(folder: Path) -> bytes:
    return lines(good_records()) + b'{"type": "message", "summary": "\xff\xfe"}\n'


def deeply_nested(folder: Path) -> bytes:
    return lines(good_records()) + b"[" * 100_000 + b"]" * 100_000 + b"\n"


def deeply_nested_fields(folder: Path) -> bytes:
    deep = "[" * 100_000 + "]" * 100_000
    return with_message(fields="=" + '{"a": ' + deep + "}")(folder)


def huge_summary(folder: Path) -> bytes:
    return with_message(summary="x" * (50 << 20))(folder)


def bit_flipped_cslab(folder: Path) -> bytes:
    """A .cslab whose schema page is overwritten: SQLite finds it malformed."""
    good = folder / "good.cslab"
    jsonl = folder / "good.jsonl"
    jsonl.write_bytes(lines(good_records()))
    export(jsonl, "cslab", good)
    data = bytearray(good.read_bytes())
    for at in range(100, 400):
        data[at] ^= 0x5A
    good.unlink()
    jsonl.unlink()
    return bytes(data)


def cslab_with_wrong_types(folder: Path) -> bytes:
    """A .cslab of the right schema whose message time is text, not a number."""
    path = folder / "typed.cslab"
    jsonl = folder / "typed.jsonl"
    jsonl.write_bytes(lines(good_records()))
    export(jsonl, "cslab", path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE messages SET time = 'soon'")
    db.close()
    data = path.read_bytes()
    path.unlink()
    jsonl.unlink()
    return data


BAD_CAPTURES: dict[str, tuple[Callable[[Path], bytes], tuple[str, ...]]] = {
    "random-bytes": (random_bytes, ("not UTF-8", "not JSON", "not a capture")),
    "not-utf8": (not_utf8, ("not UTF-8",)),
    "empty": (lambda _: b"", ("no capture records",)),
    "blank-lines": (lambda _: b"\n\n  \n", ("no capture records",)),
    "a-list": (lambda _: b"[1, 2, 3]\n", ("not a capture record",)),
    "deeply-nested": (deeply_nested, ("nested too deeply",)),
    "deeply-nested-fields": (deeply_nested_fields, ("nested too deeply",)),
    "fields-as-list": (with_message(fields=[["a", 1]]), ("fields",)),
    "time-as-text": (with_message(time="soon"), ("time",)),
    "time-nan": (with_message(time="=NaN"), ("NaN",)),
    "time-infinity": (with_message(time="=Infinity"), ("Infinity",)),
    "time-negative": (with_message(time=-5.0), ("time",)),
    "time-1e300": (with_message(time=1e300), ("time",)),
    "size-negative": (with_message(size=-1), ("size",)),
    "size-as-text": (with_message(size="big"), ("size",)),
    "id-as-float": (with_message(id=1.5), ("id",)),
    "summary-as-number": (with_message(summary=12), ("summary",)),
    "sender-unknown": (with_message(sender="alien"), ("sender",)),
    "connection-as-list": (with_message(connection=[1]), ("connection",)),
    "raw-bad-base64": (with_message(raw="!!not base64!!"), ("raw",)),
    "raw-as-number": (with_message(raw=7), ("raw",)),
    "summary-50MB": (huge_summary, ("summary",)),
    "bit-flipped.cslab": (bit_flipped_cslab, ("damaged", "not a .cslab", "malformed")),
    "wrong-types.cslab": (cslab_with_wrong_types, ("damaged", "time")),
}


def write_bad_captures(folder: Path) -> dict[str, Path]:
    """Every bad capture of BAD_CAPTURES written into ``folder``, by name."""
    made: dict[str, Path] = {}
    for name, (build, _) in BAD_CAPTURES.items():
        path = folder / (name if name.endswith(".cslab") else f"{name}.jsonl")
        path.write_bytes(build(folder))
        made[name] = path
    return made


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_bad_captures(tmp_path_factory.mktemp("bad"))


def test_the_good_capture_exports_in_every_format(tmp_path: Path) -> None:
    source = tmp_path / "good.jsonl"
    source.write_bytes(lines(good_records()))
    for fmt in FORMATS:
        done = cslab("export", source, "--format", fmt, "-o", tmp_path / f"out.{fmt}")
        assert done.returncode == 0 and not done.stderr, done.stderr
        assert (tmp_path / f"out.{fmt}").stat().st_size > 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(BAD_CAPTURES))
def test_a_bad_capture_is_one_line_and_no_file(name: str, fmt: str, bad_files: dict[str, Path],
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = cslab("export", bad_files[name], "--format", fmt, "-o", out / f"x.{fmt}")
    assert_refused(done, str(bad_files[name]), says=BAD_CAPTURES[name][1])
    assert list(out.iterdir()) == []


def test_random_bit_flips_in_a_cslab_are_refused_in_one_line_or_read(tmp_path: Path) -> None:
    """SQLite keeps no checksums, so a flip in a message's bytes may go unseen; any flip
    it does see is one line and exit 2."""
    source = tmp_path / "good.jsonl"
    source.write_bytes(lines(good_records()))
    export(source, "cslab", tmp_path / "good.cslab")
    data = (tmp_path / "good.cslab").read_bytes()
    refused = 0
    for seed in range(12):
        chance = random.Random(seed)
        flipped = bytearray(data)
        for _ in range(20):
            flipped[chance.randrange(100, len(flipped))] ^= 1 << chance.randrange(8)
        path = tmp_path / f"flipped-{seed}.cslab"
        path.write_bytes(flipped)
        done = cslab("export", path, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
        if done.returncode != 0:
            assert_refused(done, str(path))
            refused += 1
    assert refused, "no flip was noticed: the test flips too little"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_folder_a_fifo_a_device_and_a_missing_file_are_refused_unread(
        fmt: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block for ever
    out = tmp_path / "out"
    out.mkdir()
    for source, says in ((tmp_path, "a folder"), (fifo, "a FIFO"), (Path("/dev/zero"), "a device"),
                         (tmp_path / "missing.jsonl", "No such file")):
        done = cslab("export", source, "--format", fmt, "-o", out / f"x.{fmt}")
        assert_refused(done, str(source), says=(says,))
        assert list(out.iterdir()) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_to_a_full_disk_leaves_the_old_file_and_no_part(fmt: str,
                                                                  tmp_path: Path) -> None:
    capture = Capture()
    conn = capture.open(protocol="http", transport=Transport.TCP,
                        client="127.0.0.1:5000", server="127.0.0.1:8080")
    dissector = make("http")
    body = os.urandom(512).hex().encode()
    for n in range(200):  # about 200 exchanges of 1 KiB: 400 KiB of messages
        for sender, data in ((Sender.CLIENT, b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"),
                             (Sender.SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n"
                                             b"Content-Type: text/plain\r\n\r\n" + body)):
            for piece in dissector.feed(sender, data, 2000.0 + n):
                capture.add(conn, piece)
    source = tmp_path / "big.jsonl"
    source.write_bytes(lines(capture_records(capture)))
    out = tmp_path / "out"
    out.mkdir()
    old = out / f"x.{fmt}"
    old.write_text("the previous export\n")
    done = cslab("export", source, "--format", fmt, "-o", old, limit_file_size=64 * 1024)
    line = assert_refused(done, str(old), says=("cannot write", "disk", "large", "full"))
    assert old.read_text() == "the previous export\n", line
    assert [p.name for p in out.iterdir()] == [old.name]


def test_an_interrupted_export_leaves_no_part(tmp_path: Path) -> None:
    record = next(r for r in good_records() if r["type"] == "message")
    record["raw"] = base64.b64encode(b"x" * 600).decode()
    source = tmp_path / "big.jsonl"
    with open(source, "wb") as stream:
        stream.write(lines([r for r in good_records() if r["type"] == "open"]))
        one = json.dumps(record).encode() + b"\n"
        stream.write(one * 150_000)  # about 150 MB: seconds to write
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "export", str(source),
                             "--format", "jsonl", "-o", str(out / "x.jsonl")], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + DEADLINE
        while not any(p.suffix == ".part" for p in out.iterdir()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "Traceback" not in err
    assert err.splitlines() == [f"cslab: interrupted; {out / 'x.jsonl'} was not written"]
    assert list(out.iterdir()) == []


# ---- scenarios -----------------------------------------------------------------------

HEAD = '[scenario]\ntitle = "bad"\n'
SERVER = '[[server]]\nkind = "http"\nport = 0\n'
CLIENT = '[[client]]\nkind = "http"\n'


def zone_scenario(zone: str) -> str:
    return (HEAD + '[[server]]\nkind = "dns"\nport = 0\n'
            + f"options = {{ zone = {json.dumps(zone)} }}\n")


BAD_SCENARIOS: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "not-utf8": (HEAD.encode() + b'goal = "\xff\xfe"\n', ("not UTF-8",)),
    "random-bytes": (random.Random(3).randbytes(8192), ("not UTF-8", "not valid TOML")),
    "deep-arrays": ((HEAD + "x = " + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
                    ("nested too deeply",)),
    "deep-title": ((HEAD.replace('"bad"', "[" * 400 + "]" * 400)).encode(),
                   ("nested too deeply", "is not a string")),
    "server-list-of-numbers": (("server = [1]\n" + HEAD).encode(), ("server", "not a table")),
    "client-a-string": (('client = ["x"]\n' + HEAD + SERVER).encode(), ("not a table",)),
    "step-a-number": (("step = 3\n" + HEAD + SERVER).encode(), ("step",)),
    "zone-garbage": (zone_scenario("garbage ))) $ORIGIN").encode(), ("zone",)),
    "zone-bad-record": (zone_scenario("@ 3600 IN SOA ns h 1 2 3 4 5\n@ IN A notanip").encode(),
                        ("zone",)),
    "zone-bad-soa-names": (zone_scenario("@ 99999999999 IN SOA ns hostmaster 1 2 3 4 5")
                           .encode(), ("zone",)),
    "latency-nan": ((HEAD + SERVER + "[wire]\nfaults = { latency = nan }\n").encode(),
                    ("latency", "nan")),
    "latency-inf": ((HEAD + SERVER + "[wire]\nfaults = { latency = inf }\n").encode(),
                    ("latency", "inf")),
    "jitter-negative": ((HEAD + SERVER + "[wire]\nfaults = { jitter = -5 }\n").encode(),
                        ("jitter",)),
    "loss-nan": ((HEAD + SERVER + "[wire]\nfaults = { loss = nan }\n").encode(), ("loss",)),
    "step-latency-inf": ((HEAD + SERVER + CLIENT + '[[step]]\nclient = "http"\n'
                          'action = "get /"\nfaults = { latency = 1e300 }\n').encode(),
                         ("latency",)),
    "bandwidth-negative": ((HEAD + SERVER + "[wire]\nfaults = { bandwidth = -3 }\n").encode(),
                           ("bandwidth",)),
    "empty": (b"", ("title",)),
}


@pytest.mark.parametrize("name", list(BAD_SCENARIOS))
def test_a_bad_scenario_is_one_line(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.toml"
    data, says = BAD_SCENARIOS[name]
    path.write_bytes(data)
    assert_refused(cslab("run", path), str(path), says=says)


def test_a_capture_a_folder_a_fifo_and_a_device_are_not_scenarios(tmp_path: Path) -> None:
    source = tmp_path / "good.jsonl"
    source.write_bytes(lines(good_records()))
    saved = tmp_path / "capture.toml"
    export(source, "cslab", saved)
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    for path, says in ((saved, ".cslab capture"), (tmp_path, "a folder"), (fifo, "a FIFO"),
                       (Path("/dev/zero"), "a device"), (source, "not valid TOML")):
        assert_refused(cslab("run", path), str(path), says=(says,))


def many_steps(count: int) -> str:
    step = '\n[[step]]\nclient = "http"\naction = "get /index.html"\nexpect = { status = 200 }\n'
    return HEAD + SERVER + CLIENT + step * count


def test_scenario_checking_is_linear_in_the_file_s_size() -> None:
    text = many_steps(20_000)
    started = time.perf_counter()
    scenario = parse(text, "many.toml")
    took = time.perf_counter() - started
    assert len(scenario.steps) == 20_000
    assert took < 4.0, f"20,000 steps took {took:.1f} s to check"  # was minutes (quadratic)


def test_an_error_in_the_last_of_20000_steps_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(many_steps(20_000) + '\n[[step]]\nclient = "nobody"\naction = "get /"\n')
    line = assert_refused(cslab("run", path), str(path), says=("nobody",))
    assert f"{path}:{len(path.read_text().splitlines()) - 1}:" in line


# ---- options -------------------------------------------------------------------------

BAD_OPTIONS: dict[str, tuple[list[str], str]] = {
    "port-99999": (["serve", "tcp-echo", "--port", "99999"], "--port"),
    "port-negative": (["serve", "tcp-echo", "--port", "-1"], "--port"),
    "port-text": (["serve", "tcp-echo", "--port", "eighty"], "--port"),
    "latency-inf": (["serve", "tcp-echo", "--port", "0", "--latency", "inf"], "--latency"),
    "latency-nan": (["serve", "tcp-echo", "--port", "0", "--latency", "nan"], "--latency"),
    "latency-negative": (["serve", "tcp-echo", "--port", "0", "--latency", "-5"], "--latency"),
    "jitter-nan": (["serve", "tcp-echo", "--port", "0", "--jitter", "nan"], "--jitter"),
    "loss-2": (["serve", "tcp-echo", "--port", "0", "--loss", "2"], "--loss"),
    "loss-nan": (["serve", "tcp-echo", "--port", "0", "--loss", "nan"], "--loss"),
    "bandwidth-negative": (["serve", "tcp-echo", "--port", "0", "--bandwidth", "-1"],
                           "--bandwidth"),
    "max-total-negative": (["serve", "tcp-echo", "--port", "0", "--max-total", "-3"],
                           "--max-total"),
    "max-per-client-negative": (["serve", "tcp-echo", "--port", "0", "--max-per-client", "-1"],
                                "--max-per-client"),
    "unknown-kind": (["serve", "gopher"], "gopher"),
    "unknown-option": (["serve", "tcp-echo", "--colour", "red"], "--colour"),
    "relay-latency-inf": (["relay", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:9",
                           "--latency", "inf"], "--latency"),
    "relay-bad-address": (["relay", "--listen", "nowhere", "--to", "127.0.0.1:9"],
                          "--listen"),
    "export-no-format": (["export", "x.jsonl", "-o", "y"], "--format"),
    "export-unknown-format": (["export", "x.jsonl", "--format", "pcap", "-o", "y"], "pcap"),
}


@pytest.mark.parametrize("name", list(BAD_OPTIONS))
def test_a_bad_option_is_one_line(name: str) -> None:
    argv, option = BAD_OPTIONS[name]
    assert_refused(cslab(*argv), option)
