"""Safe downloads against a local HTTP server that fails on purpose (127.0.0.1 only, bounded)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import netCDF4
import numpy as np
import pooch
import pytest
import xarray as xr

from icegrad.data import download as dl


class ScriptedServer:
    """Serves ``files``; ``plan[name]`` lists behaviours used by successive requests, then 'ok'."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.plan: dict[str, list[str]] = {}
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.requests[name] += 1
                steps = server.plan.get(name, [])
                step = steps.pop(0) if steps else "ok"
                body = server.files.get(name)
                if body is None or step == "404":
                    self.send_error(404)
                elif step == "500":
                    self.send_error(500)
                elif step == "cut":  # promise the whole file, send half, drop the connection
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:  # "ok", or "short": a consistent response holding only half of the file
                    payload = body if step == "ok" else body[: len(body) // 2]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def netcdf_bytes(tmp_path: Path, seed: int) -> bytes:
    """A small netCDF-4 file with a ``sic`` variable, as bytes to serve."""
    path = tmp_path / f"src_{seed}.nc"
    values = np.random.default_rng(seed).random((40, 40)).astype(np.float32)
    xr.Dataset({"sic": (("y", "x"), values)}).to_netcdf(path, engine="netcdf4")
    return path.read_bytes()


def verify_sic(path: Path) -> None:
    with netCDF4.Dataset(path) as nc:
        if "sic" not in nc.variables:
            raise ValueError("no 'sic' variable")
        nc.variables["sic"][:]


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files left in a folder (there must never be any)."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".part"]


def fetch(server: ScriptedServer, folder: Path, name: str, **kw: object) -> Path:
    kw.setdefault("retries", 3)
    return dl.fetch(server.url + name, folder / name, verify=verify_sic, registry=dl.ChecksumRegistry(folder),
                    backoff_s=0.0, **kw)


def test_download_records_sha256_and_reuses_without_a_request(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 1)
    folder = tmp_path / "cache"
    path = fetch(server, folder, "a.nc")
    assert path.read_bytes() == server.files["a.nc"]
    digest = hashlib.sha256(server.files["a.nc"]).hexdigest()
    assert dl.ChecksumRegistry(folder).get("a.nc") == digest
    assert fetch(server, folder, "a.nc") == path
    assert server.requests["a.nc"] == 1
    # the registry is pooch's format, so the folder also works as a pooch cache
    p = pooch.create(path=folder, base_url=server.url)
    p.load_registry(folder / dl.REGISTRY_NAME)
    assert p.registry["a.nc"] == f"sha256:{digest}"


def test_server_errors_are_retried(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 2)
    server.plan["a.nc"] = ["500", "500"]
    path = fetch(server, tmp_path / "cache", "a.nc")
    assert server.requests["a.nc"] == 3 and path.read_bytes() == server.files["a.nc"]


def test_giving_up_after_retries_leaves_nothing(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 3)
    server.plan["a.nc"] = ["500"] * 5
    folder = tmp_path / "cache"
    with pytest.raises(dl.DownloadError, match="after 2 attempts"):
        fetch(server, folder, "a.nc", retries=1)
    assert not (folder / "a.nc").exists() and leftovers(folder) == []


@pytest.mark.parametrize("step", ["cut", "short"])
def test_truncated_downloads_are_rejected_then_retried(server: ScriptedServer, tmp_path: Path,
                                                       step: str) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 4)
    folder = tmp_path / "cache"
    server.plan["a.nc"] = [step, step]
    with pytest.raises(dl.DownloadError):
        fetch(server, folder, "a.nc", retries=1)
    assert not (folder / "a.nc").exists() and leftovers(folder) == []
    server.plan["a.nc"] = [step]
    assert fetch(server, folder, "a.nc").read_bytes() == server.files["a.nc"]


def test_a_file_that_is_not_the_product_is_refused(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = b"<html>maintenance page</html>"
    folder = tmp_path / "cache"
    with pytest.raises(dl.DownloadError, match="not the expected product"):
        fetch(server, folder, "a.nc", retries=1)
    assert not (folder / "a.nc").exists()


def test_missing_remote_file_is_not_retried(server: ScriptedServer, tmp_path: Path) -> None:
    with pytest.raises(dl.RemoteFileMissingError, match="404"):
        fetch(server, tmp_path / "cache", "absent.nc")
    assert server.requests["absent.nc"] == 1


def test_server_copy_differing_from_the_registry_is_refused(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 5)
    folder = tmp_path / "cache"
    dl.ChecksumRegistry(folder).record("a.nc", "0" * 64)
    with pytest.raises(dl.ChecksumMismatchError, match="delete the line"):
        fetch(server, folder, "a.nc")
    assert not (folder / "a.nc").exists() and leftovers(folder) == []


def test_corrupted_cached_file_is_fetched_again(server: ScriptedServer, tmp_path: Path) -> None:
    server.files["a.nc"] = netcdf_bytes(tmp_path, 6)
    folder = tmp_path / "cache"
    path = fetch(server, folder, "a.nc")
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="no longer matches"):
        fetch(server, folder, "a.nc")
    assert path.read_bytes() == server.files["a.nc"] and server.requests["a.nc"] == 2


def test_interrupted_run_resumes_without_losing_finished_files(server: ScriptedServer,
                                                               tmp_path: Path) -> None:
    names = ["m1.nc", "m2.nc", "m3.nc"]
    for seed, name in enumerate(names):
        server.files[name] = netcdf_bytes(tmp_path, 10 + seed)
    folder = tmp_path / "cache"
    server.plan["m2.nc"] = ["cut"]
    with pytest.raises(dl.DownloadError):
        for name in names:
            fetch(server, folder, name, retries=0)
    assert (folder / "m1.nc").exists() and not (folder / "m2.nc").exists() and leftovers(folder) == []
    for name in names:
        fetch(server, folder, name, retries=0)
    assert server.requests == Counter({"m1.nc": 1, "m2.nc": 2, "m3.nc": 1})
    registry = dl.ChecksumRegistry(folder)
    for name in names:
        assert registry.get(name) == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_get_text_retries(server: ScriptedServer) -> None:
    server.files["index.html"] = b"<a href='x.nc'>x.nc</a>"
    server.plan["index.html"] = ["500"]
    assert "x.nc" in dl.get_text(server.url + "index.html", retries=2, backoff_s=0.0)


def test_open_netcdf_refuses_pages_truncations_and_other_products(tmp_path: Path) -> None:
    """The one netCDF check every reader uses: a clear one-line error naming the file and the fix."""
    import netCDF4
    import numpy as np
    import xarray as xr

    from icegrad.data.download import open_netcdf

    class ProductError(ValueError):
        pass

    def check(path: Path) -> None:
        with open_netcdf(path, product="a test", any_of=["ice_conc"], error=ProductError, hint="re-fetch it"):
            pass

    page = tmp_path / "page.nc"
    page.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(ProductError, match=r"page.nc is not a netCDF file .*re-fetch it"):
        check(page)
    good = tmp_path / "good.nc"
    xr.Dataset({"ice_conc": ("x", np.zeros(500))}).to_netcdf(good, engine="netcdf4")
    check(good)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(ProductError, match="truncated or damaged"):
        check(cut)
    other = tmp_path / "other.nc"
    xr.Dataset({"tas": ("x", np.zeros(3))}).to_netcdf(other)
    with pytest.raises(ProductError, match=r"is not a test file: it has none of the variables"):
        check(other)
    grouped = tmp_path / "grouped.nc"
    with netCDF4.Dataset(grouped, "w") as nc:
        nc.createDimension("x", 2)
        nc.createGroup("supplementary").createVariable("ice_conc", "f4", ("x",))
    check(grouped)  # variables in netCDF groups count (G02202 v5/v6 keep some there)
