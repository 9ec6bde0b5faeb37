"""Render a report.html to PNG with headless Chromium, to look at it as a reader would.

Usage::

    python tools/render_report.py REPORT.html OUT.png [--width 1400] [--height 1000]
    python tools/render_report.py --demo --out docs/img

``--demo`` runs ``drtbayes demo --fast`` into a temporary folder and writes the first screen of
its report at 1400 px and at 420 px width (``report_1400.png``, ``report_420.png``), the
images in docs/img. Needs Chromium (Debian: apt-get install chromium). The page is
self-contained, so no network is used; the background-networking flags keep Chromium from
trying.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: (width, height) in px of the first screens ``--demo`` writes: a desktop and a phone.
SCREENS = ((1400, 1000), (420, 900))

#: Narrowest window headless Chromium makes (px).
MIN_WINDOW = 500

ROOT = Path(__file__).resolve().parents[1]


def find_chromium() -> str | None:
    """Return the path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render(report: Path, out_png: Path, *, width: int = 1400, height: int = 1000) -> Path:
    """Screenshot ``report`` at ``width`` x ``height`` px into ``out_png``.

    Raises
    ------
    RuntimeError
        When no Chromium is installed.
    """
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("Chromium not found; install it (apt-get install chromium)")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url, window = report.resolve().as_uri(), max(width, MIN_WINDOW)
        if width < MIN_WINDOW:
            # Chromium will not make a window narrower than MIN_WINDOW px: the page is laid
            # out in an iframe of the asked width (its own viewport, so the narrow-screen CSS
            # applies) and the screenshot cropped to it
            host = Path(tmp) / "host.html"
            host.write_text(
                "<!DOCTYPE html><html><body style='margin:0'><iframe src='" + url + "' "
                f"style='border:0;width:{width}px;height:{height}px'></iframe></body></html>",
                encoding="utf-8")
            url = host.as_uri()
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--allow-file-access-from-files",
            f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={window},{height}",
            f"--screenshot={out_png.resolve()}", url,
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if width < MIN_WINDOW:
        from PIL import Image  # Pillow comes with matplotlib

        with Image.open(out_png) as im:
            im.crop((0, 0, width, height)).save(out_png)
    return out_png


def render_screens(report: Path, out_dir: Path) -> list[Path]:
    """Write ``report_{width}.png`` for each of :data:`SCREENS` into ``out_dir``."""
    return [render(report, out_dir / f"report_{w}.png", width=w, height=h) for w, h in SCREENS]


def run_demo(work: Path) -> Path:
    """Run ``drtbayes demo --fast`` (this checkout's code) into ``work``; return report.html."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-m", "drtbayes.cli", "demo", "--fast", "--out", str(work)],
                   check=True, env=env, cwd=ROOT)
    return work / "results" / "report.html"


def main() -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, nargs="?", help="report.html to render")
    p.add_argument("out", type=Path, nargs="?", help="PNG to write")
    p.add_argument("--width", type=int, default=1400, help="window width, px")
    p.add_argument("--height", type=int, default=1000, help="window height, px")
    p.add_argument("--demo", action="store_true",
                   help="run `drtbayes demo --fast` and render its first screens")
    p.add_argument("--out", dest="out_dir", type=Path, default=ROOT / "docs" / "img",
                   help="folder for the --demo PNGs (default docs/img)")
    a = p.parse_args()
    if a.demo:
        with tempfile.TemporaryDirectory() as work:
            for path in render_screens(run_demo(Path(work) / "demo"), a.out_dir):
                print(f"wrote {path}")
        return 0
    if a.report is None or a.out is None:
        p.error("give REPORT.html and OUT.png, or --demo")
    render(a.report, a.out, width=a.width, height=a.height)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
