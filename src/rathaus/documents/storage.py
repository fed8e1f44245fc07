"""Write-once file storage for the E-Akte that is durable before the document row is committed.

Django's FileSystemStorage writes a new file and returns; the bytes reach the disk when the kernel writes
them back (on ext4 within about 30 s). A document row committed in that window – PostgreSQL's commit *is*
durable – would point at an empty or missing file after a power cut: an applicant's upload or a Bescheid
lost although the database says it is there.
With `fsync=True` (`RATHAUS_FSYNC_DOCUMENTS=1`) `save` returns only after the content (`fsync` of the file),
its directory entry (`fsync` of the folder) and the entries of folders it had to create (`fsync` of their
parents) are on disk.

Off by default, as in Django: each sync waits for the disk, and under concurrent load the syncs queue
behind PostgreSQL's WAL flushes (measured: docs/architecture.md, docs/benchmarks.md). Switch it on where documents live on a local disk without a battery-backed
write cache; S3-compatible storage (STORAGES["default"]) is durable when its PUT answers, and so is a NAS
or SAN that acknowledges only persisted writes.
"""

from __future__ import annotations

import os

from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


def fsync_path(path: str) -> None:
    """fsync a file or a folder by path (a read-only descriptor is enough on Linux and macOS)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@deconstructible(path="rathaus.documents.storage.DurableFileSystemStorage")
class DurableFileSystemStorage(FileSystemStorage):
    def __init__(self, *args, fsync: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fsync = fsync

    def _save(self, name, content):
        # folders that do not exist yet (created below; with fsync their entries in their parents are synced)
        created = []
        folder = os.path.dirname(self.path(name))
        root = os.path.abspath(self.location)
        while not os.path.isdir(folder) and len(folder) > len(root):
            created.append(folder)
            folder = os.path.dirname(folder)
        if hasattr(content, "temporary_file_path"):  # a large upload already on disk: Django moves it
            name = super()._save(name, content)
            if self.fsync:
                fsync_path(self.path(name))
        else:
            name = self._write(name, content, bool(created))
        if self.fsync:
            full = self.path(name)
            fsync_path(os.path.dirname(full))
            for folder in created:  # deepest first; the file's own folder is synced above
                fsync_path(os.path.dirname(folder))
        return name

    def _write(self, name, content, make_folders: bool) -> str:
        """Django's `_save` for content in memory or a stream (`fsync` on the open file if switched on),
        without its advisory lock (the name is new, O_EXCL decides) and without its extra file objects
        (less work per document); a file that cannot be written completely is removed: never a
        half-written document (Django's leaves the part it wrote)."""
        full = self.path(name)
        if make_folders:
            if self.directory_permissions_mode is not None:
                from django.core.files.storage.filesystem import safe_makedirs

                safe_makedirs(os.path.dirname(full), self.directory_permissions_mode, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(full), exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        while True:
            try:
                fd = os.open(full, flags, 0o666)
                break
            except FileExistsError:
                name = self.get_available_name(name)
                full = self.path(name)
        try:
            for chunk in content.chunks():
                view = memoryview(chunk.encode() if isinstance(chunk, str) else chunk)
                while view:
                    view = view[os.write(fd, view):]
            if self.file_permissions_mode is not None:
                os.fchmod(fd, self.file_permissions_mode)
            if self.fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(full)
            raise
        os.close(fd)
        self._ensure_location_group_id(full)
        return os.path.relpath(full, self.location).replace("\\", "/")
