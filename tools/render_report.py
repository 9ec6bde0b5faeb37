"""Render a report.html to PNG with headless Chromium, to look at it as a reader would.

Usage: python tools/render_report.py REPORT.html OUT.png [--width 1280] [--height 9000]

Needs Chromium (Debian: apt-get install chromium). The page is self-contained, so no network
is used; the background-networking flags keep Chromium from trying.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render(report: Path, out_png: Path, *, width: int = 1280, height: int = 9000) -> Path:
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("Chromium not found; install it (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size={width},{height}", f"--screenshot={out_png.resolve()}",
            report.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out_png


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=9000)
    a = p.parse_args()
    render(a.report, a.out, width=a.width, height=a.height)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
