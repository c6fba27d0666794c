"""Where the lab finds its resources and keeps the user's data.

    resources_dir()  the ``resources/`` folder (sample site, lessons, …): in the frozen
                     app's bundle, in the source tree, or where an install put it
    site_dir()       the sample web site the HTTP server serves by default
    data_dir()       the user's data folder, created on demand: ``$CSLAB_DATA_DIR`` if set,
                     else ``$XDG_DATA_HOME/client-server-lab``, else
                     ``~/.local/share/client-server-lab``
    spill_dir()      where a capture keeps its older messages while the lab runs:
                     ``$CSLAB_SPILL_DIR`` if set, else ``$XDG_CACHE_HOME/client-server-lab``,
                     else ``~/.cache/client-server-lab`` (a disk, not /tmp, which may be
                     memory)
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

APP_DIR_NAME = "client-server-lab"
#: Where a wheel install (pip, pipx) puts resources/, below its prefix; pyproject.toml's
#: [tool.setuptools.data-files] installs them there.
INSTALLED_RESOURCES = Path("share") / "cslab" / "resources"


def resources_dir() -> Path:
    """The ``resources/`` folder the app reads lessons, notes and sample files from.

    In the PyInstaller app, the bundle's copy (``sys._MEIPASS``); from a source tree
    (``make run``, an editable install), the one beside the ``lab`` package; from a
    wheel install, the copy under the environment's (or the user's) prefix."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    tree = Path(__file__).resolve().parents[1] / "resources"
    if (tree / "lessons").is_dir():
        return tree
    for prefix in (sys.prefix, site.USER_BASE or ""):
        installed = Path(prefix) / INSTALLED_RESOURCES
        if prefix and (installed / "lessons").is_dir():
            return installed
    return tree


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


def spill_dir() -> Path:
    """The folder for the captures' stores while the lab runs (see the module); made if
    missing."""
    override = os.environ.get("CSLAB_SPILL_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / APP_DIR_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path
