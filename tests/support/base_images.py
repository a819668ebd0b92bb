"""Make the base images the generated Dockerfiles start FROM available to the engine.

On a machine with registry access the real images are pulled. Where no registry
is reachable (air-gapped CI), a stand-in is built from Debian packages and
tagged with the official name: the generated Dockerfile cannot tell the
difference, because a local image is used without pulling.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

# The Debian suite whose python3 is that version; the other versions have none.
DEBIAN_SUITE_FOR_PYTHON = {"3.11": "bookworm", "3.13": "trixie", "3.14": "sid"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STANDIN_LABEL = "org.jupyter-course.standin"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, text=True, **kwargs)


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def try_pull(tag: str) -> bool:
    try:
        result = subprocess.run(["docker", "pull", "--quiet", tag], capture_output=True, timeout=600)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (so debootstrap goes where apt goes)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def rootfs_tag(suite: str, arch: str) -> str:
    return f"jupyter-course-standin/debian:{suite}" + ("" if arch == "amd64" else f"-{arch}")


def debian_rootfs_image(suite: str, arch: str = "amd64") -> str:
    """A minimal Debian root file system as an image of that architecture, built once per machine.

    An arm64 one is made on an amd64 machine through QEMU's emulator (.ci/arm64-emulation). The
    file system is added to an empty image rather than imported: the engine records an imported
    one as its own architecture, whatever it holds.
    """
    tag = rootfs_tag(suite, arch)
    if image_exists(tag):
        return tag
    script = [] if suite != "sid" else ["/usr/share/debootstrap/scripts/sid"]
    with tempfile.TemporaryDirectory() as scratch:
        rootfs = Path(scratch, "rootfs")
        run("debootstrap", f"--arch={arch}", "--variant=minbase", suite, str(rootfs), debian_mirror(), *script,
            stdout=subprocess.DEVNULL)
        run("tar", "-C", str(rootfs), "-cf", str(Path(scratch, "rootfs.tar")), ".")
        shutil.rmtree(rootfs)
        Path(scratch, "Dockerfile").write_text('FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n')
        run("docker", "build", "--quiet", "--platform", f"linux/{arch}", "--tag", tag, scratch,
            stdout=subprocess.DEVNULL)
    return tag


def python_standin_dockerfile(rootfs_tag: str, version: str, emulated: bool = False) -> str:
    """A stand-in's recipe. emulated: for another architecture than this machine's, whose Python's bytecode
    this machine writes instead (under emulation, compiling the standard library and pip took minutes)."""
    python = f"python{version}"
    install = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
               f"{python} {python}-venv python3-pip ca-certificates")
    if emulated:
        # The packages' scripts byte-compile with these: no-ops take their place while apt installs.
        compilers = f"/usr/bin/py3compile /usr/lib/{python}/py_compile.py"
        divert = 'dpkg-divert --quiet --local --rename --divert "$file.real"'
        install = (f'for file in {compilers}; do {divert} --add "$file"; done \\\n'
                   f"    && mkdir -p /usr/lib/{python} && : > /usr/lib/{python}/py_compile.py \\\n"
                   "    && ln -s /bin/true /usr/bin/py3compile \\\n"
                   f"    && {install} \\\n"
                   f'    && rm {compilers} && for file in {compilers}; do {divert} --remove "$file"; done')
    recipe = textwrap.dedent(f"""\
        FROM {rootfs_tag} AS installed
        # A mirror's copy of sid may carry a Release file past its validity date;
        # the course Dockerfiles run apt-get update too, so the setting stays.
        RUN echo 'Acquire::Check-Valid-Until "false";' > /etc/apt/apt.conf.d/99-mirror-validity \\
            && {{install}} \\
            && apt-get clean && rm -rf /var/lib/apt/lists/*
        # The official image's Python is not externally managed and lives in /usr/local/bin.
        RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \\
            && ln -sf /usr/bin/{python} /usr/local/bin/python \\
            && ln -sf /usr/bin/{python} /usr/local/bin/python3
        # This machine's certificate authorities, so pip and uv reach the package index.
        COPY ca-certificates.crt /usr/local/share/ca-certificates/host-bundle.crt
        RUN update-ca-certificates
        ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
        """).replace("{install}", install)
    if emulated:
        recipe += textwrap.dedent(f"""\
            FROM --platform=$BUILDPLATFORM python:{version}-slim AS compiled
            COPY --from=installed /usr/lib/{python} /src/usr/lib/{python}
            COPY --from=installed /usr/lib/python3/dist-packages /src/usr/lib/python3/dist-packages
            # Bytecode depends on the Python version only; -s and -p write the image's paths into it. As
            # Debian's scripts do, files that do not compile (tests of bad syntax) are left without.
            RUN python3 -m compileall -q -j 0 -s /src -p / /src/usr/lib || true
            FROM installed
            COPY --from=compiled /src/usr/lib/ /usr/lib/
            """)
    return recipe


def standin_dockerfile(version: str, arch: str = "amd64") -> str:
    suite = DEBIAN_SUITE_FOR_PYTHON.get(version)
    if suite is None:
        raise RuntimeError(
            f"python:{version}-slim cannot be pulled and Debian has no Python {version} to build a stand-in from"
        )
    recipe = python_standin_dockerfile(rootfs_tag(suite, arch), version, emulated=arch != HOST_ARCH)
    # The label records the recipe, so a stand-in made by an older one is rebuilt.
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return f"{recipe}LABEL {STANDIN_LABEL}={digest}\n"


def standin_is_current(tag: str, version: str, arch: str = "amd64") -> bool:
    label = subprocess.run(["docker", "image", "inspect", "--format",
                            f'{{{{index .Config.Labels "{STANDIN_LABEL}"}}}}', tag],
                           capture_output=True, text=True).stdout.strip()
    return label in ("", "<no value>") or standin_dockerfile(version, arch).endswith(f"={label}\n")


def build_python_standin(version: str, tag: str, arch: str = "amd64") -> None:
    dockerfile = standin_dockerfile(version, arch)
    debian_rootfs_image(DEBIAN_SUITE_FOR_PYTHON[version], arch)
    if arch != HOST_ARCH:
        ensure_python_base(version)  # whose Python writes the stand-in's bytecode
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(dockerfile)
        shutil.copy(HOST_CA_BUNDLE, Path(context, "ca-certificates.crt"))
        run("docker", "build", "--quiet", "--platform", f"linux/{arch}", "--tag", tag, context,
            stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def made_once(tag: str):
    """Held while one process makes the image tag: a second process asking for it (.ci/run makes the base
    images early, in the background) waits for the first one's, then finds it made."""
    name = "".join(char if char.isalnum() else "-" for char in tag)
    with Path(tempfile.gettempdir(), f"jupyter-course-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_python_base(version: str) -> str:
    """Make python:<version>-slim available: present, pulled, or a stand-in."""
    tag = f"python:{version}-slim"
    with made_once(tag):
        # A real image has no stand-in label and is kept; an outdated stand-in is rebuilt.
        if image_exists(tag) and standin_is_current(tag, version):
            return tag
        if os.environ.get("JUPYTER_COURSE_NO_PULL") != "1" and try_pull(tag):
            return tag
        print(f"{tag} cannot be pulled (no registry reachable): building a stand-in from Debian packages")
        build_python_standin(version, tag)
    return tag


def python_standin(version: str, arch: str) -> str:
    """A stand-in for python:<version>-slim of the given architecture, under a name of its own."""
    tag = f"jupyter-course-standin/python:{version}-slim-{arch}"
    with made_once(tag):
        if not (image_exists(tag) and standin_is_current(tag, version, arch)):
            build_python_standin(version, tag, arch)
    return tag


def mirror_python_base(mirror: str, version: str, amd64: str) -> None:
    """python:<version>-slim as one tag for linux/amd64 (the image amd64) and linux/arm64 (a stand-in), in the
    Docker Hub mirror at host:port."""
    name = f"{mirror}/library/python"
    sources = {"amd64": amd64, "arm64": python_standin(version, "arm64")}
    for arch, source in sources.items():
        run("docker", "tag", source, f"{name}:{version}-slim-{arch}")
        run("docker", "push", "--quiet", f"{name}:{version}-slim-{arch}", stdout=subprocess.DEVNULL)
        run("docker", "image", "rm", f"{name}:{version}-slim-{arch}", stdout=subprocess.DEVNULL)
    run("docker", "buildx", "imagetools", "create", "--tag", f"{name}:{version}-slim",
        *(f"{name}:{version}-slim-{arch}" for arch in sources), capture_output=True)


def debian_machine(tag: str, dockerfile: str) -> str:
    """A Debian machine made once per engine from a Dockerfile that may COPY this network's CA bundle.

    The Dockerfile's context holds ca-certificates.crt (this host's certificate authorities, a campus
    proxy's among them), so that the machine trusts what this host trusts.
    """
    if not image_exists(tag):
        with tempfile.TemporaryDirectory() as context:
            Path(context, "Dockerfile").write_text(dockerfile)
            shutil.copy(HOST_CA_BUNDLE, Path(context, "ca-certificates.crt"))
            subprocess.run(["docker", "build", "--quiet", "--tag", tag, context], check=True,
                           capture_output=True, timeout=1200)
    return tag


if __name__ == "__main__":
    # python -m tests.support.base_images amd64: python:<version>-slim for every Python the suite builds a
    # course of; ... arm64: the stand-in for the default Python of that architecture.
    default_python = json.loads(Path(__file__).parents[2].joinpath("cookiecutter.json").read_text())["python_version"]
    if sys.argv[1] == "amd64":
        for version in DEBIAN_SUITE_FOR_PYTHON:
            print(ensure_python_base(version))
    else:
        print(python_standin(default_python, sys.argv[1]))
