"""One entry point for every benchmark: ``python3 benchmarks/run.py [NAME ...]``.

Each ``bench_*.py`` module beside this file exposes ``run() -> rows`` where a
row is ``(benchmark, measurement, value)``; values are side-by-side figures
from this one run (ratios, percentiles), never compared with stored numbers.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    rows: list[tuple[str, str, str]] = []
    for name in _modules(argv):
        start = time.perf_counter()
        module = importlib.import_module(name)
        try:
            rows.extend(module.run())
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
            rows.append((name, "FAILED", f"{type(exc).__name__}: {exc}"))
        print(f"# {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    widths = [max(len(r[i]) for r in rows + [("benchmark", "measurement", "value")]) for i in range(3)]
    header = ("benchmark", "measurement", "value")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
