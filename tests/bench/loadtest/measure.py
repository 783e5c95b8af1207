"""Figures: percentiles, and a server process's CPU and memory read from /proc."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def percentiles_ms(samples: list[float]) -> dict[str, float | None]:
    """p50/p95/p99 of samples given in seconds, in milliseconds."""
    if not samples:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Synapse and ours are one process; Postgres is not
    counted: it serves both in the same way)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def postgres_pids() -> list[int]:
    """Every Postgres process: it serves whichever server is under test, and its share of
    the machine belongs to that server's cost."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """CPU used and RSS seen by the server (and by this generator) over one phase."""

    pid: int | None
    started: float = field(default_factory=time.monotonic)
    cpu_start: float = 0.0
    own_cpu_start: float = field(default_factory=own_cpu_seconds)
    postgres_cpu_start: float = field(default_factory=lambda: cpu_seconds(postgres_pids()))
    rss_samples: list[float] = field(default_factory=list)
    _sampler: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        if self.pid is not None:
            self.cpu_start = cpu_seconds(process_tree(self.pid))
            self._sampler = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        assert self.pid is not None
        while True:
            self.rss_samples.append(rss_mb(process_tree(self.pid)))
            await asyncio.sleep(1)

    async def close(self) -> dict[str, float | None]:
        elapsed = time.monotonic() - self.started
        figures: dict[str, float | None] = {
            "seconds": round(elapsed, 1),
            "generator_cpu_pct": round((own_cpu_seconds() - self.own_cpu_start) / elapsed * 100, 1),
            "server_cpu_pct": None,
            "postgres_cpu_pct": round(
                (cpu_seconds(postgres_pids()) - self.postgres_cpu_start) / elapsed * 100, 1
            ),
            "server_rss_mb_mean": None,
            "server_rss_mb_peak": None,
        }
        if self.pid is not None and self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            tree = process_tree(self.pid)
            figures["server_cpu_pct"] = round(
                (cpu_seconds(tree) - self.cpu_start) / elapsed * 100, 1
            )
            self.rss_samples.append(rss_mb(tree))
            figures["server_rss_mb_mean"] = round(sum(self.rss_samples) / len(self.rss_samples))
            figures["server_rss_mb_peak"] = round(max(self.rss_samples))
        return figures


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
