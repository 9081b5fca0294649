"""Fail early, with the fix, when the machine lacks what the project needs.

Run with the system Python before the virtualenv exists (standard library only).
"""

from __future__ import annotations

import ctypes.util
import sys

MIN_PYTHON = (3, 11)
# WeasyPrint renders certificates with Pango (>= 1.44) through HarfBuzz and fontconfig.
LIBRARIES = {
    "pango-1.0": "libpango-1.0-0",
    "pangoft2-1.0": "libpangoft2-1.0-0",
    "harfbuzz": "libharfbuzz0b",
    "harfbuzz-subset": "libharfbuzz-subset0",
    "fontconfig": "libfontconfig1",
}


def main() -> int:
    problems = []
    if sys.version_info < MIN_PYTHON:
        problems.append(
            f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed; this is "
            f"{sys.version.split()[0]}."
        )
    missing = [pkg for lib, pkg in LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    if missing:
        problems.append(
            "WeasyPrint (certificate PDFs) needs the Pango text libraries, which are missing.\n"
            "  On Debian or Ubuntu install them with:\n"
            f"    sudo apt-get install {' '.join(missing)} fonts-dejavu-core"
        )
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
