"""Files left in the system temp folder and the size of the generated-source cache over runs.

Runs ``drtbayes demo`` (``--fast`` unless ``--nuts``) N times in a row with ``TMPDIR`` an empty
folder and ``DRTBAYES_CACHE_DIR`` a new one, and prints after each run the number of files in
TMPDIR and the number and size of the files in the cache's ``generated_src/``.

    python benchmarks/bench_tempfiles.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _count(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    """Run the demo repeatedly and print the temp-folder and cache figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nuts", action="store_true", help="the full demo instead of --fast")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="drtbayes-bench-tmp-"))
    tmp, cache = root / "tmp", root / "cache"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "DRTBAYES_CACHE_DIR": str(cache),
           "MPLBACKEND": "Agg"}
    print(f"{'run':>3} {'seconds':>8} {'TMPDIR files':>13} {'cache files':>12} {'cache kB':>9}")
    for i in range(1, args.runs + 1):
        cmd = [sys.executable, "-m", "drtbayes.cli", "demo", "--out", str(root / f"demo{i}")]
        if not args.nuts:
            cmd.append("--fast")
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"run {i} failed:\n{proc.stderr[-2000:]}")
        n_tmp, _ = _count(tmp)
        n_src, size = _count(cache / "generated_src")
        print(f"{i:>3} {time.perf_counter() - start:>8.1f} {n_tmp:>13} {n_src:>12} "
              f"{size / 1024:>9.0f}")


if __name__ == "__main__":
    main()
