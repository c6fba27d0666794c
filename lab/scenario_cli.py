"""``cslab run`` and ``cslab lessons``: a scenario headless, and the built-in lessons.

``run`` prints the setup, then for each step its presenter text, the conversation
(one line per message, as ``cslab serve`` prints them), what came back and each
expectation; it returns 0 if all held, 1 if one failed or the run took longer than its
``--timeout`` (RUN_TIMEOUT seconds unless given; one line on stderr names the step
that was running), 2 for an invalid scenario or a server that cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap

from lab import pcapng
from lab.cli_output import RUN_TIMEOUT, capture_file, message_line, record_file
from lab.engine import Engine, EngineError
from lab.scenario import Scenario, ScenarioError, lessons, load
from lab.scenario_run import Runner, StepResult


def _say(text: str) -> None:
    print(text, flush=True)


def print_step(result: StepResult) -> None:
    """One step as ``cslab run`` prints it."""
    step = result.step
    _say(f"\n── step {result.number}: {step.client}: {step.action}")
    if step.faults:
        _say("   Wire faults now: " + ", ".join(f"{k}={v}" for k, v in step.faults.items()))
    if step.say:
        _say(textwrap.indent(textwrap.fill(step.say, 76), "   » "))
    for message in result.messages:
        _say("   " + message_line(message))
    _say(textwrap.indent(result.outcome.shown, "   ⇒ "))
    for check in result.checks:
        _say(f"   {check}")


async def _run(scenario: Scenario, args: argparse.Namespace, doing: list[str]) -> int:
    """Run ``scenario`` as ``args`` ask; ``doing[0]`` says what it is doing meanwhile
    (setting up, step N…), for the line a timeout prints."""
    engine = Engine()
    try:
        with (capture_file(engine.capture, args.capture),
              record_file(engine.capture, args.record)):
            results = await _steps(scenario, engine, doing)
            if results is None:
                return 2
            if args.pcap and not _write_pcap(engine, args.pcap):
                return 2
    finally:
        engine.capture.finish()  # its store of older messages (a recording stays)
    failed = [r.number for r in results if not r.passed]
    checks = sum(len(r.checks) for r in results)
    _say(f"\n{len(results)} steps, {checks} expectations: "
         + (f"failed in step {', '.join(map(str, failed))}" if failed else "all held"))
    return 1 if failed else 0


async def _steps(scenario: Scenario, engine: Engine,
                 doing: list[str]) -> list[StepResult] | None:
    """Set the scenario up, run its steps, stop; the steps' results (None: it could
    not be set up, said in one line)."""
    runner = Runner(scenario, engine)
    try:
        _say(f"═ {scenario.title}")
        if scenario.goal:
            _say(textwrap.fill(scenario.goal, 78))
        try:
            nodes = await runner.setup()
        except (EngineError, ValueError) as exc:
            print(f"cslab: {scenario.path}: {exc}", file=sys.stderr)
            return None
        for node in nodes:
            where = f" on {node.address}" if node.role == "server" else ""
            _say(f"  {node.role} {node.name} ({node.kind}){where}")
        if scenario.wire.step:
            _say("  (step mode is the window's: headless, the Wire forwards everything)")
        results = []
        for index, step in enumerate(scenario.steps):
            doing[0] = f"in step {index + 1}, {step.client}: {step.action}"
            results.append(await runner.step(index))
            print_step(results[-1])
        doing[0] = "closing the clients"
        await runner.close()
        doing[0] = "stopping the servers"
    finally:
        await engine.shutdown()
    return results


def _write_pcap(engine: Engine, path: str) -> bool:
    """The run's capture as pcapng at ``path`` (the store still open: every message);
    whether it could (else one line)."""
    from lab.export import ExportError, replace_file

    capture = engine.capture
    try:
        replace_file(path, lambda part: pcapng.write(
            capture.messages, capture.all_connections(), part))
    except ExportError as exc:
        print(f"cslab: {exc}", file=sys.stderr)
        return False
    return True


def cmd_run(args: argparse.Namespace) -> int:
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"cslab: {exc}", file=sys.stderr)
        return 2

    limit = getattr(args, "timeout", None) or RUN_TIMEOUT
    doing = ["setting up"]

    async def bounded() -> int:
        return await asyncio.wait_for(_run(scenario, args, doing), limit)

    try:
        return asyncio.run(bounded())
    except TimeoutError:
        print(f"cslab: {args.scenario}: the run took longer than {limit:g} s: stopped "
              f"{doing[0]} (--timeout gives it longer)", file=sys.stderr)
        return 1


def cmd_lessons(args: argparse.Namespace) -> int:
    for title, path in lessons():
        _say(f"{path.stem:28} {title}")
    return 0
