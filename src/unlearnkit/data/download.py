"""Fetch dataset files over HTTP(S), verify their published checksums, and unpack archives safely.

Every download goes to a hidden temporary file in the destination directory and is moved into
place with ``os.replace`` only after its checksum matched, so a failed or interrupted download
never leaves a partial or unverified file behind. Archives are checked member by member before
anything is extracted: absolute paths, ``..`` components, links and device files are refused.

Where files come from: ``BASE_URLS`` holds the canonical public location of each dataset that has
one. A loader's ``base_url=`` option overrides it for one call; the environment variable
``UNLEARNKIT_MIRROR`` overrides it for every dataset, with one sub-folder per dataset name
(``$UNLEARNKIT_MIRROR/mnist/train-images-idx3-ubyte.gz``).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Mapping

from unlearnkit.errors import DataError

log = logging.getLogger(__name__)

#: Environment variable naming a mirror that replaces every canonical location.
MIRROR_ENV = "UNLEARNKIT_MIRROR"

#: Canonical public base URL of each dataset with a download; a file's URL is base + file name.
BASE_URLS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100": "https://www.cs.toronto.edu/~kriz/",
}

_ALGORITHMS = {"md5": 32, "sha256": 64}
_SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 20


def base_url(dataset: str, override: str | None = None) -> str:
    """The base URL to fetch ``dataset``'s files from, always ending in ``/``.

    Precedence: ``override`` (a loader's ``base_url=`` option), then ``$UNLEARNKIT_MIRROR/<dataset>/``,
    then ``BASE_URLS[dataset]``.

    Example:
        >>> base_url("mnist", override="http://127.0.0.1:8000/files")
        'http://127.0.0.1:8000/files/'
    """
    if override:
        url = str(override)
    elif os.environ.get(MIRROR_ENV):
        url = os.environ[MIRROR_ENV].rstrip("/") + "/" + dataset
    elif dataset in BASE_URLS:
        url = BASE_URLS[dataset]
    else:
        raise DataError(f"Dataset {dataset!r} has no known download location; pass base_url= or set {MIRROR_ENV}.")
    return url if url.endswith("/") else url + "/"


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"md5:<hex>"`` / ``"sha256:<hex>"`` (or bare hex, told apart by length) into (algorithm, hex).

    Example:
        >>> parse_checksum("md5:C58F30108F718F92721AF3B95E74349A")
        ('md5', 'c58f30108f718f92721af3b95e74349a')
    """
    algo, sep, digest = str(checksum).strip().partition(":")
    if not sep:
        algo, digest = "", algo
    digest = digest.lower()
    if not algo:
        algo = next((a for a, n in _ALGORITHMS.items() if n == len(digest)), "")
    algo = algo.lower()
    if algo not in _ALGORITHMS or len(digest) != _ALGORITHMS[algo] or any(c not in "0123456789abcdef" for c in digest):
        raise DataError(f"Bad checksum {checksum!r}: expected 'md5:<32 hex digits>' or 'sha256:<64 hex digits>'.")
    return algo, digest


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying its checksum first.

    The bytes go to a hidden temporary file beside ``dest``; only when the digest matches is it
    renamed onto ``dest`` (``os.replace``). On any failure the temporary file is removed and
    ``dest`` is left untouched.

    Args:
        url: an ``http``, ``https`` or ``file`` URL.
        dest: the final file path; its directory is created if needed.
        sha256: expected SHA-256 hex digest, or None.
        md5: expected MD5 hex digest, or None (used when no ``sha256`` is given).
        timeout: seconds to wait for the server on connect and on each read.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        DataError: unreachable server, an HTTP error status, or a checksum mismatch (naming
            expected and actual digests).

    Example:
        >>> download_file("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...               "data/t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c")  # doctest: +SKIP
        PosixPath('data/t10k-labels-idx1-ubyte.gz')
    """
    dest = Path(dest)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise DataError(f"Cannot download {url!r}: only {', '.join(_SCHEMES)} URLs are supported.")
    expected: tuple[str, str] | None = None
    if sha256:
        expected = parse_checksum(f"sha256:{sha256}")
    elif md5:
        expected = parse_checksum(f"md5:{md5}")
    h = hashlib.new(expected[0] if expected else "sha256")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as e:
        raise DataError(f"Cannot write the download of {url} into {dest.parent}: {e.strerror or e}.") from None
    tmp = Path(tmp_name)
    try:
        log.info("downloading %s -> %s", url, dest)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
        except urllib.error.HTTPError as e:
            raise DataError(f"Download of {url} failed: HTTP {e.code} {e.reason}.") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", e)
            raise DataError(f"Download of {url} failed: {reason}.") from None
        if expected is not None and h.hexdigest() != expected[1]:
            raise DataError(
                f"Checksum mismatch for {url}: expected {expected[0]} {expected[1]}, got {h.hexdigest()}. "
                "The file was discarded; the mirror may be corrupt or serve a different version."
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a dataset file should be readable like any other
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def ensure_files(
    data_dir: str | os.PathLike,
    files: Mapping[str, tuple[str, str]],
    download: bool,
    *,
    dataset: str = "dataset",
) -> dict[str, Path]:
    """Make sure every named file exists in ``data_dir``, downloading missing ones when allowed.

    Files already present are used as they are (not re-hashed: a re-compressed copy such as the
    Debian one is still valid data); only files that are downloaded are verified.

    Args:
        data_dir: the directory the files live in.
        files: file name -> ``(url, checksum)``, checksum as ``"md5:<hex>"`` or ``"sha256:<hex>"``.
        download: fetch missing files; if False, a missing file raises ``DataError``.
        dataset: name used in error messages.

    Returns:
        file name -> its path in ``data_dir``.

    Example:
        >>> ensure_files("data", {"cifar-10-python.tar.gz": (
        ...     "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        ...     "md5:c58f30108f718f92721af3b95e74349a")}, download=True)  # doctest: +SKIP
        {'cifar-10-python.tar.gz': PosixPath('data/cifar-10-python.tar.gz')}
    """
    data_dir = Path(data_dir)
    paths = {name: data_dir / name for name in files}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing and not download:
        raise DataError(
            f"{dataset}: {', '.join(missing)} not found in {data_dir}. Expected files: {', '.join(files)}. "
            "Pass download=True (--download) to fetch them."
        )
    for name in missing:
        url, checksum = files[name]
        algo, digest = parse_checksum(checksum)
        download_file(url, paths[name], **{algo: digest})
    return paths


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DataError(f"Refusing to extract {archive}: member {name!r} has an absolute path or '..'.")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"Refusing to extract {archive}: member {name!r} is a link or special file.")


def extract_tar(archive: str | os.PathLike, dest_dir: str | os.PathLike) -> list[Path]:
    """Extract a (possibly compressed) tar archive into ``dest_dir``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, ``..`` components, links
    and device files raise ``DataError``. Members are unpacked into a temporary folder inside
    ``dest_dir`` and then moved into place, so a failed extraction leaves nothing behind.

    Args:
        archive: path of the ``.tar``, ``.tar.gz``, ``.tgz`` or ``.tar.bz2`` file.
        dest_dir: directory to extract into (created if needed).

    Returns:
        The top-level paths created or updated in ``dest_dir``.

    Example:
        >>> extract_tar("data/cifar-10-python.tar.gz", "data")  # doctest: +SKIP
        [PosixPath('data/cifar-10-batches-py')]
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                _check_member(m, archive)
            with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".extract-") as tmp:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python without PEP 706 filters; members were checked above
                    tar.extractall(tmp, members=members)
                tops = sorted({PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts})
                for root, _dirs, names in os.walk(tmp):
                    rel = Path(root).relative_to(tmp)
                    (dest_dir / rel).mkdir(parents=True, exist_ok=True)
                    for n in names:
                        os.replace(Path(root) / n, dest_dir / rel / n)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"Cannot extract {archive}: {e}") from None
    return [dest_dir / t for t in tops if t != "."]

