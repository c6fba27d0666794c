"""A network namespace and a veth pair made for one test (and always removed): the
"other machine" of the classroom LAN tests. Traffic goes only to the namespace made
here. The ``netns`` fixture (tests/interop/conftest.py) skips, saying why, where
namespaces cannot be made.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class Netns:
    name: str
    host_address: str  # the lab's side of the veth
    client_address: str  # the namespace's side

    def command(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=check, timeout=10)


def _free_subnet() -> int:
    used = _ip("-4", "-o", "addr").stdout
    for n in [os.getpid() % 200 + 20, *range(20, 250)]:
        if f" 10.200.{n}." not in used:
            return n
    pytest.skip("no free 10.200.N.0/24 subnet for the test namespace")


def make_netns() -> Iterator[Netns]:
    if shutil.which("ip") is None:
        pytest.skip("the ip command (iproute2) is not installed")
    if os.geteuid() != 0:
        pytest.skip("making a network namespace needs root")
    pid = os.getpid()
    name, host_end, ns_end = f"cslab-t{pid}", f"cslh{pid}", f"csln{pid}"
    n = _free_subnet()
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        pytest.skip(f"ip netns add failed: {made.stderr.strip()}")
    try:
        steps = [
            ("link", "add", host_end, "type", "veth", "peer", "name", ns_end),
            ("link", "set", ns_end, "netns", name),
            ("addr", "add", f"10.200.{n}.1/24", "dev", host_end),
            ("link", "set", host_end, "up"),
            ("netns", "exec", name, "ip", "addr", "add", f"10.200.{n}.2/24", "dev", ns_end),
            ("netns", "exec", name, "ip", "link", "set", ns_end, "up"),
            ("netns", "exec", name, "ip", "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step, check=False)
            if done.returncode != 0:
                pytest.skip(f"ip {' '.join(step)} failed: {done.stderr.strip()}")
        yield Netns(name, f"10.200.{n}.1", f"10.200.{n}.2")
    finally:
        _ip("netns", "del", name, check=False)
        _ip("link", "del", host_end, check=False)  # gone with the namespace, usually


async def output(argv: list[str]) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return out.decode()


