#!/bin/bash
# Runs the container's command (Jupyter by default) as the course user.
#
# compose.yaml starts the container as root for one reason: so that this
# script can give the course user the uid and gid that own the bind-mounted
# work folder. Files the student creates are then theirs on a Linux host,
# whatever their uid. Root is dropped for good (no-new-privs) before the
# command starts; Jupyter and its kernels never run as root.
set -euo pipefail

user="${NB_USER:-student}"
work="/home/${user}/work"

if [ "$(id -u)" -ne 0 ]; then
    exec "$@"
fi

if [ -d "$work" ]; then
    uid=$(stat -c %u "$work")
    gid=$(stat -c %g "$work")
    if [ "$uid" -eq 0 ]; then
        # A folder owned by root (a checkout made as root): Jupyter must not
        # run as root, so the course user takes the folder over.
        echo "start-course: $work belongs to root; giving it to $user" >&2
        chown -R "$user:$(id -g "$user")" "$work"
    else
        if [ "$gid" -ne "$(id -g "$user")" ]; then
            getent group "$gid" >/dev/null || groupadd --gid "$gid" course-files
            usermod --gid "$gid" "$user"
        fi
        if [ "$uid" -ne "$(id -u "$user")" ]; then
            usermod --non-unique --uid "$uid" "$user"
        fi
    fi
fi

export HOME="/home/${user}" USER="$user" LOGNAME="$user"
exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --no-new-privs -- "$@"
