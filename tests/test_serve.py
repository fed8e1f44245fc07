"""`rathaus serve` (the README's demo server): starts, answers, serves static files, stops on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.django_db(transaction=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_answers_and_stops(tmp_path, server):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "RATHAUS_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "rathaus.settings"}
    env.pop("RATHAUS_DEBUG", None)
    subprocess.run([sys.executable, "-m", "rathaus", "migrate", "--no-input", "-v0"], env=env, check=True, timeout=120)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rathaus", "serve", "--port", str(port), "--workers", "1",
                             "--quiet", "--server", server], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
                    assert r.status == 200 and b'"database": "ok"' in r.read().replace(b'":"', b'": "')
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
                assert time.monotonic() < deadline, "server did not answer within 60 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/docs", timeout=5) as r:
            assert r.status == 200 and "openapi.json" in r.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/rathaus.css", timeout=5) as r:  # WhiteNoise
            assert r.status == 200 and "css" in r.headers["Content-Type"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode is not None


@pytest.mark.django_db
def test_settle_heap_freezes_what_the_worker_loaded():
    """After the warm-up a worker moves its loaded objects out of the cyclic collector's reach (a full
    collection then scans only what requests allocate)."""
    import gc

    from rathaus.core.serving import settle_heap

    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
