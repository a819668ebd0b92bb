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

# NB_USER can come from the environment (repo2docker, a hub): it must never
# name root, or the command below would keep root's rights.
if [ "$(id -u "$user")" -eq 0 ]; then
    echo "start-course: NB_USER=$user is root; Jupyter never runs as root: unset NB_USER" >&2
    exit 1
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
        # Group 0 is root's: the course user never joins it (the folder's
        # owner uid is enough to write there).
        if [ "$gid" -ne 0 ] && [ "$gid" -ne "$(id -g "$user")" ]; then
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
