"""Downloads, checksums and safe extraction, against a local HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import pickle
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from unlearnkit.data import cifar, download, idx
from unlearnkit.errors import DataError


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)


@pytest.fixture
def server(tmp_path):
    """Serves ``tmp_path / 'www'`` at http://127.0.0.1:<port>/; yields (www folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# download_file / ensure_files
# --------------------------------------------------------------------------------------------


def test_download_file_sha256_and_md5(server, tmp_path):
    www, url = server
    payload = bytes(range(256)) * 5000
    (www / "blob.bin").write_bytes(payload)
    dest_dir = tmp_path / "data" / "nested"
    got = download.download_file(url + "blob.bin", dest_dir / "blob.bin", sha256=_sha256(payload))
    assert got == dest_dir / "blob.bin" and got.read_bytes() == payload
    download.download_file(url + "blob.bin", dest_dir / "copy.bin", md5=_md5(payload).upper())
    assert sorted(p.name for p in dest_dir.iterdir()) == ["blob.bin", "copy.bin"]  # no temp files left


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    www, url = server
    (www / "blob.bin").write_bytes(b"tampered")
    dest_dir = tmp_path / "data"
    dest_dir.mkdir()
    wrong = "0" * 64
    with pytest.raises(DataError) as e:
        download.download_file(url + "blob.bin", dest_dir / "blob.bin", sha256=wrong)
    msg = str(e.value)
    assert "Checksum mismatch" in msg and f"expected sha256 {wrong}" in msg and f"got {_sha256(b'tampered')}" in msg
    assert list(dest_dir.iterdir()) == []


def test_mismatch_keeps_existing_destination(server, tmp_path):
    www, url = server
    (www / "blob.bin").write_bytes(b"new")
    dest = tmp_path / "data" / "blob.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(DataError):
        download.download_file(url + "blob.bin", dest, md5="0" * 32)
    assert dest.read_bytes() == b"old" and list(dest.parent.iterdir()) == [dest]


def test_http_404(server, tmp_path):
    _, url = server
    dest_dir = tmp_path / "data"
    with pytest.raises(DataError, match=r"missing\.bin failed: HTTP 404"):
        download.download_file(url + "missing.bin", dest_dir / "missing.bin", md5="0" * 32)
    assert list(dest_dir.iterdir()) == []


def test_unreachable_server_and_bad_scheme(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="failed"):
        download.download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", md5="0" * 32, timeout=5)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="only http, https, file"):
        download.download_file("ftp://127.0.0.1/x", tmp_path / "x")


def test_parse_checksum():
    assert download.parse_checksum("sha256:" + "A" * 64) == ("sha256", "a" * 64)
    assert download.parse_checksum("b" * 32) == ("md5", "b" * 32)
    for bad in ("md5:xyz", "sha1:" + "0" * 40, "0" * 10):
        with pytest.raises(DataError, match="Bad checksum"):
            download.parse_checksum(bad)


def test_ensure_files(server, tmp_path):
    www, url = server
    (www / "a.txt").write_bytes(b"A")
    data = tmp_path / "data"
    data.mkdir()
    (data / "b.txt").write_bytes(b"local copy, not re-hashed")
    files = {"a.txt": (url + "a.txt", "md5:" + _md5(b"A")), "b.txt": (url + "b.txt", "md5:" + "0" * 32)}
    with pytest.raises(DataError, match=r"a\.txt not found .*Expected files: a\.txt, b\.txt"):
        download.ensure_files(data, files, download=False, dataset="toy")
    paths = download.ensure_files(data, files, download=True)
    assert paths["a.txt"].read_bytes() == b"A" and paths["b.txt"].read_bytes() == b"local copy, not re-hashed"


def test_base_url_precedence(monkeypatch):
    assert download.base_url("mnist") == download.BASE_URLS["mnist"]
    monkeypatch.setenv(download.MIRROR_ENV, "http://127.0.0.1:1/mirror/")
    assert download.base_url("cifar10") == "http://127.0.0.1:1/mirror/cifar10/"
    assert download.base_url("cifar10", "http://127.0.0.1:2/x") == "http://127.0.0.1:2/x/"
    monkeypatch.delenv(download.MIRROR_ENV)
    with pytest.raises(DataError, match="no known download location"):
        download.base_url("unknown-set")


def test_canonical_sources_are_the_published_ones():
    assert download.BASE_URLS["mnist"] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert cifar.CIFAR10_ARCHIVE == ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
    assert cifar.CIFAR100_ARCHIVE == ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
    assert idx.MNIST_MD5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert idx.FASHION_MD5["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"


# --------------------------------------------------------------------------------------------
# Loaders with download=True
# --------------------------------------------------------------------------------------------


def _serve_idx(folder: Path, n_train: int = 12, n_test: int = 6) -> dict[str, str]:
    """Writes the four gzipped idx files into ``folder``; returns their md5s."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    md5 = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, arr in (("images-idx3", rng.integers(0, 256, (n, 28, 28))), ("labels-idx1", np.arange(n) % 10)):
            arr = arr.astype(np.uint8)
            raw = struct.pack(">I", 0x0800 | arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
            blob = gzip.compress(raw + arr.tobytes())
            name = f"{prefix}-{kind}-ubyte.gz"
            (folder / name).write_bytes(blob)
            md5[name] = _md5(blob)
    return md5


def test_mnist_download_with_base_url(server, tmp_path, monkeypatch):
    www, url = server
    monkeypatch.setattr(idx, "MNIST_MD5", _serve_idx(www / "files"))
    data = tmp_path / "mnist"
    ds = idx.load_mnist(data, download=True, base_url=url + "files")
    assert len(ds.train_y) == 12 and len(ds.test_y) == 6
    assert sorted(p.name for p in data.iterdir()) == sorted(idx.MNIST_MD5)
    (www / "files" / "train-images-idx3-ubyte.gz").unlink()  # present files are not fetched again
    assert len(idx.load_mnist(data, download=True, base_url=url + "files").train_y) == 12


def test_fashion_download_via_mirror_env(server, tmp_path, monkeypatch):
    www, url = server
    monkeypatch.setattr(idx, "FASHION_MD5", _serve_idx(www / "fashion-mnist"))
    monkeypatch.setenv(download.MIRROR_ENV, url)
    ds = idx.load_fashion_mnist(tmp_path / "fm", download=True)
    assert ds.coarse_classes is not None and len(ds.train_y) == 12


def test_download_with_published_checksums_rejects_other_files(server, tmp_path):
    www, url = server
    _serve_idx(www)  # not the real MNIST, so the published MD5s cannot match
    data = tmp_path / "mnist"
    with pytest.raises(DataError, match="Checksum mismatch .* expected md5"):
        idx.load_mnist(data, download=True, base_url=url)
    assert list(data.iterdir()) == []


def test_download_404_from_loader(server, tmp_path):
    _, url = server
    with pytest.raises(DataError, match="HTTP 404"):
        idx.load_mnist(tmp_path / "m", download=True, base_url=url + "nothing-here/")


def _cifar10_tar(path: Path) -> bytes:
    """A cifar-10-python.tar.gz in the published layout (Python 3 protocol-2 pickles inside)."""
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    members = {"batches.meta": {b"label_names": names, b"num_cases_per_batch": 2, b"num_vis": 3072}}
    for b in range(1, 6):
        members[f"data_batch_{b}"] = {b"data": np.full((2, 3072), b, np.uint8), b"labels": [b, b + 1]}
    members["test_batch"] = {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 2]}
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, obj in members.items():
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path.read_bytes()


def test_cifar10_download_and_extract(server, tmp_path, monkeypatch):
    www, url = server
    blob = _cifar10_tar(www / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar, "CIFAR10_ARCHIVE", ("cifar-10-python.tar.gz", _md5(blob)))
    data = tmp_path / "data"
    ds = cifar.load_cifar10(data, download=True, base_url=url)
    assert ds.train_x.shape == (10, 3, 32, 32) and ds.test_y.tolist() == [0, 1, 2]
    assert ds.classes[1] == "automobile"
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_cifar100_download_checksum_mismatch(server, tmp_path):
    www, url = server
    (www / "cifar-100-python.tar.gz").write_bytes(b"not the archive")
    data = tmp_path / "data"
    with pytest.raises(DataError, match="expected md5 eb9058c3a382ffc7106e4002c42a8d85"):
        cifar.load_cifar100(data, download=True, base_url=url)
    assert list(data.iterdir()) == []


# --------------------------------------------------------------------------------------------
# extract_tar safety
# --------------------------------------------------------------------------------------------


def _tar_with(path: Path, name: str, *, link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("good/file.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        if link is not None:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    return path


@pytest.mark.parametrize(
    "name, link",
    [
        ("../evil.txt", None),
        ("good/../../evil.txt", None),
        ("/tmp/unlearnkit-evil.txt", None),
        ("good/ln", "/etc/passwd"),
    ],
)
def test_extract_tar_rejects_unsafe_members(tmp_path, name, link):
    archive = _tar_with(tmp_path / "bad.tar.gz", name, link=link)
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="Refusing to extract"):
        download.extract_tar(archive, dest)
    assert list(dest.iterdir()) == []  # nothing extracted, not even the good member
    assert not (tmp_path / "evil.txt").exists()


def test_extract_tar_ok_and_corrupt(tmp_path):
    archive = _tar_with(tmp_path / "ok.tar.gz", "good/sub/second.txt")
    tops = download.extract_tar(archive, tmp_path / "out")
    assert tops == [tmp_path / "out" / "good"]
    assert (tmp_path / "out" / "good" / "sub" / "second.txt").read_bytes() == b"evil"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good"]
    (tmp_path / "broken.tar.gz").write_bytes(archive.read_bytes()[:40])
    with pytest.raises(DataError, match="Cannot extract"):
        download.extract_tar(tmp_path / "broken.tar.gz", tmp_path / "out2")
