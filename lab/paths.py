"""Where the lab finds its resources and keeps the user's data.

    resources_dir()  the repository's ``resources/`` folder (sample site, lessons, …)
    site_dir()       the sample web site the HTTP server serves by default
    data_dir()       the user's data folder, created on demand: ``$CSLAB_DATA_DIR`` if set,
                     else ``$XDG_DATA_HOME/client-server-lab``, else
                     ``~/.local/share/client-server-lab``
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "client-server-lab"


def resources_dir() -> Path:
    """The ``resources/`` folder next to the ``lab`` package."""
    return Path(__file__).resolve().parents[1] / "resources"


def site_dir() -> Path:
    """The sample site: an HTML page, its CSS, two images and a second page."""
    return resources_dir() / "site"


def data_dir(create: bool = True) -> Path:
    """The folder for the user's data (databases, mail, uploads); made if missing."""
    override = os.environ.get("CSLAB_DATA_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
        path = base / APP_DIR_NAME
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
