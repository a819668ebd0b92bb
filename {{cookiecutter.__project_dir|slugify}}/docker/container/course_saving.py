"""Saves that a crash cannot cut: every file in the work folder is its old or its new version, whole.

Jupyter's own "atomic" saving copies the old file to a hidden .~<name> and then
rewrites the file in place: a laptop whose battery dies, or a container killed
during that write, leaves the notebook empty or cut, and the good copy hidden.
Here a save writes a new file beside the old one, flushes it to the disk and
renames it over the old one, which the file system does in one step.

At start, what an older image's interrupted save left behind is brought back
(a notebook cut by a crash gets its last complete version) or shown to the
student beside the file (name "(before last save)"), never deleted unseen.
"""

import json
import os
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path

from jupyter_server.services.contents.fileio import atomic_writing as in_place_writing
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

NEW_VERSION_PREFIX = ".~saving-"  # a save that had not finished: the old version is still there
OLD_BACKUP_PREFIX = ".~"  # Jupyter's own copy of the old version during an in-place save


@contextmanager
def replacing(path: str, text: bool = True, encoding: str = "utf-8", log=None, **kwargs):
    """Write the new version beside path, then rename it over path, keeping its mode and owner."""
    if os.path.islink(path):
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    folder = os.path.dirname(path) or "."
    if not os.access(folder, os.W_OK):
        # A file the student may change in a folder they may not: only an in-place write can save it.
        with in_place_writing(path, text=text, encoding=encoding, log=log, **kwargs) as file:
            yield file
        return
    temporary = os.path.join(folder, f"{NEW_VERSION_PREFIX}{secrets.token_hex(4)}-{os.path.basename(path)}")
    # 0o666 less the umask, as a new file gets; an existing file's mode is copied below.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if text:
            kwargs.setdefault("newline", "\n")
            file = open(descriptor, "w", encoding=encoding, **kwargs)  # noqa: SIM115
        else:
            file = open(descriptor, "wb", **kwargs)  # noqa: SIM115
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        keep_mode_and_owner(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    with suppress(OSError):  # the rename itself, on the disk; some file systems cannot sync a folder
        folder_descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_descriptor)
        finally:
            os.close(folder_descriptor)


def keep_mode_and_owner(old: str, new: str) -> None:
    try:
        status = os.stat(old)
    except FileNotFoundError:
        return
    os.chmod(new, status.st_mode & 0o7777)
    # Folders that refuse chown (NFS homes, some Docker Desktop shares) keep the writer as owner:
    # start-course runs Jupyter as the owner of the work folder, so that is the student.
    with suppress(OSError):
        os.chown(new, status.st_uid, status.st_gid)


class CourseContentsManager(AsyncLargeFileManager):
    """Jupyter's file manager, saving through replacing()."""

    @contextmanager
    def atomic_writing(self, os_path, *args, **kwargs):
        with self.perm_to_403(os_path), replacing(os_path, *args, log=self.log, **kwargs) as file:
            yield file


def is_whole(path: Path) -> bool:
    """False for an empty file, and for a notebook that is not complete JSON."""
    if path.stat().st_size == 0:
        return False
    if path.suffix != ".ipynb":
        return True
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


def beside(path: Path, label: str) -> Path:
    """A visible name next to path, e.g. 'lab (before last save).ipynb'."""
    candidate, number = path.with_name(f"{path.stem} ({label}){path.suffix}"), 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem} ({label} {number}){path.suffix}")
    return candidate


def recover(work_folder: str, log) -> None:
    """Bring back, or show, what interrupted saves left in the work folder."""
    for folder, subfolders, names in os.walk(work_folder):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            leftover = Path(folder, name)
            if name.startswith(NEW_VERSION_PREFIX):
                # The new version was still being written: the file itself is its old version, whole.
                with suppress(OSError):
                    leftover.unlink()
            elif name.startswith(OLD_BACKUP_PREFIX) and leftover.is_file() and leftover.stat().st_size:
                restore(leftover, leftover.with_name(name[len(OLD_BACKUP_PREFIX):]), log)


def restore(backup: Path, path: Path, log) -> None:
    try:
        if not path.exists() or not is_whole(path):
            if path.exists() and path.stat().st_size:
                path.rename(beside(path, "cut off by a crash"))
            backup.rename(path)
            log.warning("%s was cut off by a crash while saving: its last complete version is back.", path)
        elif path.suffix == ".ipynb":
            backup.unlink()  # the save had finished: this is an older version
        else:
            shown = beside(path, "before last save")
            backup.rename(shown)
            log.warning("A crash interrupted a save of %s: its earlier version is in %s.", path, shown.name)
    except OSError as error:
        log.warning("Could not bring back %s from %s: %s", path, backup.name, error)


def _load_jupyter_server_extension(serverapp):
    recover(serverapp.root_dir, serverapp.log)


def _jupyter_server_extension_points():
    return [{"module": "course_saving"}]
