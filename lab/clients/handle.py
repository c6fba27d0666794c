"""A lab client as the engine holds it: the client object, its settings, its state.

Every action on a client, whether a panel's button, a lesson's step or a scenario
file asked for it, runs as ``act(handle, verb, args)`` in the kind's module (see
``ClientKind.act``). The action reads the settings from the handle and tells what
it holds now with ``handle.show(...)``, which publishes a ClientChanged event on the
capture's bus: the panel renders only that, so it shows what a lesson step did
exactly as it shows what a click did.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.model import ClientChanged, ClientState, Event, settings_of

#: The shortest time between two progress states of one client (seconds): a transfer
#: reports its progress about ten times a second, however small its blocks are.
PROGRESS_EVERY = 0.1


class ClientHandle:
    """One client: its object (``obj``), its settings, and the state it publishes.

    ``addresses`` maps names a setting may use (a scenario's server names) to
    ``host:port``; ``memory`` keeps what an action needs next time (the last
    Location an HTTP client got, for ``{location}``).
    """

    def __init__(self, node: str, kind: str, obj: Any, publish: Callable[[Event], None],
                 settings: Mapping[str, object] | None = None) -> None:
        self.node = node
        self.kind = kind
        self.obj = obj
        self._publish = publish
        self.addresses: dict[str, str] = {}
        self.memory: dict[str, Any] = {}
        self._folder: Path | None = None
        self._last_progress = 0.0
        self.state = ClientState(node=node, kind=kind, settings=settings_of(dict(settings or {})))

    # ---- settings ------------------------------------------------------------------

    def setting(self, name: str, default: str = "") -> str:
        return self.state.setting(name, default)

    def address(self, name: str, default: str = "") -> str:
        """A setting that names a server: a scenario's server name becomes its address."""
        value = self.setting(name, default)
        return self.addresses.get(value, value)

    def configure(self, settings: Mapping[str, object]) -> ClientState:
        """Take ``settings`` (the others stay) and publish them."""
        merged = dict(self.state.settings)
        merged.update(settings_of(dict(settings)))
        return self.show(settings=settings_of(merged))

    # ---- state ---------------------------------------------------------------------

    def show(self, **changes: Any) -> ClientState:
        """Change the state (busy, status, error, view, settings) and publish it."""
        self.state = replace(self.state, revision=self.state.revision + 1, **changes)
        self._publish(ClientChanged(self.state))
        return self.state

    def progress(self, **changes: Any) -> None:
        """``show`` for progress that comes often (a transfer's blocks): at most
        one state per PROGRESS_EVERY; the action shows its end with ``show``."""
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            self.show(**changes)

    # ---- files ---------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """A folder of this client's own (downloads), made when first asked for."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="cslab-client-"))
        return self._folder

    def set_folder(self, folder: Path) -> None:
        self._folder = folder

    def forget_folder(self) -> None:
        """Remove the folder if this handle made it (the client is going)."""
        if self._folder is not None and self._folder.name.startswith("cslab-client-"):
            shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None
