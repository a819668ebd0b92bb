"""One student's start on the hub, in parts, against a plain `docker run`; then whole classes at once.

The course's deploy/jupyterhub configuration with DockerSpawner, a real hub and
real containers on this machine, run by the JupyterHub the deploy files name.

- The split: one student at a time starts a server (each a first start, with a
  new volume), then opens JupyterLab's page through the hub's OAuth handshake.
  The CPU-seconds of each part: the hub (with its proxy), the engine (dockerd,
  containerd and the container's shim), start-course with tini, and Jupyter's
  server until it answers; then the first page. The same for `docker run` of the
  image to /api/status answering, and its page.
- Classes of 10, 20 and 30: every server started at the same moment, then each
  runs a notebook cell that imports the course packages. Reported: failures,
  time until each student is ready (median and slowest), the CPU the start
  took by part, the time for everyone's first cell, and memory (the hub with its
  proxy, and each student's container, idle and after the imports).

    uv run --group bench python -m bench.hub [--runs 5] [--classes 10 20 30]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import Section, base_image, make_project, met, run, save, summary
from bench.cpu import Meter, children_cpu, container_cpu, engine_cpu, jupyter_cpu, tree_cpu
from bench.images import TOKEN, seconds_to_answer
from tests.support.engine import engine, free_port
from tests.support.hub import IMPORT_THE_COURSE_PACKAGES, Hub, logged_in, running_hub
from tests.support.matrices import image_of


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


def inside(container_id: str) -> dict[str, float]:
    """The container's CPU so far: Jupyter's server, and the rest (start-course, then tini)."""
    jupyter = jupyter_cpu(container_id)
    return {"start-course and tini": container_cpu(container_id) - jupyter, "Jupyter, start to answering": jupyter}


def plain_start(image: str) -> dict[str, float]:
    """`docker run` of the image until /api/status answers, then its JupyterLab page: CPU-seconds by part."""
    port, meter, client = free_port(), Meter({"engine": engine_cpu}), children_cpu()
    meter.start()
    began = time.monotonic()
    container = run("docker", "run", "--detach", "--env", f"JUPYTER_TOKEN={TOKEN}", "--publish",
                    f"127.0.0.1:{port}:8888", image).stdout.strip()
    try:
        seconds_to_answer(f"http://127.0.0.1:{port}", TOKEN)
        parts = {"wall": time.monotonic() - began, "the docker command": children_cpu() - client,
                 **meter.read(), **inside(container)}
        before = container_cpu(container)
        page = requests.get(f"http://127.0.0.1:{port}/lab?token={TOKEN}", timeout=60)
        assert page.status_code == 200, page.status_code
        parts["first page"] = container_cpu(container) - before
    finally:
        run("docker", "rm", "--force", container)
    return parts


def hub_start(hub: Hub, user: str) -> dict[str, float]:
    """A logged-in student's server started on the hub until ready, then its JupyterLab page through OAuth."""
    session = logged_in(hub.url, user)
    meter = Meter({"hub and its proxy": tree_cpu(hub.process.pid), "engine": engine_cpu})
    meter.start()
    began = time.monotonic()
    hub.start_server(user)
    container = engine().containers.get(f"{hub.slug}-{user}").id
    parts = {"wall": time.monotonic() - began, **meter.read(), **inside(container)}
    meter.start()
    before = container_cpu(container)
    page = session.get(f"{hub.url}/user/{user}/lab", timeout=60)
    assert page.status_code == 200, page.status_code
    assert page.url.endswith(f"/user/{user}/lab"), page.url
    parts["first page"] = sum(meter.read().values()) + container_cpu(container) - before
    return parts


def by_part(samples: list[dict]) -> dict:
    """Each part's summary over the runs, and the start's total (every part but the page)."""
    parts = {name: summary([sample[name] for sample in samples]) for name in samples[0]}
    starts = [sum(value for name, value in sample.items() if name not in ("wall", "first page"))
              for sample in samples]
    return {**parts, "start, all parts": summary(starts)}


# In the image: the CPU of importing JupyterHub's single-user server once JupyterLab's server is imported,
# and whether that brought in the hub's own database layer and metrics.
SINGLEUSER_IMPORT = """
import resource, sys
import jupyterlab.labapp, jupyter_server.serverapp, notebook.app, jupyter_server_proxy, nbgitpuller
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = cpu()
import jupyterhub.singleuser
print(cpu() - before, *sorted(name for name in ("sqlalchemy", "alembic", "prometheus_client") if name in sys.modules))
"""


def singleuser_import(image: str, runs: int) -> dict:
    samples, brought = [], []
    for _ in range(runs):
        words = run("docker", "run", "--rm", "--entrypoint", "python", image, "-c", SINGLEUSER_IMPORT).stdout.split()
        samples.append(float(words[0]))
        brought = words[1:]
    return {"cpu": summary(samples), "brings in": brought}


def start_split(project: Path, runs: int) -> dict:
    plain = [plain_start(image_of(project)) for _ in range(runs)]
    students = [f"split{number}" for number in range(1, runs + 1)]
    with tempfile.TemporaryDirectory() as workdir, running_hub(project, Path(workdir), students) as hub:
        on_hub = [hub_start(hub, user) for user in students]
    split = {"docker run": by_part(plain), "hub": by_part(on_hub),
             "JupyterHub's single-user import": singleuser_import(image_of(project), runs)}
    split["hub to plain, CPU"] = (split["hub"]["start, all parts"]["median"]
                                  / split["docker run"]["start, all parts"]["median"])
    return split


def one_class(project: Path, size: int) -> dict:
    students = [f"student{number}" for number in range(1, size + 1)]
    with tempfile.TemporaryDirectory() as workdir, running_hub(project, Path(workdir), students) as hub:
        meter = Meter({"hub and its proxy": tree_cpu(hub.process.pid), "engine": engine_cpu})
        meter.start()
        began = time.monotonic()
        with ThreadPoolExecutor(size) as pool:
            outcomes = list(pool.map(lambda user: start(hub, user, began), students))
        cpu = meter.read()
        ready = [outcome for outcome in outcomes if isinstance(outcome, float)]
        failures = [f"{user}: {outcome}" for user, outcome in zip(students, outcomes, strict=True)
                    if not isinstance(outcome, float)]
        running = [user for user, outcome in zip(students, outcomes, strict=True) if isinstance(outcome, float)]
        cpu["students' containers"] = sum(container_cpu(engine().containers.get(f"{hub.slug}-{user}").id)
                                          for user in running)
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
        "start CPU": cpu,
        "hub memory": hub_memory,
        "server memory idle, median": statistics.median(idle) if idle else 0,
        "server memory after imports, median": statistics.median(working) if working else 0,
        "server memory after imports, largest": max(working, default=0),
    }


def print_split(split: dict) -> None:
    for way in ("docker run", "hub"):
        parts = ", ".join(f"{name} {value['median']:.2f}" for name, value in split[way].items())
        print(f"{way}: {parts}", flush=True)
    print(f"hub to plain, CPU: {split['hub to plain, CPU']:.2f}x (target at most 1.5)", flush=True)
    singleuser = split["JupyterHub's single-user import"]
    print(f"JupyterHub's single-user import after JupyterLab's: {singleuser['cpu']['median']:.2f} s, "
          f"bringing in {', '.join(singleuser['brings in'])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="single starts for the split, each way")
    parser.add_argument("--classes", type=int, nargs="+", default=[10, 20, 30])
    args = parser.parse_args()
    base_image()
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(scratch), {"project_slug": "bench-hub"})
        run("docker", "compose", "build", cwd=project, timeout=3600)
        try:
            results = {"split": start_split(project, args.runs)}
            print_split(results["split"])
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
    results["jupyterhub"] = importlib.metadata.version("jupyterhub")
    save("hub", results)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
SPLIT_PARTS = (("the docker command", "the `docker run` command"),
               ("hub and its proxy", "the hub's spawn handling (with its proxy)"),
               ("engine", "the engine: container created and started"),
               ("start-course and tini", "start-course, then tini"),
               ("Jupyter, start to answering", "Jupyter's server, start to answering"))


def hub_split_lines(split: dict) -> list[str]:
    plain, hub = split["docker run"], split["hub"]

    def cell(way: dict, part: str) -> str:
        return f"{way[part]['median']:.2f}" if part in way else "—"

    lines = ["| CPU-seconds, median | `docker run` to /api/status | a student's start on the hub, to ready |",
             "|---|---|---|"]
    for part, label in SPLIT_PARTS:
        lines.append(f"| {label} | {cell(plain, part)} | {cell(hub, part)} |")
    lines += [f"| **start, all parts** | **{plain['start, all parts']['median']:.2f}** "
              f"| **{hub['start, all parts']['median']:.2f}** |",
              f"| then the first page (JupyterLab's HTML; on the hub through its OAuth handshake) "
              f"| {cell(plain, 'first page')} | {cell(hub, 'first page')} |",
              f"| wall time to answering (`docker run`) or ready (hub) | {plain['wall']['median']:.2f} s "
              f"| {hub['wall']['median']:.2f} s |"]
    return lines


def section(hub: dict) -> Section:
    classes = [hub[key] for key in sorted((key for key in hub if key.isdigit()), key=int)]
    split, targets = hub.get("split"), []
    lines = ["## A whole class on one hub", "",
             f"`bench/hub.py`: the course's `deploy/jupyterhub` configuration (DockerSpawner, the default course "
             f"image) on JupyterHub {hub['jupyterhub']}, with a test login.", ""]
    if split:
        runs = split["hub"]["start, all parts"]["n"]
        lines += ["**One student's start, in parts.** One student at a time (each a first start, with a new "
                  "volume) starts a server through the hub's API and follows its progress until ready, then opens "
                  "JupyterLab's page; the same image started with `docker run` until `/api/status` answers, then "
                  f"its page; {runs} runs each, one after another. CPU-seconds from each process's and "
                  "container's own accounting (`/proc`, the container's cgroup).", "",
                  *hub_split_lines(split), ""]
        singleuser = split.get("JupyterHub's single-user import")
        if singleuser:
            extra = split["hub"]["start, all parts"]["median"] - split["docker run"]["start, all parts"]["median"]
            lines += [f"Of the hub's {extra:.2f} CPU-seconds more, {singleuser['cpu']['median']:.2f} are JupyterHub's "
                      "own single-user module, imported on top of JupyterLab's server (measured alone in the image, "
                      f"n={singleuser['cpu']['n']}): it loads the hub's web handlers and with them "
                      f"{', '.join(singleuser['brings in'])}, which a single-user server does not use.", ""]
        ratio = split["hub to plain, CPU"]
        targets.append(("a student's start on the hub, CPU against a plain `docker run`", f"{ratio:.2f}x",
                        "at most 1.5x", met(ratio, 1.5 + 1e-9)))
    lines += ["**A class at once.** Every student's server is started at the same moment (each student follows "
              "its progress, as the hub's page does), then each runs a notebook cell that imports the course "
              "packages (the image's own `check_packages()`) over the kernel's websocket, through the hub's "
              "proxy. CPU of the start: the hub with its proxy, the engine, and the students' containers until "
              "ready.", "",
              "| students | failures | ready, median | ready, slowest | start CPU, per student | everyone's first "
              "cell | hub + proxy memory | a student's server, idle | after the imports (median, largest) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for result in classes:
        cpu = result.get("start CPU")
        per_student = f"{sum(cpu.values()) / result['students']:.2f} CPU-s" if cpu else "not measured"
        lines.append(
            f"| {result['students']} | {len(result['failures'])} | {result['ready median']:.1f} s | "
            f"{result['ready slowest']:.1f} s | {per_student} | {result['first cells, all']:.1f} s | "
            f"{result['hub memory'] / 1e6:.0f} MB | {result['server memory idle, median'] / 1e6:.0f} MB | "
            f"{result['server memory after imports, median'] / 1e6:.0f} MB, "
            f"{result['server memory after imports, largest'] / 1e6:.0f} MB |")
        if result["students"] == 30:
            slowest = result["ready slowest"]
            targets.append(("30 students starting at once on 2 cores, all ready", f"{slowest:.1f} s, "
                            f"{len(result['failures'])} failures", "under 30 s, no failure",
                            met(slowest, 30) if not result["failures"] else "**missed**"))
    return lines + [""], targets


if __name__ == "__main__":
    main()
