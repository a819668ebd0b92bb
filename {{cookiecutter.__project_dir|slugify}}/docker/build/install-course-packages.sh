#!/bin/bash
# Installs the course's packages during the image build (see the Dockerfile):
#   install-course-packages.sh REQUIREMENTS CACHE-DIR OUT [--sources PYPROJECT] [uv venv options]
#     writes under OUT the files the course's packages add to /opt/venv (the
#     Jupyter layer), at their places in /opt/venv; the next stage
#     byte-compiles them, and the image copies them into /opt/venv.
#   install-course-packages.sh --check REQUIREMENTS [--sources PYPROJECT]
#     checks, offline and changing nothing, that /opt/venv now holds exactly
#     what REQUIREMENTS pins; it fails the build, listing what differs, if not.
#
# --sources: a pyproject.toml whose [tool.uv.sources] sent packages to another
# index when REQUIREMENTS was pinned (pytorch-cpu/); they are installed from
# there, every file still checked against its hash in REQUIREMENTS.
#
# CACHE-DIR is a build cache mount that keeps the environment this course
# built last time, one per architecture and Python. uv changes only what
# REQUIREMENTS changed there, and only the files the Jupyter layer does not
# have are written to OUT. With an empty cache (a first build, CI) the same
# steps install everything.
set -euo pipefail

check=
if [ "$1" = --check ]; then
    check=yes
    shift
fi
requirements=$1
shift
if [ -z "$check" ]; then
    cache=$1
    out=$2
    shift 2
fi
sources=
if [ "${1:-}" = --sources ]; then
    sources=$2
    shift 2
fi
uv=/opt/uv/bin/uv
target=/opt/venv

sync() {
    if [ -n "$sources" ]; then
        # uv pip sync has no sources; install --exact does the same with them.
        "$uv" pip install --exact --require-hashes --link-mode copy --cache-dir /var/cache/uv "$@" \
            -r "$requirements" -r "$sources"
    else
        "$uv" pip sync --require-hashes --link-mode copy --cache-dir /var/cache/uv "$@" "$requirements"
    fi
}

if [ -n "$check" ]; then
    if ! plan=$(sync --python "$target/bin/python" --offline --dry-run 2>&1) \
            || ! grep -qx 'Would make no changes' <<<"$plan"; then
        echo "$plan" >&2
        echo "ERROR: $target does not hold exactly what $requirements pins (above: what differs)." >&2
        exit 1
    fi
    exit
fi

build="$cache/$(uname -m)-python$(python3 -c 'import platform; print(platform.python_version())')"

# Paths (./lib/...) in the cached environment that /opt/venv does not have.
course_files() {
    LC_ALL=C comm -23 <(cd "$build" && find . ! -type d | LC_ALL=C sort) \
        <(cd "$target" && find . ! -type d | LC_ALL=C sort)
}

# One line per pin (continuation lines joined, comments dropped), sorted.
pins() {
    sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$1" | sed 's/#.*//; s/[[:space:]]\+/ /g; s/ $//' \
        | grep '^[A-Za-z0-9]' | LC_ALL=C sort
}

# uv keeps an installed package whose version still matches without looking
# at its hashes. So every package whose pin changed since the cached
# environment was built (hashes, markers, version) is installed again, its
# file checked against the new hashes; an environment without a record of its
# pins is installed again whole.
record="$build/.course-requirements.txt"
reinstall=()
if [ ! -x "$build/bin/python" ]; then
    "$uv" venv --quiet --relocatable "$@" --python "$(command -v python3)" "$build"
elif [ -f "$record" ]; then
    for name in $(LC_ALL=C comm -13 <(pins "$record") <(pins "$requirements") | sed 's/[][ =;<>!~].*//'); do
        reinstall+=(--reinstall-package "$name")
    done
else
    reinstall=(--reinstall)
fi
sync --python "$build/bin/python" "${reinstall[@]}"
cp "$requirements" "$record"

# The course's files, compiled in the next stage; bytecode an earlier build
# left in the cache is kept out: that stage writes what is current.
mkdir -p "$out"
course_files | { grep -v '\.pyc$' || true; } | tar -C "$build" -cf - -T - | tar -C "$out" -xf -
