"""The frozen app's entry point: the ``cslab`` command (``lab.cli:main``)."""

import sys

from lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
