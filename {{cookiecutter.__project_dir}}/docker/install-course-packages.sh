#!/bin/bash
# Installs the course's packages into /opt/venv, on top of the Jupyter layer,
# during the image build (see the Dockerfile):
#   install-course-packages.sh REQUIREMENTS CACHE-DIR [uv venv options]
#
# CACHE-DIR is a build cache mount that keeps the environment this course
# built last time, one per architecture and Python. uv changes only what
# REQUIREMENTS changed there, only new files are byte-compiled, and only the
# files the Jupyter layer does not have are copied into /opt/venv. With an
# empty cache (a first build, CI) the same steps install everything.
set -euo pipefail

requirements=$1
cache=$2
shift 2
uv=/opt/uv/bin/uv
target=/opt/venv
build="$cache/$(uname -m)-python$(python3 -c 'import platform; print(platform.python_version())')"

sync() {
    "$uv" pip sync --require-hashes --link-mode copy --cache-dir /var/cache/uv "$@" "$requirements"
}

# Paths (./lib/...) in the cached environment that /opt/venv does not have.
course_files() {
    LC_ALL=C comm -23 <(cd "$build" && find . ! -type d | LC_ALL=C sort) \
        <(cd "$target" && find . ! -type d | LC_ALL=C sort)
}

if [ ! -x "$build/bin/python" ]; then
    "$uv" venv --quiet --relocatable "$@" --python "$(command -v python3)" "$build"
fi
sync --python "$build/bin/python"

# Byte-compile the course's code so that imports in notebooks are fast. Not
# the packages' own test suites, which no notebook imports (a third of the
# code); files that are not valid Python (templates some packages ship) stay
# as they are, hence no failure here.
course_files | grep '\.py$' | grep -Ev '/tests?/' \
    | (cd "$build" && "$build/bin/python" -m compileall -qq -j 0 -i -) || true

# Listed again: the .pyc files just written are course files too.
course_files | tar -C "$build" -cf - -T - | tar -C "$target" -xf -

# /opt/venv now matches REQUIREMENTS exactly; this only checks it, from the
# cache the first sync filled.
sync --python "$target/bin/python" --offline
