"""CPU-seconds by part: processes from /proc, containers from their cgroup (the engine's own accounting)."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
ENGINE = ("dockerd", "containerd", "runc", "docker-proxy")


@dataclass
class Process:
    name: str
    parent: int
    cpu: float  # its own and its waited-for children's, seconds


def processes() -> dict[int, Process]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        found[int(stat.parent.name)] = Process(name, int(fields[1]), sum(map(int, fields[11:15])) / TICKS)
    return found


def descendants(table: dict[int, Process], root: int) -> set[int]:
    family, grown = {root}, True
    while grown:
        grown = False
        for pid, process in table.items():
            if process.parent in family and pid not in family:
                family.add(pid)
                grown = True
    return family


def engine_pids(table: dict[int, Process]) -> set[int]:
    return {pid for pid, process in table.items()
            if process.name in ENGINE or process.name.startswith("containerd-shim")}


def container_cpu(container_id: str) -> float:
    """All the CPU a container has used, seconds (cgroup v1 or v2)."""
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for v2 in (Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"),
               Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat")):
        if v2.exists():
            usage = next(line for line in v2.read_text().splitlines() if line.startswith("usage_usec"))
            return int(usage.split()[1]) / 1e6
    raise RuntimeError(f"no CPU accounting found for container {container_id}")


def container_pids(container_id: str) -> list[int]:
    for procs in (Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cgroup.procs"),
                  Path(f"/sys/fs/cgroup/docker/{container_id}/cgroup.procs"),
                  Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cgroup.procs")):
        if procs.exists():
            return [int(pid) for pid in procs.read_text().split()]
    raise RuntimeError(f"no cgroup found for container {container_id}")


def jupyter_cpu(container_id: str) -> float:
    """The CPU of the container's Jupyter server process (jupyter-lab, jupyterhub-singleuser...)."""
    table = processes()
    for pid in container_pids(container_id):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"jupyter" in part for part in command[:3]) and pid in table:
            return table[pid].cpu
    raise RuntimeError(f"no Jupyter process in container {container_id}")


def children_cpu() -> float:
    """CPU of this process's finished children (the docker command line), seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Meter:
    """CPU-seconds of named parts between start() and read(); each part is a function of a process table."""
    parts: dict[str, Callable[[dict[int, Process]], float]]
    before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        table = processes()
        self.before = {name: part(table) for name, part in self.parts.items()}

    def read(self) -> dict[str, float]:
        table = processes()
        return {name: part(table) - self.before[name] for name, part in self.parts.items()}


def tree_cpu(root: int) -> Callable[[dict[int, Process]], float]:
    return lambda table: sum(table[pid].cpu for pid in descendants(table, root))


def engine_cpu(table: dict[int, Process]) -> float:
    return sum(table[pid].cpu for pid in engine_pids(table))
