"""E-Akte storage: content, its directory entry and new folders are synced to disk before save() returns."""

from __future__ import annotations

import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from rathaus.documents.storage import DurableFileSystemStorage

from .test_api_uploads import PDF, upload


@pytest.fixture
def synced(monkeypatch):
    """Paths os.fsync was called for (the real fsync still runs)."""
    paths: list[str] = []
    real = os.fsync

    def recording(fd):
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return paths


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the synced descriptors")
def test_save_syncs_file_folder_and_new_folders(tmp_path, synced):
    storage = DurableFileSystemStorage(location=str(tmp_path))
    (tmp_path / "a").mkdir()
    name = storage.save("a/b/c/x.pdf", ContentFile(b"%PDF-1.7 content"))
    full = tmp_path / name
    assert full.read_bytes() == b"%PDF-1.7 content"
    # the file, its folder, and the parents of the two folders save() created; not "a"'s parent (existed)
    assert synced == [str(full), str(tmp_path / "a/b/c"), str(tmp_path / "a/b"), str(tmp_path / "a")]

    synced.clear()
    second = storage.save("a/b/c/y.pdf", ContentFile(b"second"))
    assert synced == [str(tmp_path / second), str(tmp_path / "a/b/c")]  # folders exist now
    assert full.read_bytes() == b"%PDF-1.7 content"  # write-once: the first file untouched


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the synced descriptors")
def test_fsync_can_be_switched_off(tmp_path, synced):
    storage = DurableFileSystemStorage(location=str(tmp_path), fsync=False)
    name = storage.save("x/y.pdf", ContentFile(b"data"))
    assert (tmp_path / name).read_bytes() == b"data"
    assert synced == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the synced descriptors")
def test_uploaded_attachment_is_synced_by_the_default_storage(api, seeded, synced):
    """store_document saves (and syncs) before it inserts the row, so the commit comes after the sync."""
    from rathaus.documents.models import Document

    r = upload(api, {"nachweis": ("nachweis.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.content
    doc = Document.objects.get(case_id=r.json()["id"], kind=Document.Kind.ATTACHMENT)
    full = default_storage.path(doc.file.name)
    assert isinstance(default_storage, DurableFileSystemStorage)
    assert full in synced and os.path.dirname(full) in synced
    assert synced.index(full) < synced.index(os.path.dirname(full))


@pytest.mark.parametrize("fsync", [True, False])
def test_a_write_that_fails_leaves_no_file(tmp_path, fsync):
    class Broken(ContentFile):
        def chunks(self, chunk_size=None):
            yield b"first part"
            raise OSError("disk full")

    storage = DurableFileSystemStorage(location=str(tmp_path), fsync=fsync)
    with pytest.raises(OSError, match="disk full"):
        storage.save("a/x.pdf", Broken(b"ignored", name="x.pdf"))
    assert list((tmp_path / "a").iterdir()) == []  # never a half-written document


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the synced descriptors")
def test_large_upload_moved_from_its_temporary_file_is_synced(tmp_path, synced):
    from django.core.files.uploadedfile import TemporaryUploadedFile

    upload_file = TemporaryUploadedFile("big.pdf", "application/pdf", 0, None)
    upload_file.write(b"%PDF-1.7 " + b"x" * 100_000)
    upload_file.seek(0)
    storage = DurableFileSystemStorage(location=str(tmp_path))
    name = storage.save("big/big.pdf", upload_file)
    upload_file.close()  # as after a request: the temporary file was moved
    assert (tmp_path / name).stat().st_size == 100_009
    assert synced[:2] == [str(tmp_path / name), str(tmp_path / "big")]


def test_without_fsync_the_same_files_as_django(tmp_path):
    """fsync off: same names, content and permissions as Django's FileSystemStorage (the lean write path)."""
    from django.core.files.storage import FileSystemStorage

    ours = DurableFileSystemStorage(location=str(tmp_path / "ours"), fsync=False)
    django = FileSystemStorage(location=str(tmp_path / "django"))
    for storage in (ours, django):
        first = storage.save("t/2026/12/a.pdf", ContentFile(b"%PDF-1.7 a"))
        again = storage.save("t/2026/12/a.pdf", ContentFile(b"%PDF-1.7 b"))  # taken: another name, never overwritten
        text = storage.save("t/b.txt", ContentFile("Grüße"))
        assert first == "t/2026/12/a.pdf" and again != first and again.startswith("t/2026/12/a_")
        assert storage.open(first).read() == b"%PDF-1.7 a" and storage.open(again).read() == b"%PDF-1.7 b"
        assert storage.open(text).read() == "Grüße".encode()
    assert oct(os.stat(tmp_path / "ours/t/2026/12/a.pdf").st_mode) == oct(os.stat(tmp_path / "django/t/2026/12/a.pdf").st_mode)
