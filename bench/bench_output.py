"""What every benchmark prints besides its figures: the machine, the versions, latency summaries.

Figures from different machines or library versions are not comparable, so each script
prints these first and stores them in its JSON output.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata

import numpy as np

CORE_PACKAGES = ("numpy", "torch")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(packages: Iterable[str] = ()) -> dict:
    """Versions are read from package metadata, so nothing heavy (torch) is imported for them."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in (*CORE_PACKAGES, *packages)},
    }


def print_machine(info: dict) -> None:
    print(f"machine: {info['cpu']} | cpus {info['cpu_count']} (usable {info['cpus_usable']}) | {info['platform']}")
    versions = " ".join(f"{name} {version}" for name, version in info["packages"].items())
    print(f"python {info['python']} | {versions}")


def latency_ms(seconds: Sequence[float], quantiles: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """Percentiles of per-call wall times given in seconds, returned in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {f"p{q}": float(np.percentile(values, q)) for q in quantiles}


def print_table(header: Sequence[str], rows: Iterable[Sequence], floatfmt: str = ".3f") -> None:
    """A plain aligned text table: readable in a terminal and in a CI log alike."""
    cells = [[f"{c:{floatfmt}}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
