#!/bin/bash
# The image build's lock stage (see the Dockerfile), run in a folder holding
# uv.toml and the requirements files:
#   lock-jupyter.sh COURSE-PYTHON-VERSION
# writes jupyter.txt, the Jupyter part of requirements.txt (same versions,
# with hashes). It stays byte-identical when a course package is added, so
# the image's Jupyter layer stays cached.
set -euo pipefail

course_python=$1
uv=/opt/uv/bin/uv

base_python=$(python3 -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')
if [ "$base_python" != "$course_python" ]; then
    echo "The base image has Python $base_python, but this course is pinned for Python $course_python:" \
        "choose a $course_python base image." >&2
    exit 1
fi

# A project generated offline has no pins yet: pin requirements.in for this
# build with make lock's own command, until make lock is run.
if ! grep -q -- '--hash=sha256:' requirements.txt; then
    echo "requirements.txt is not pinned yet: pinning requirements.in for this build." \
        "Run 'make lock' and commit requirements.txt." >&2
    python3 /tmp/lock.py --pin-only "$uv"
fi

# Every version is fixed by requirements.txt, so the download cache usually
# answers alone; the index is asked only when it cannot. This platform only:
# --no-config leaves make lock's universal setting out.
jupyter_lock() {
    "$uv" pip compile requirements-jupyter.in --constraint requirements.txt --no-config \
        --python-version "$course_python" --generate-hashes --no-header --no-annotate --quiet \
        --output-file jupyter.txt "$@"
}
# A cached index page older than the lock (the build cache, a campus proxy's cache)
# can miss a version the lock names: ask the index afresh before giving up.
jupyter_lock --offline 2>/dev/null || jupyter_lock 2>/dev/null || jupyter_lock --refresh
