"""The frozen app's entry point: the ``cslab`` command (``lab.cli:main``).

With ``CSLAB_BUNDLE_CHECK=1`` it instead imports every module of ``lab`` and ``ui`` and
prints ``imported N modules``: the app imports some of them only when first used (a
panel's module when its first panel is made), so this is how a test learns that the
bundle holds all they need, not a user on the day they open that panel.
"""

import importlib
import os
import pkgutil
import sys

from lab.cli import main


def check_bundle() -> int:
    """Import every module of the app; 0 once all of them imported."""
    import lab
    import ui

    names = [info.name for package in (lab, ui)
             for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    for name in names:
        importlib.import_module(name)
    print(f"imported {len(names)} modules", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(check_bundle() if os.environ.get("CSLAB_BUNDLE_CHECK") == "1" else main())
