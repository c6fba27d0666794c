"""websockets' own handshake bug (an upgrade without Sec-WebSocket-Version followed by
more bytes: its 400 reply sends EOF twice) prints no traceback; other errors still do."""

from __future__ import annotations

import logging

import pytest

import lab.servers.ws  # noqa: F401  (installs the filter)


def send_eof() -> None:
    raise AssertionError


def other() -> None:
    raise AssertionError


@pytest.mark.parametrize(("fails", "shown"), [(send_eof, False), (other, True)])
def test_only_the_double_eof_assertion_is_kept_quiet(fails: object, shown: bool,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("websockets.server")
    with caplog.at_level(logging.ERROR, logger="websockets.server"):
        try:
            fails()  # type: ignore[operator]
        except AssertionError:
            logger.error("opening handshake failed", exc_info=True)
    assert (len(caplog.records) == 1) is shown
