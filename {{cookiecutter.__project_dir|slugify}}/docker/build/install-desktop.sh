#!/bin/bash
# The desktop in the browser (docker/container/course_desktop.py): TigerVNC's X server,
# the JWM window manager (a task bar, a menu with a terminal, no screen lock)
# with xterm, and Tk for Python's tkinter, turtle and matplotlib's windows.
# Installed on Debian trixie: TigerVNC alone about 290 MB (its X server
# needs Mesa, whose LLVM is most of it); JWM and xterm add about 38 MB, twm
# 10 MB (no task bar), fluxbox or openbox about 115 MB, Xfce more and a
# screen lock with a password nobody knows.
set -euo pipefail

packages=(tigervnc-standalone-server jwm xterm)

# Tk, for the Python the course runs: Debian's own Python takes it from its
# python3.X-tk package; the official python images keep the tkinter module but
# remove the Tk libraries it links to, so those are installed; conda's Python
# (Jupyter Docker Stacks) brings its own.
if ! python3 -c 'import tkinter' 2>/dev/null; then
    version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if dpkg -S "$(readlink -f "$(command -v python3)")" >/dev/null 2>&1; then
        packages+=("python${version}-tk")
    else
        module=$(python3 -c 'import importlib.util; spec = importlib.util.find_spec("_tkinter"); print(spec.origin if spec else "")')
        if [ -z "$module" ]; then
            echo "install-desktop: this Python ($(command -v python3)) was built without tkinter; programs with windows cannot run" >&2
            exit 1
        fi
        # "libtk8.6.so => not found" -> the Debian package libtk8.6
        mapfile -t missing < <(ldd "$module" | sed -n 's/^[[:space:]]*lib\(tk\|tcl\)\([0-9.]*\)\.so.*not found.*/lib\1\2/p')
        packages+=("${missing[@]}")
    fi
fi

apt-get update
apt-get install -y --no-install-recommends -o APT::Cmd::Pattern-Only=true "${packages[@]}"
apt-get clean
rm -rf /var/lib/apt/lists/*

# The X server's socket folder, as an X server owned by root would make it:
# the desktop runs as the student, who cannot create it with these rights.
mkdir -p /tmp/.X11-unix
chmod 1777 /tmp/.X11-unix

# Fail the build here, not in a student's first turtle lesson.
python3 -c 'import tkinter; tkinter.Tcl()'
