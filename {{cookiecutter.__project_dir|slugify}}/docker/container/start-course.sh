#!/bin/bash
# Runs the container's command (Jupyter by default) as the owner of the
# student's work folder, so that everything the student saves is theirs on
# their own computer, whatever the engine. Nothing of the student's is ever
# re-owned: the uid follows the files, never the other way round.
#
# compose.yaml starts the container as root for this choice only, with only
# the capabilities it needs for it (CHOWN, SETUID, SETGID, SETPCAP), and this
# script then starts tini (PID 1 from then on) and Jupyter without any:
# - rootful engine (Docker Engine, Docker Desktop): the course user takes the
#   uid and gid that own the work folder, and root is dropped for good
#   (no-new-privs). Jupyter and its kernels never run as root there.
# - rootless engine (rootless Podman or Docker): container uid 0 is the
#   unprivileged host user who started the course, so a work folder owned by
#   it belongs to that user. Jupyter then keeps uid 0, the only uid whose files
#   land as the student's own on the host, but without any capability and with
#   no-new-privs: it can do no more than the student can on their computer.
#   Any other uid would write files as a sub-uid the student cannot edit.
# - a folder owned by root on a rootful engine (a checkout made with sudo):
#   Jupyter runs as the course user; the folder itself, not its files, is
#   handed to it when it is not writable. Where that is refused (NFS home
#   folders, some file-sharing set-ups) Jupyter still starts and the log says
#   what to do.
set -euo pipefail

user="${NB_USER:-student}"
work="/home/${user}/work"

say() { echo "start-course: $*" >&2; }

# compose.override.yaml sets it while the course names no published image yet.
if [ -n "${COURSE_NOTICE:-}" ]; then
    say "$COURSE_NOTICE"
fi

# Every start runs this: bash's own variables and builtins where they do, so
# that Jupyter is not kept waiting by a dozen small programs.
if [ "$EUID" -ne 0 ]; then
    exec "$@"
fi

# NB_USER can come from the environment (repo2docker, a hub): it must be a
# plain user name of this image, and never root, or the command below would
# keep root's rights.
if [[ ! "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || ! account=$(getent passwd "$user"); then
    say "NB_USER=$user is not a user of this image: unset NB_USER"
    exit 1
fi
IFS=: read -r _ _ course_uid course_gid _ <<<"$account"
if [ "$course_uid" -eq 0 ]; then
    say "NB_USER=$user is root; Jupyter never runs as root: unset NB_USER"
    exit 1
fi

# Container uid 0 is the host's root only with the identity uid map.
rootless() {
    local inside outside count
    read -r inside outside count </proc/self/uid_map
    [ "$inside $outside $count" != "0 0 4294967295" ]
}

run_as() {  # uid gid command...
    local uid=$1 gid=$2
    shift 2
    export HOME="/home/${user}" USER="$user" LOGNAME="$user"
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all \
        --no-new-privs -- "$@"
}

writable_by() {  # uid gid folder
    setpriv --reuid="$1" --regid="$2" --clear-groups -- test -w "$3"
}

if [ ! -d "$work" ]; then
    run_as "$course_uid" "$course_gid" "$@"
fi
owner=$(stat -c '%u %g' "$work")
uid=${owner% *}
gid=${owner#* }

if [ "$uid" -eq 0 ] && rootless; then
    # The one place that decides it: Jupyter's settings and the desktop read it from here.
    export COURSE_ROOTLESS_ENGINE=1
    run_as 0 0 "$@"
fi

if [ "$uid" -eq 0 ]; then
    if ! writable_by "$course_uid" "$course_gid" "$work"; then
        if chown "$course_uid:$course_gid" "$work" 2>/dev/null; then
            say "your work folder belonged to root; it now belongs to the course user (uid $course_uid), its files keep their owner"
        else
            say "WARNING: Jupyter cannot save in your work folder: it belongs to root and this computer refuses to change that. In the course folder on your computer run: sudo chown \"\$(id -u):\$(id -g)\" work  (or: chmod 777 work), then restart the course."
        fi
    fi
    run_as "$course_uid" "$course_gid" "$@"
fi

# Group 0 is root's: the course user never joins it (the folder's owner uid
# is enough to write there).
[ "$gid" -ne 0 ] || gid=$course_gid
# Names for the ids, for the shell prompt and tools that look them up; no
# file changes owner. Already so when the course user has them (uid 1000, or
# the container's earlier start).
if [ "$uid:$gid" != "$course_uid:$course_gid" ]; then
    getent group "$gid" >/dev/null || groupadd --gid "$gid" course-files
    sed -i "s/^${user}:\([^:]*\):[0-9]*:[0-9]*:/${user}:\1:${uid}:${gid}:/" /etc/passwd
fi
run_as "$uid" "$gid" "$@"
