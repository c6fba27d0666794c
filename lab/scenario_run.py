"""Run a scenario on an Engine: start its servers and clients, then its steps in order.

    runner = Runner(scenario, engine)
    await runner.setup()                 # servers started, clients made
    result = await runner.step(0)        # one step: action, expectations, conversation
    results = await run(scenario, engine, report=print_it)   # all of it

The headless ``cslab run`` and the window's Next step both drive a Runner; the
caller shuts the engine down afterwards.

Each run starts from fresh data: a server whose kind keeps some (its ``fresh`` in
lab/kinds.py: the notes database, the mail folder, the FTP folder) and whose lesson
names none gets it in a temporary folder of the run, made at ``setup`` and removed at
``teardown`` (or when the process ends), so that mail sent in one run is not in the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.clients import client_kinds
from lab.engine import Engine, EngineError
from lab.kinds import fresh_data
from lab.model import Event, Message, MessageCaptured, NodeInfo, Outcome
from lab.paths import resources_dir
from lab.scenario import Scenario, ServerSpec, Step
from lab.servers import server_kinds

#: The longest one step may take before it fails as timed out, in seconds.
STEP_TIMEOUT = 20.0
#: After an action, how long to keep collecting the step's messages (late ones
#: still crossing the Wire), in seconds.
SETTLE = 0.15


#: The start of a run's data folder's name (in the system's temporary folder).
FRESH_PREFIX = "cslab-lesson-"


def is_fresh_data(value: str) -> bool:
    """Whether an option's ``value`` is a path in some run's fresh data folder (gone
    when the run ends: saving a setup as a scenario should leave it out)."""
    return any(part.startswith(FRESH_PREFIX) for part in Path(value).parts)


#: What each server kind keeps is its row's ``fresh`` (lab/kinds.py: FreshData, the
#: option naming it, its name in the run's folder, where servers giving the same name
#: share it, and the folder under resources/ copied there first, "": it starts empty).


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation: ``name = expected``, what came, and whether it held."""

    name: str
    expected: Any
    actual: Any
    passed: bool

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        got = "" if self.passed else f" (got {self.actual!r})"
        return f"{mark} expect {self.name} = {self.expected!r}{got}"


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step run: its outcome, its checks, and the messages captured meanwhile."""

    number: int  # from 1
    step: Step
    outcome: Outcome
    checks: tuple[Check, ...]
    messages: tuple[Message, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def check(name: str, expected: Any, values: dict[str, Any]) -> Check:
    """Whether ``values`` (an Outcome's) meet ``name = expected``."""
    if name == "contains":
        text = str(values.get("text", ""))
        return Check(name, expected, text[:80], str(expected) in text)
    if name not in values:
        return Check(name, expected, values.get("text", "nothing"), False)
    actual = values[name]
    if isinstance(expected, bool):
        return Check(name, expected, actual, bool(actual) is expected)
    return Check(name, expected, actual, str(actual) == str(expected))


class Runner:
    """Sets a scenario up on ``engine`` and runs its steps one at a time."""

    def __init__(self, scenario: Scenario, engine: Engine) -> None:
        self.scenario = scenario
        self.engine = engine
        self.server_ids: dict[str, str] = {}
        self.addresses: dict[str, str] = {}
        self.client_ids: dict[str, str] = {}
        self._server_of: dict[str, str] = {}  # client name → its server's name
        self._data: tempfile.TemporaryDirectory[str] | None = None  # this run's data

    @property
    def data_folder(self) -> Path | None:
        """The temporary folder of this run's fresh data (None: none was needed)."""
        return Path(self._data.name) if self._data is not None else None

    def fresh_options(self, spec: ServerSpec) -> dict[str, str]:
        """``spec``'s options, with a fresh folder (or file) of this run for each kind
        of data its kind keeps and the lesson does not name."""
        options = dict(spec.options)
        for data in fresh_data(spec.kind):
            if options.get(data.option):
                continue
            if self._data is None:
                self._data = tempfile.TemporaryDirectory(
                    prefix=FRESH_PREFIX, ignore_cleanup_errors=True)
            path = Path(self._data.name) / data.name
            if data.seed and not path.exists():
                shutil.copytree(resources_dir() / data.seed, path)
            options[data.option] = str(path)
        return options

    async def setup(self) -> list[NodeInfo]:
        """Start the servers (with the Wire's faults, on fresh data) and make the
        clients; EngineError (naming the server) if one cannot start."""
        nodes = []
        wire = self.scenario.wire
        for spec in self.scenario.servers:
            info = await self.engine.add_server(spec.kind, port=spec.port, name=spec.name,
                                                options=self.fresh_options(spec),
                                                start=False)
            self.server_ids[spec.name] = info.id
            if wire.faults and wire.server in ("", spec.name):
                self.engine.wire_board.set_faults(info.id, **wire.faults)
            try:
                info = await self.engine.start_server(info.id)
            except EngineError as exc:
                raise EngineError(f"server {spec.name!r} ({spec.kind}): {exc}") from None
            self.addresses[spec.name] = info.address
            nodes.append(info)
        kinds = {spec.name: spec.kind for spec in self.scenario.servers}
        for client in self.scenario.clients:
            # An option naming a server (``dns = "DNS server"``) means its address.
            settings: dict[str, object] = {
                key: self.addresses.get(str(value), value)
                for key, value in client.options.items()}
            settings["server"] = self.addresses[client.server]
            if "transport" in client_kinds()[client.kind].defaults:
                settings.setdefault("transport",
                                    server_kinds()[kinds[client.server]].transport.value)
            info = await self.engine.add_client(client.kind, name=client.name,
                                                settings=settings)
            self.client_ids[client.name] = info.id
            self._server_of[client.name] = client.server
            nodes.append(info)
        return nodes

    def server_id(self, client: str) -> str:
        """The node id of the server the lesson's ``client`` (by name) talks to, or ""."""
        return self.server_ids.get(self._server_of.get(client, ""), "")

    async def step(self, index: int) -> StepResult:
        """Run step ``index`` (from 0): its faults, its action, its expectations."""
        step = self.scenario.steps[index]
        node_id = self.client_ids[step.client]
        messages: list[Message] = []

        def collect(event: Event) -> None:
            if isinstance(event, MessageCaptured):
                messages.append(event.message)

        unsubscribe = self.engine.capture.subscribe(collect)
        try:
            if step.faults:
                self.engine.wire_board.set_faults(
                    self.server_ids[self._server_of[step.client]], **step.faults)
            # A step held at a stepping Wire of this engine waits for Forward.
            limit = self.engine.wire_board.patient(STEP_TIMEOUT)
            try:
                outcome = await asyncio.wait_for(
                    self.engine.client_act(node_id, step.verb, step.args), limit)
            except TimeoutError:
                outcome = Outcome(f"no answer within {limit:g} s",
                                  {"ok": False, "text": ""})
            await asyncio.sleep(SETTLE)
        finally:
            unsubscribe()
        checks = tuple(check(name, value, outcome.values) for name, value in step.expect.items())
        return StepResult(index + 1, step, outcome, checks, tuple(messages))

    async def close(self) -> None:
        """Close the clients (servers stay up)."""
        for node_id in self.client_ids.values():
            with contextlib.suppress(EngineError):
                await self.engine.client_close(node_id)

    async def teardown(self) -> None:
        """Remove every node this runner made, clients first (one the user removed
        already is passed over), then the run's fresh data."""
        while self.client_ids:
            _, node_id = self.client_ids.popitem()
            with contextlib.suppress(EngineError):
                await self.engine.remove_client(node_id)
        while self.server_ids:
            _, node_id = self.server_ids.popitem()
            with contextlib.suppress(EngineError):
                await self.engine.remove_server(node_id)
        data, self._data = self._data, None
        if data is not None:
            await asyncio.to_thread(data.cleanup)


async def run(scenario: Scenario, engine: Engine,
              report: Callable[[StepResult], None] | None = None) -> list[StepResult]:
    """Set ``scenario`` up on ``engine`` and run every step in order; ``report`` is
    called with each step's result as it finishes. The engine is left running."""
    runner = Runner(scenario, engine)
    await runner.setup()
    results = []
    try:
        for index in range(len(scenario.steps)):
            result = await runner.step(index)
            results.append(result)
            if report is not None:
                report(result)
    finally:
        await runner.close()
    return results
