"""Guards the PySide6 pin: 6.12.0 on Python 3.11 aborts after many signal emits
(``Fatal Python error: bool_dealloc``). Run it in a subprocess so a crash is a failure,
not the end of the test run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

EMITS = 100_000

SCRIPT = textwrap.dedent(f"""
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Emitter(QObject):
        flag = Signal(bool)
        items = Signal(list)

    app = QCoreApplication(sys.argv)
    emitter = Emitter()
    seen = [0, 0]
    emitter.flag.connect(lambda value: seen.__setitem__(0, seen[0] + value))
    emitter.items.connect(lambda batch: seen.__setitem__(1, seen[1] + len(batch)))
    for _ in range({EMITS}):
        emitter.flag.emit(True)
        emitter.items.emit([1])
    assert seen == [{EMITS}, {EMITS}], seen
    print("emitted", seen[0])
""")


def test_signal_emitted_many_times_does_not_crash() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60, env={"QT_QPA_PLATFORM": "offscreen",
                                             "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"emitted {EMITS}"
