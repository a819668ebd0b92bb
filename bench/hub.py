"""A whole class on one hub: N students log in and start their servers at the same moment.

The course's deploy/jupyterhub configuration with DockerSpawner, a real hub and
real containers on this machine, for 10, 20 and 30 students. Each student's
server starts at once; then each runs a notebook cell that imports the course
packages. Reported: failures, time until each student is ready (median and
slowest), the time for everyone's first cell, and memory (the hub with its
proxy, and each student's container, idle and after the imports).

    uv run --group bench python bench/hub.py [--classes 10 20 30]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import base_image, make_project, run, save

from tests.support.engine import engine
from tests.support.hub import IMPORT_THE_COURSE_PACKAGES, Hub, running_hub


def resident_bytes(pid: int) -> int:
    """The memory a process and its children hold (RSS), from /proc."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if status.parent.name == str(pid) or fields.get("PPid", "").strip() == str(pid):
            total += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    return total


def container_memory(hub: Hub, students: list[str]) -> list[int]:
    """Each student's container memory as the engine accounts it (cgroup usage less page cache)."""
    sizes = []
    for user in students:
        stats = engine().containers.get(f"{hub.slug}-{user}").stats(stream=False)["memory_stats"]
        cache = stats.get("stats", {}).get("inactive_file", stats.get("stats", {}).get("cache", 0))
        sizes.append(stats["usage"] - cache)
    return sizes


def start(hub: Hub, user: str, began: float) -> float | str:
    """Seconds from the class's start until this student's server is ready, or what went wrong."""
    try:
        hub.start_server(user)
    except AssertionError as error:
        return str(error)
    return time.monotonic() - began


def one_class(project: Path, size: int) -> dict:
    students = [f"student{number}" for number in range(1, size + 1)]
    with tempfile.TemporaryDirectory() as workdir, running_hub(project, Path(workdir), students) as hub:
        began = time.monotonic()
        with ThreadPoolExecutor(size) as pool:
            outcomes = list(pool.map(lambda user: start(hub, user, began), students))
        ready = [outcome for outcome in outcomes if isinstance(outcome, float)]
        failures = [f"{user}: {outcome}" for user, outcome in zip(students, outcomes, strict=True)
                    if not isinstance(outcome, float)]
        running = [user for user, outcome in zip(students, outcomes, strict=True) if isinstance(outcome, float)]
        idle = container_memory(hub, running)
        tokens = {user: hub.user_token(user) for user in running}
        cells_began = time.monotonic()
        def first_cell(user: str) -> dict:
            return hub.run_cell(user, tokens[user], IMPORT_THE_COURSE_PACKAGES, keep_kernel=True)

        with ThreadPoolExecutor(max(len(running), 1)) as pool:
            replies = list(pool.map(first_cell, running))
        cells = time.monotonic() - cells_began
        failures += [f"{user}: cell {reply['status']}" for user, reply in zip(running, replies, strict=True)
                     if reply["status"] != "ok"]
        # Measured with each student's kernel still running, its packages imported.
        working = container_memory(hub, running)
        hub_memory = resident_bytes(hub.process.pid)
    return {
        "students": size, "failures": failures,
        "ready median": statistics.median(ready) if ready else None, "ready slowest": max(ready, default=None),
        "first cells, all": cells,
        "hub memory": hub_memory,
        "server memory idle, median": statistics.median(idle) if idle else 0,
        "server memory after imports, median": statistics.median(working) if working else 0,
        "server memory after imports, largest": max(working, default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classes", type=int, nargs="+", default=[10, 20, 30])
    args = parser.parse_args()
    base_image()
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(scratch), {"project_slug": "bench-hub"})
        run("docker", "compose", "build", cwd=project, timeout=3600)
        try:
            results = {}
            for size in args.classes:
                results[str(size)] = one_class(project, size)
                result = results[str(size)]
                print(f"{size} students: {len(result['failures'])} failures, ready median "
                      f"{result['ready median']:.1f} s, slowest {result['ready slowest']:.1f} s, first cells "
                      f"{result['first cells, all']:.1f} s, hub {result['hub memory'] / 1e6:.0f} MB, server "
                      f"{result['server memory after imports, median'] / 1e6:.0f} MB after imports", flush=True)
        finally:
            run("docker", "compose", "down", "--rmi", "all", cwd=project, check=False)
    results["measured on"] = datetime.date.today().isoformat()
    save("hub", results)


if __name__ == "__main__":
    main()
