import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import scenes_in_directory
from torchgeo_datacenters.scan.fetch import PREFIX, SceneFetcher, remove_stale
from torchgeo_datacenters.scan.scenes import download
from torchgeo_datacenters.stac import NetworkSettings


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def test_directories_of_killed_workers_are_removed_by_the_next_worker(tmp_path: Path) -> None:
    killed = tmp_path / f"{PREFIX}{dead_pid()}-abc"
    (killed / "scene").mkdir(parents=True)
    (killed / "scene" / "m_1.tif").write_bytes(b"half a download")
    running = tmp_path / f"{PREFIX}{os.getppid()}-def"
    running.mkdir()
    other = tmp_path / "tgdc-worker-notes"
    other.mkdir()
    fetcher = SceneFetcher(tmp_path)
    assert not killed.exists()
    assert running.is_dir() and other.is_dir()
    assert fetcher.root.parent == tmp_path
    assert fetcher.root.name.startswith(f"{PREFIX}{os.getpid()}-")
    fetcher.close()
    assert not fetcher.root.exists()
    assert remove_stale(tmp_path) == []


def test_a_scene_fetched_ahead_is_taken_once_and_others_are_removed(tmp_path: Path) -> None:
    for name in ("a.tif", "b.tif", "c.tif"):
        (tmp_path / name).write_bytes(b"")
    a, b, c = scenes_in_directory(tmp_path)
    fetcher = SceneFetcher(tmp_path / "work")
    now = fetcher.take(a)
    fetcher.prefetch(b)
    assert now.file.result() == a.path
    now.remove()
    # Another worker took b: the scene asked for is fetched and b's directory removed.
    later = fetcher.take(c)
    assert later.file.result() == c.path
    later.remove()
    assert list(fetcher.root.iterdir()) == []
    fetcher.close()
    assert list((tmp_path / "work").iterdir()) == []


class _HugeFile(BaseHTTPRequestHandler):
    """Announces a file of 2**62 bytes and sends none of it."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(2**62))
        self.end_headers()
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def huge_file_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HugeFile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/m_1.tif"
    server.shutdown()
    server.server_close()


def test_a_download_that_cannot_fit_is_refused_before_its_first_byte(
    tmp_path: Path, huge_file_url: str
) -> None:
    with pytest.raises(TGDCError, match=r"m_1.tif: cannot be written: no space left on device"):
        download(huge_file_url, tmp_path / "m_1.tif", NetworkSettings(retries=0, timeout=5))
    assert list(tmp_path.iterdir()) == []
