"""lab/scenario.py: loading and validating scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.scenario import ScenarioError, parse

GOOD = """\
[scenario]
title = "A first request"
goal = "See a GET and its answer"

[[server]]
kind = "http"
name = "web"
port = 0

[[client]]
kind = "http"
name = "composer"

[wire]
faults = { latency = 100 }

[[step]]
client = "composer"
action = "get /index.html"
expect = { status = 200 }
say = "The browser asks for a page."

[[step]]
client = "composer"
action = "post /api/notes {\\"title\\": \\"x\\"}"
faults = { latency = 0 }
"""


def test_a_good_scenario_loads() -> None:
    scenario = parse(GOOD, "good.toml")
    assert scenario.title == "A first request"
    assert scenario.servers[0].port == 0
    assert scenario.clients[0].server == "web"  # the only HTTP server, by default
    assert scenario.wire.faults == {"latency": 100}
    first, second = scenario.steps
    assert (first.verb, first.args, first.expect) == ("get", ("/index.html",), {"status": 200})
    assert first.line == 17
    assert second.args == ("/api/notes", '{"title": "x"}')
    assert second.faults == {"latency": 0}


@pytest.mark.parametrize(("change", "message"), [
    (('kind = "http"\nname = "web"', 'kind = "gopher"\nname = "web"'),
     "good.toml:6: [[server]] #1 field 'kind': unknown kind 'gopher'"),
    (("port = 0", "port = 70000"), "good.toml:8: [[server]] #1 field 'port'"),
    (('action = "get /index.html"', 'action = "fetch /"'),
     "good.toml:19: [[step]] #1 field 'action': 'fetch /' is not an action of a http client"),
    (('action = "get /index.html"', 'action = "get"'),
     "good.toml:19: [[step]] #1 field 'action': 'get': write it as get PATH"),
    (("status = 200", 'status = "200"'), "good.toml:20: [[step]] #1 field 'status'"),
    (("status = 200", "colour = 200"), "good.toml:20: [[step]] #1 field 'colour'"),
    (("latency = 100", "latency = -1"), "good.toml:15: [wire] field 'latency'"),
    (("latency = 100", "jam = 1"), "good.toml:15: [wire] field 'jam': not a fault"),
    (('client = "composer"\naction = "get', 'client = "nobody"\naction = "get'),
     "good.toml:18: [[step]] #1 field 'client': no client named 'nobody'"),
    (('title = "A first request"\n', ""), "good.toml:1: [scenario] field 'title': missing"),
])
def test_errors_name_the_line_and_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(GOOD.replace(*change, 1), "good.toml")
    assert str(caught.value).startswith(message)


def test_bad_toml_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse("[scenario\n", "bad.toml")


def test_a_relative_root_is_taken_from_the_scenario_folder(tmp_path: Path) -> None:
    text = GOOD.replace('port = 0\n', 'port = 0\noptions = { root = "site" }\n', 1)
    scenario = parse(text, str(tmp_path / "lesson.toml"))
    assert scenario.servers[0].options["root"] == str(tmp_path / "site")
