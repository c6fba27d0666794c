"""cslab: the command line. Every command but ``gui`` runs without Qt.

    cslab [gui] [LESSON|SCENARIO|CAPTURE]   open the window (and the lesson or capture)
    cslab serve KIND [--host H] [--port P] [--root DIR] [--user U] [--password PW]
                     [--auth] [--capture FILE.jsonl] [--record FILE.cslab]
                     [--max-per-client N] [--max-total N] [-q]
    cslab relay --listen H:P --to H:P [--protocol KIND] [--udp] [--capture FILE.jsonl]
                [--record FILE.cslab] [-q]
    cslab export CAPTURE --format jsonl|har|pcapng|cslab -o FILE
    cslab run SCENARIO [--capture FILE.jsonl] [--record FILE.cslab] [--pcap FILE.pcapng]
                       [--timeout S]
    cslab lessons                    list the built-in lessons

``serve`` and ``relay`` also take the Wire's faults: ``--latency MS --jitter MS
--bandwidth BYTES_PER_S --loss P --seed N``.

``serve`` and ``relay`` print ``listening on H:P`` first, then one line per
message (not with ``-q``: the capture goes on, to the files asked for), and run
until interrupted (Ctrl+C or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import stat
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lab import kinds as kind_table
from lab.cli_args import count, milliseconds, port, probability, seconds, students
from lab.cli_output import RUN_TIMEOUT, capture_file, freeze_start_up, printer, record_file
from lab.dissect import FALLBACK
from lab.engine import Engine, EngineError
from lab.kinds import ServerSide
from lab.model import Transport, parse_address
from lab.servers import server_kinds
from lab.servers.students import student_passwords

if TYPE_CHECKING:
    from lab.store import Stored

class Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (``cslab: …``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cslab: {message} (see {self.prog} --help)\n")


async def _until_stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def _run(args: argparse.Namespace, start: Callable[[Engine], Awaitable[str]]) -> int:
    engine = Engine()
    if not args.quiet:
        engine.capture.subscribe(printer(sys.stdout))
    try:
        with (capture_file(engine.capture, args.capture),
              record_file(engine.capture, args.record)):
            try:
                address = await start(engine)
            except (EngineError, OSError, ValueError) as exc:
                print(f"cslab: {exc}", file=sys.stderr)
                await engine.shutdown()
                return 2
            print(f"listening on {address}", flush=True)
            freeze_start_up()
            try:
                await _until_stopped()
            finally:
                await engine.shutdown()
    finally:
        engine.capture.finish()  # the store of older messages (a recording stays)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    async def start(engine: Engine) -> str:
        options = {name: value for name in ("root", "user", "password")
                   if (value := getattr(args, name)) is not None}
        if args.auth:
            if args.kind != "smtp":
                raise ValueError(f"--auth is for smtp, not {args.kind}")
            options["auth"] = "on"
        if args.students:
            if "students" not in kind_table.servers()[args.kind].options:
                raise ValueError(f"--students is for {_takers('students')}, not {args.kind}")
            options["students"] = str(args.students)
        info = await engine.add_server(args.kind, host=args.host, port=args.port,
                                       options=options, start=False)
        engine.wire_board.set_faults(info.id, **_fault_settings(args))
        await engine.share_server(info.id, args.host, max_per_client=args.max_per_client,
                                  max_total=args.max_total)
        address = (await engine.start_server(info.id)).address
        for shared in engine.share_addresses(info.id):
            print(f"shared on the network: {shared}", file=sys.stderr, flush=True)
        for user, password in student_passwords(
                args.students, "ftp" if args.kind == "ftp" else "mail").items():
            print(f"student password: {user} {password}", file=sys.stderr, flush=True)
        return address

    return asyncio.run(_run(args, start))


def _address(option: str, text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def cmd_relay(args: argparse.Namespace) -> int:
    async def start(engine: Engine) -> str:
        listen, target = _address("--listen", args.listen), _address("--to", args.to)
        transport = Transport.UDP if args.udp else Transport.TCP
        wire = await engine.relay(listen, target, protocol=args.protocol, transport=transport)
        engine.wire_board.set_faults(wire.wire_id, **_fault_settings(args))
        return wire.public_address

    return asyncio.run(_run(args, start))


def cmd_export(args: argparse.Namespace) -> int:
    from lab.export import ExportError, export

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # the temporary file is removed either way
    try:
        count = export(args.capture, args.format, args.output)
    except ExportError as exc:
        print(f"cslab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cslab: interrupted; {args.output} was not written", file=sys.stderr)
        return 130
    unit = {"har": "entries", "pcapng": "packets", "cslab": "messages"}.get(args.format,
                                                                           "records")
    print(f"wrote {count} {unit} to {args.output}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lab.scenario_cli import cmd_run as run_scenario

    return run_scenario(args)


def cmd_lessons(args: argparse.Namespace) -> int:
    from lab.scenario_cli import cmd_lessons as list_lessons

    return list_lessons(args)


def _is_capture(name: str) -> bool:
    """Whether ``cslab gui NAME`` opens NAME as a capture: a ``.cslab`` or ``.jsonl``
    name, or a regular file that starts with SQLite's header (a FIFO is never opened)."""
    from lab.store import is_sqlite

    if Path(name).suffix in (".cslab", ".jsonl"):
        return True
    try:
        regular = stat.S_ISREG(os.stat(name).st_mode)
    except OSError:
        return False
    return regular and is_sqlite(name)


def gui_file(name: str) -> Stored | None:
    """``cslab gui NAME``'s file, checked before any window opens, as ``cslab run`` and
    ``cslab export`` check theirs: a capture loaded (a Stored), or None for a valid
    scenario or lesson. A bad one raises ScenarioError or ExportError (one line)."""
    from lab.export import load_for_viewing
    from lab.scenario import load

    if _is_capture(name):  # a big .cslab: its messages are checked as they are shown
        return load_for_viewing(name)
    load(name)
    return None


def cmd_gui(args: argparse.Namespace) -> int:
    from lab.export import ExportError
    from lab.scenario import ScenarioError

    capture = None
    if args.scenario:
        try:
            capture = gui_file(args.scenario)
        except (ScenarioError, ExportError) as exc:
            print(f"cslab: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"cslab: interrupted while reading {args.scenario}", file=sys.stderr)
            return 130
    from ui.app import main as gui_main  # the one door to Qt

    if capture is not None:
        return gui_main(capture=(args.scenario, capture))
    return gui_main(args.scenario)


RECORD_HELP = ("record the capture into a new SQLite file as it happens "
               "(committed every fifth of a second: a kill loses at most the last half "
               "second)")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only where it listens, not every message")
    faults = parser.add_argument_group("faults the Wire applies (see lab/wire/faults.py)")
    faults.add_argument("--latency", type=milliseconds, default=0.0, metavar="MS",
                        help="add MS milliseconds to each round trip (half each way)")
    faults.add_argument("--jitter", type=milliseconds, default=0.0, metavar="MS",
                        help="add a random -MS…+MS to the latency (order is kept)")
    faults.add_argument("--bandwidth", type=count, default=0, metavar="BYTES_PER_S",
                        help="limit each direction to this many bytes per second")
    faults.add_argument("--loss", type=probability, default=0.0, metavar="P",
                        help="drop each UDP datagram with probability P (0-1)")
    faults.add_argument("--seed", type=int, default=None, metavar="N",
                        help="seed jitter and loss, so a run can be repeated")


def _fault_settings(args: argparse.Namespace) -> dict[str, float | int | None]:
    return {name: getattr(args, name)
            for name in ("latency", "jitter", "bandwidth", "loss", "seed")}


def _takers(option: str) -> str:
    """The server kinds that take ``option``: "smtp, pop3, ftp"."""
    return ", ".join(name for name, side in kind_table.servers().items()
                     if option in side.options)


def _option_help(sides: Mapping[str, ServerSide], option: str) -> str:
    """What ``option`` means to each kind that takes it: "http: the site; ftp: …"."""
    return "; ".join(f"{name}: {side.options[option]}"
                     for name, side in sides.items() if option in side.options)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cslab",
        description="Client-Server Lab: real servers and clients, every message shown.",
    )
    sub = parser.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument("scenario", nargs="?", metavar="FILE",
                     help="a lesson or scenario to open, or a capture (.cslab or JSON "
                          "Lines) to show read-only")
    gui.set_defaults(func=cmd_gui)

    kinds = server_kinds()
    sides = kind_table.servers()
    serve = sub.add_parser(
        "serve", help="run one server behind a Wire, headless",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="kinds:\n" + "\n".join(
            f"  {name:<10} {spec.title} (port {spec.default_port})"
            + (f": {sides[name].note}" if sides[name].note else "")
            for name, spec in kinds.items()))
    serve.add_argument("kind", choices=sorted(kinds), help="the kind of server")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (127.0.0.1); an address of this machine "
                            "or 0.0.0.0 shares the server on the network")
    both = ", ".join(name for name, spec in kinds.items() if spec.tcp_dissector)
    serve.add_argument("--port", type=port, default=None,
                       help="port to listen on (the kind's default; 0 picks a free one)"
                            + (f"; {both} takes it for UDP and for TCP" if both else ""))
    for option, metavar in (("root", "DIR"), ("user", "U"), ("password", "PW")):
        serve.add_argument(f"--{option}", metavar=metavar, help=_option_help(sides, option))
    serve.add_argument("--auth", action="store_true",
                       help="smtp: offer AUTH PLAIN and LOGIN and require it before MAIL "
                            "(log in as --user / --password, default student / lab); "
                            "without TLS the password crosses in the clear")
    serve.add_argument("--students", type=students, default=0, metavar="N",
                       help=f"{_takers('students')}: users student1..N, each with its own "
                            "password (printed at start, the same each time on this "
                            "machine); the lab password then works from this machine only")
    serve.add_argument("--capture", metavar="FILE.jsonl", help="append the capture as JSON Lines")
    serve.add_argument("--record", metavar="FILE.cslab", help=RECORD_HELP)
    serve.add_argument("--max-per-client", type=count, default=None, metavar="N",
                       help="most connections from one client address (20 when shared "
                            "off 127.0.0.1, else none; 0: no cap)")
    serve.add_argument("--max-total", type=count, default=None, metavar="N",
                       help="most connections in all (200 when shared, else none; 0: no cap)")
    _add_fault_options(serve)
    serve.set_defaults(func=cmd_serve)

    relay = sub.add_parser("relay", help="a bare Wire between two outside programs")
    relay.add_argument("--listen", required=True, metavar="H:P", help="where clients connect")
    relay.add_argument("--to", required=True, metavar="H:P", help="the server to forward to")
    relay.add_argument("--protocol", default=FALLBACK, help=f"dissector to use ({FALLBACK})")
    relay.add_argument("--udp", action="store_true", help="relay UDP datagrams instead of TCP")
    relay.add_argument("--capture", metavar="FILE.jsonl", help="append the capture as JSON Lines")
    relay.add_argument("--record", metavar="FILE.cslab", help=RECORD_HELP)
    _add_fault_options(relay)
    relay.set_defaults(func=cmd_relay)

    export = sub.add_parser("export", help="convert a capture: JSON Lines, HAR (HTTP), "
                                           "pcapng (Wireshark) or .cslab")
    export.add_argument("capture", help="a capture file: JSON Lines (from --capture) or "
                                        ".cslab (from --record or the window's Save)")
    export.add_argument("--format", required=True, choices=("jsonl", "har", "pcapng", "cslab"),
                        help="har: HTTP exchanges for a browser's devtools; pcapng: made-up "
                             "packets for Wireshark or tshark; jsonl, cslab: the capture")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
    export.set_defaults(func=cmd_export)

    run = sub.add_parser("run", help="run a scenario or built-in lesson headless; "
                                     "exit 1 if an expectation fails or it takes longer "
                                     "than --timeout, 2 if it is invalid")
    run.add_argument("scenario", help="a scenario file (.toml) or a lesson's name "
                                      "(cslab lessons lists them)")
    run.add_argument("--capture", metavar="FILE.jsonl", help="append the capture as JSON Lines")
    run.add_argument("--record", metavar="FILE.cslab", help=RECORD_HELP)
    run.add_argument("--pcap", metavar="FILE.pcapng", help="write the capture as pcapng after")
    run.add_argument("--timeout", type=seconds, default=RUN_TIMEOUT, metavar="S",
                     help=f"stop a run that takes longer than S seconds, exit 1 "
                          f"({RUN_TIMEOUT:.0f})")
    run.set_defaults(func=cmd_run)
    lessons = sub.add_parser("lessons", help="list the built-in lessons")
    lessons.set_defaults(func=cmd_lessons)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *(argv or [])])
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
