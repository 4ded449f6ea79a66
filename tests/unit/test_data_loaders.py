"""File-based dataset loaders, each fed small files written in exactly its published format."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data_available import requires_fashion_mnist
from unlearnkit.data import DATASETS, load_dataset
from unlearnkit.data import cifar, csv_table, idx, imagefolder, tiny_imagenet
from unlearnkit.errors import ConfigError, DataError

# --------------------------------------------------------------------------------------------
# Writers of the published formats
# --------------------------------------------------------------------------------------------


def write_idx(path: Path, arr: np.ndarray, *, gz: bool = False, magic: int | None = None) -> Path:
    """An idx file: 0x0000, type code 0x08 (ubyte), ndim, big-endian int32 sizes, C-order data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    blob = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)
    return path


def make_idx_dir(folder: Path, n_train: int = 20, n_test: int = 10, *, gz: bool = False, seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y, gz=gz)
        data[prefix] = (x, y)
    return data


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 byte strings (SHORT_BINSTRING/BINSTRING), as cPickle did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def write_py2_pickle(path: Path, obj) -> None:
    """A protocol-2 pickle as Python 2's cPickle wrote the CIFAR files (numpy.core module names)."""
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    path.write_bytes(buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_rows(n: int, offset: int) -> np.ndarray:
    """(n, 3072) uint8: image i has red = offset+i, green = 100+i, blue = 200+i everywhere."""
    rows = np.empty((n, 3072), dtype=np.uint8)
    for i in range(n):
        rows[i, :1024], rows[i, 1024:2048], rows[i, 2048:] = offset + i, 100 + i, 200 + i
    return rows


def make_cifar10(parent: Path, per_batch: int = 3) -> Path:
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for b in range(1, 6):
        write_py2_pickle(folder / f"data_batch_{b}", {
            b"batch_label": f"training batch {b} of 5".encode(),
            b"labels": [(b + i) % 10 for i in range(per_batch)],
            b"data": cifar_rows(per_batch, 10 * b),
            b"filenames": [f"img_{b}_{i}.png".encode() for i in range(per_batch)],
        })  # fmt: skip
    write_py2_pickle(folder / "test_batch", {
        b"batch_label": b"testing batch 1 of 1", b"labels": [0, 9],
        b"data": cifar_rows(2, 0), b"filenames": [b"t0.png", b"t1.png"],
    })  # fmt: skip
    write_py2_pickle(folder / "batches.meta", {
        b"num_cases_per_batch": per_batch, b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_vis": 3072,
    })  # fmt: skip
    return folder


def make_cifar100(parent: Path) -> Path:
    folder = parent / "cifar-100-python"
    folder.mkdir(parents=True)
    fine = [f"fine{i:02d}" for i in range(100)]
    coarse = [f"coarse{i:02d}" for i in range(20)]
    for part, n in (("train", 6), ("test", 4)):
        write_py2_pickle(folder / part, {
            b"filenames": [f"{part}{i}.png".encode() for i in range(n)],
            b"batch_label": f"{part}ing batch 1 of 1".encode(),
            b"fine_labels": [i * 17 % 100 for i in range(n)],
            b"coarse_labels": [(i * 17 % 100) // 5 for i in range(n)],
            b"data": cifar_rows(n, 0),
        })  # fmt: skip
    write_py2_pickle(folder / "meta", {
        b"fine_label_names": [f.encode() for f in fine], b"coarse_label_names": [c.encode() for c in coarse],
    })  # fmt: skip
    return folder


def save_image(path: Path, size=(64, 64), mode="RGB", value=0, fmt=None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(arr, mode=mode).save(path, format=fmt)
    return path


# --------------------------------------------------------------------------------------------
# idx: mnist and fashion-mnist
# --------------------------------------------------------------------------------------------


def test_registered_names():
    for name in ("mnist", "fashion-mnist", "cifar10", "cifar100", "tiny-imagenet", "imagefolder", "csv"):
        assert name in DATASETS


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_idx_files(tmp_path, gz):
    data = make_idx_dir(tmp_path, gz=gz)
    ds = idx.load_mnist(tmp_path)
    assert ds.train_x.shape == (20, 1, 28, 28) and ds.test_x.shape == (10, 1, 28, 28)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    assert np.array_equal(ds.train_x[:, 0].numpy(), data["train"][0])
    assert np.array_equal(ds.test_y.numpy(), data["t10k"][1])
    assert ds.classes == [str(i) for i in range(10)]
    assert ds.scale == 255.0 and tuple(ds.mean) == (0.1307,) and tuple(ds.std) == (0.3081,)
    assert ds.coarse_classes is None
    x = ds.inputs("train", slice(0, 2))
    assert x.dtype == torch.float32
    assert torch.allclose(x, (ds.train_x[:2].float() / 255 - 0.1307) / 0.3081)


def test_fashion_mnist_coarse_labels(tmp_path):
    make_idx_dir(tmp_path, gz=True)
    ds = idx.load_fashion_mnist(tmp_path)
    assert ds.classes == idx.FASHION_CLASSES and ds.classes[9] == "Ankle boot"
    assert ds.coarse_classes == ["tops", "bottoms-and-dresses", "footwear", "bags"]
    assert (tuple(ds.mean), tuple(ds.std)) == ((0.2860,), (0.3530,))
    expected = {0: 0, 2: 0, 4: 0, 6: 0, 1: 1, 3: 1, 5: 2, 7: 2, 9: 2, 8: 3}
    for fine, coarse in zip(ds.train_y.tolist(), ds.coarse_train_y.tolist()):
        assert expected[fine] == coarse
    assert len(ds.coarse_test_y) == len(ds.test_y)


def test_idx_torchvision_raw_layout_and_registry(tmp_path):
    make_idx_dir(tmp_path / "MNIST" / "raw")
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert len(ds.train_y) == 20 and ds.source == str(tmp_path / "MNIST" / "raw")


def test_idx_missing_file_names_it_and_all_four(tmp_path):
    make_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        idx.load_mnist(tmp_path)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte" in msg and "not found" in msg
    for name in idx.IDX_FILES:
        assert name in msg


def test_idx_truncated_file(tmp_path):
    make_idx_dir(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte is truncated"):
        idx.load_mnist(tmp_path)


def test_idx_truncated_header(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(struct.pack(">I", 0x0803) + struct.pack(">I", 5))
    with pytest.raises(DataError, match="truncated inside its header"):
        idx.read_idx(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(p)


def test_idx_trailing_bytes(tmp_path):
    p = write_idx(tmp_path / "labels-idx1-ubyte", np.arange(5))
    p.write_bytes(p.read_bytes() + b"\x00")
    with pytest.raises(DataError, match="1 unexpected bytes"):
        idx.read_idx(p)


def test_idx_truncated_gzip(tmp_path):
    make_idx_dir(tmp_path, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not a readable gzip"):
        idx.load_mnist(tmp_path)


def test_idx_wrong_magic(tmp_path):
    make_idx_dir(tmp_path)
    # A labels file carrying the images magic number (e.g. files swapped or mislabelled).
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((20, 28, 28)), magic=0x0803)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte has magic number 0x00000803; expected 0x00000801"):
        idx.load_mnist(tmp_path)


def test_idx_not_an_idx_file(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(DataError, match=r"invalid magic number 0x3c68746d"):
        idx.read_idx(p)


def test_idx_reads_other_types(tmp_path):
    values = np.array([[1, -2], [300000, 4]], dtype=">i4")
    p = tmp_path / "ints"
    p.write_bytes(struct.pack(">I", 0x0C02) + struct.pack(">II", 2, 2) + values.tobytes())
    got = idx.read_idx(p)
    assert got.dtype == np.int32 and got.dtype.isnative and got.tolist() == [[1, -2], [300000, 4]]


def test_idx_count_mismatch_and_label_range(tmp_path):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(9))
    with pytest.raises(DataError, match="expected 10 unsigned-byte labels"):
        idx.load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(10, 12))
    with pytest.raises(DataError, match="label 12 is out of range"):
        idx.load_mnist(tmp_path)


def test_idx_wrong_image_size(tmp_path):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((20, 32, 32)))
    with pytest.raises(DataError, match=r"shape \(N, 28, 28\)"):
        idx.load_mnist(tmp_path)


def test_idx_needs_data_dir(monkeypatch, tmp_path):
    with pytest.raises(DataError, match="--data-dir / data_dir="):
        idx.load_mnist(None)
    monkeypatch.setattr(idx, "FASHION_DEBIAN_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match="--data-dir / data_dir="):
        idx.load_fashion_mnist(None)


@pytest.mark.slow
@requires_fashion_mnist
def test_real_debian_fashion_mnist():
    ds = idx.load_fashion_mnist()
    assert ds.source == str(idx.FASHION_DEBIAN_DIR)
    assert len(ds.train_y) == 60000 and len(ds.test_y) == 10000
    assert ds.input_shape == (1, 28, 28) and ds.train_x.dtype == torch.uint8
    assert ds.num_classes == 10 and len(ds.coarse_classes) == 4
    assert torch.bincount(ds.train_y).tolist() == [6000] * 10
    assert torch.bincount(ds.coarse_train_y).tolist() == [24000, 12000, 18000, 6000]
    assert torch.bincount(ds.coarse_test_y).tolist() == [4000, 2000, 3000, 1000]
    mapping = torch.tensor(idx.FASHION_COARSE)
    assert torch.equal(mapping[ds.train_y], ds.coarse_train_y)
    x = ds.train_x[:20000].float() / 255
    assert abs(float(x.mean()) - 0.2860) < 0.01 and abs(float(x.std()) - 0.3530) < 0.01


# --------------------------------------------------------------------------------------------
# cifar10 / cifar100
# --------------------------------------------------------------------------------------------


def test_cifar10_from_parent_and_folder(tmp_path):
    folder = make_cifar10(tmp_path)
    for where in (tmp_path, folder):
        ds = cifar.load_cifar10(where)
        assert ds.train_x.shape == (15, 3, 32, 32) and ds.test_x.shape == (2, 3, 32, 32)
        assert ds.train_x.dtype == torch.uint8 and ds.classes == CIFAR10_NAMES
        assert ds.train_y[:3].tolist() == [1, 2, 3] and ds.test_y.tolist() == [0, 9]
        # Planes are red, green, blue in that order: image 1 of batch 1 has (11, 101, 201).
        assert ds.train_x[1, :, 5, 7].tolist() == [11, 101, 201]
        assert ds.scale == 255.0 and len(ds.mean) == 3 and ds.coarse_classes is None
        assert ds.train_x.is_contiguous()
    assert ds.source == str(folder)


def test_cifar100_fine_and_coarse(tmp_path):
    make_cifar100(tmp_path)
    ds = load_dataset("cifar100", data_dir=tmp_path)
    assert ds.num_classes == 100 and len(ds.coarse_classes) == 20 and ds.coarse_classes[3] == "coarse03"
    assert ds.train_x.shape == (6, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
    assert ds.train_y.tolist() == [0, 17, 34, 51, 68, 85]
    assert ds.coarse_train_y.tolist() == [0, 3, 6, 10, 13, 17]
    assert ds.class_names("coarse")[0] == "coarse00"


def test_cifar_accepts_python3_pickles(tmp_path):
    folder = make_cifar100(tmp_path)
    for proto in (2, 4, 5):
        with open(folder / "meta", "wb") as f:  # Python 3 pickles: str keys, unicode names
            pickle.dump({"fine_label_names": [f"f{i}" for i in range(100)],
                         "coarse_label_names": [f"c{i}" for i in range(20)]}, f, protocol=proto)  # fmt: skip
        with open(folder / "test", "wb") as f:
            pickle.dump({b"data": cifar_rows(2, 0), b"fine_labels": np.array([1, 2]),
                         b"coarse_labels": [0, 0]}, f, protocol=proto)  # fmt: skip
        ds = cifar.load_cifar100(tmp_path)
        assert ds.classes[1] == "f1" and ds.test_y.tolist() == [1, 2]


class _Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_cifar_rejects_malicious_pickle(tmp_path):
    folder = make_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": _Evil(marker), b"labels": []}, f, protocol=2)
    with pytest.raises(DataError, match=r"data_batch_3.*forbidden"):
        cifar.load_cifar10(tmp_path)
    assert not marker.exists()
    with open(folder / "data_batch_3", "wb") as f:
        f.write(b"\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03.")
    with pytest.raises(DataError, match=r"os\.system' is forbidden"):
        cifar.load_pickle(folder / "data_batch_3")


def test_cifar_codecs_encode_only_latin1(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib\x86R.")
    with pytest.raises(DataError, match="only allowed"):
        cifar.load_pickle(p)


def test_cifar_missing_file(tmp_path):
    folder = make_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match=r"data_batch_4 not found in .*cifar-10-batches-py"):
        cifar.load_cifar10(tmp_path)
    with pytest.raises(DataError, match="--data-dir / data_dir="):
        cifar.load_cifar100(None)


def test_cifar_truncated_and_malformed(tmp_path):
    folder = make_cifar10(tmp_path)
    p = folder / "test_batch"
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DataError, match="test_batch"):
        cifar.load_cifar10(tmp_path)
    write_py2_pickle(p, {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"shape \(N, 3072\)"):
        cifar.load_cifar10(tmp_path)
    write_py2_pickle(p, {b"data": cifar_rows(2, 0), b"labels": [0, 10]})
    with pytest.raises(DataError, match="outside 0..9"):
        cifar.load_cifar10(tmp_path)
    write_py2_pickle(p, [1, 2, 3])
    with pytest.raises(DataError, match="not the dict"):
        cifar.load_cifar10(tmp_path)


# --------------------------------------------------------------------------------------------
# tiny-imagenet
# --------------------------------------------------------------------------------------------

TINY_WNIDS = ["n02124075", "n01443537", "n01629819"]  # wnids.txt order is not sorted


def make_tiny(parent: Path) -> Path:
    root = parent / "tiny-imagenet-200"
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    (root / "words.txt").write_text(
        "n00001740\tentity\n"
        "n01443537\tgoldfish, Carassius auratus\n"
        "n01629819\tEuropean fire salamander, Salamandra salamandra\n"
        "n02124075\tEgyptian cat\n"
    )
    k = 0
    for w in TINY_WNIDS:
        for i in range(2):
            save_image(root / "train" / w / "images" / f"{w}_{i}.JPEG", mode="L" if i else "RGB", value=k, fmt="JPEG")
            k += 1
        (root / "train" / w / f"{w}_boxes.txt").write_text(f"{w}_0.JPEG\t0\t0\t63\t63\n")
    lines = []
    for i, w in enumerate(["n01629819", "n02124075", "n01443537"]):
        save_image(root / "val" / "images" / f"val_{i}.JPEG", value=100 + i, fmt="JPEG")
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t62\t62")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    save_image(root / "test" / "images" / "test_0.JPEG", fmt="JPEG")
    return root


def test_tiny_imagenet(tmp_path):
    root = make_tiny(tmp_path)
    for where in (tmp_path, root):
        ds = tiny_imagenet.load_tiny_imagenet(where)
        assert ds.train_x.shape == (6, 3, 64, 64) and ds.test_x.shape == (3, 3, 64, 64)
        assert ds.train_x.dtype == torch.uint8
        assert ds.classes == ["goldfish", "European fire salamander", "Egyptian cat"]  # sorted wnids
        assert ds.train_y.tolist() == [0, 0, 1, 1, 2, 2] and ds.test_y.tolist() == [1, 2, 0]
        # The greyscale JPEG became RGB with three equal channels.
        assert torch.equal(ds.train_x[1, 0], ds.train_x[1, 2])
    assert "val" in ds.test_note


def test_tiny_imagenet_errors(tmp_path):
    with pytest.raises(DataError, match="wnids.txt not found"):
        tiny_imagenet.load_tiny_imagenet(tmp_path)
    root = make_tiny(tmp_path)
    (root / "val" / "images" / "val_1.JPEG").unlink()
    with pytest.raises(DataError, match=r"val_1\.JPEG does not exist"):
        tiny_imagenet.load_tiny_imagenet(tmp_path)
    save_image(root / "val" / "images" / "val_1.JPEG", size=(32, 32), fmt="JPEG")
    with pytest.raises(DataError, match=r"val_1\.JPEG is 32x32"):
        tiny_imagenet.load_tiny_imagenet(tmp_path)
    save_image(root / "val" / "images" / "val_1.JPEG", fmt="JPEG")
    with open(root / "val" / "val_annotations.txt", "a") as f:
        f.write("val_9.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DataError, match=r"line 4: wnid 'n99999999' is not in wnids.txt"):
        tiny_imagenet.load_tiny_imagenet(tmp_path)
    with pytest.raises(ConfigError):
        tiny_imagenet.load_tiny_imagenet(tmp_path, download=True)


# --------------------------------------------------------------------------------------------
# imagefolder
# --------------------------------------------------------------------------------------------


def make_faces(root: Path, counts=(5, 4, 5)) -> Path:
    k = 0
    for c, n in zip(["pins_Zoe", "pins_Adam", "pins_Mia"], counts):
        for i in range(n):
            ext, fmt = ((".jpg", "JPEG"), (".PNG", "PNG"))[i % 2]
            save_image(root / c / f"{c}{i}{ext}", size=(40 + i, 30 + 2 * i), value=k, fmt=fmt)
            k += 1
        (root / c / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_text("")
    return root


def test_imagefolder_holdout(tmp_path):
    root = make_faces(tmp_path)
    ds = imagefolder.load_imagefolder(root, image_size=16, test_fraction=0.4)
    assert ds.classes == ["pins_Adam", "pins_Mia", "pins_Zoe"]
    assert ds.train_x.shape[1:] == (3, 16, 16) and ds.train_x.dtype == torch.uint8
    assert len(ds.train_y) + len(ds.test_y) == 14
    assert torch.bincount(ds.test_y, minlength=3).tolist() == [2, 2, 2]
    assert len(ds.mean) == 3 and all(0 < m < 1 for m in ds.mean) and all(s > 0 for s in ds.std)
    again = imagefolder.load_imagefolder(root, image_size=16, test_fraction=0.4)
    assert torch.equal(ds.train_x, again.train_x) and torch.equal(ds.test_y, again.test_y)


def test_imagefolder_train_test_and_grayscale(tmp_path):
    make_faces(tmp_path / "train")
    make_faces(tmp_path / "test", counts=(1, 1, 2))
    ds = load_dataset("imagefolder", data_dir=tmp_path, image_size=8, grayscale=True)
    assert ds.input_shape == (1, 8, 8)
    assert len(ds.train_y) == 14 and ds.test_y.tolist() == [0, 1, 1, 2]
    assert "train/ and test/" in ds.test_note


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DataError, match="No class sub-folders"):
        imagefolder.load_imagefolder(tmp_path)
    root = make_faces(tmp_path / "faces")
    (root / "pins_Empty").mkdir()
    (root / "pins_Empty" / "readme.md").write_text("x")
    with pytest.raises(DataError, match=r"pins_Empty contains no image files"):
        imagefolder.load_imagefolder(root)
    (root / "pins_Empty" / "readme.md").unlink()
    (root / "pins_Empty").rmdir()
    (root / "pins_Mia" / "broken.jpg").write_bytes(b"not really a jpeg")
    with pytest.raises(DataError, match=r"Cannot decode image .*broken\.jpg"):
        imagefolder.load_imagefolder(root)
    with pytest.raises(DataError, match=r"did you mean --data-dir"):
        imagefolder.load_imagefolder(tmp_path)
    with pytest.raises(ConfigError, match="test_fraction"):
        imagefolder.load_imagefolder(root, test_fraction=1.5)
    with pytest.raises(ConfigError, match="image_size"):
        imagefolder.load_imagefolder(root, image_size=0)
    with pytest.raises(ConfigError, match="grayscale"):
        imagefolder.load_imagefolder(root, grayscale="maybe")
    with pytest.raises(DataError, match="--data-dir"):
        imagefolder.load_imagefolder(None)


# --------------------------------------------------------------------------------------------
# csv
# --------------------------------------------------------------------------------------------


def test_csv_string_labels_holdout(tmp_path):
    rows = ["height,label,weight,const"]
    for i in range(30):
        rows.append(f"{i},{['setosa', 'virginica', 'versicolor'][i % 3]},{2 * i + 0.5},7")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n\n")
    ds = csv_table.load_csv(tmp_path)
    assert ds.classes == ["setosa", "versicolor", "virginica"]
    assert ds.train_x.dtype == torch.float32 and ds.input_shape == (3,)
    assert len(ds.train_y) == 24 and len(ds.test_y) == 6
    assert torch.bincount(ds.test_y).tolist() == [2, 2, 2]
    assert "hold-out" in ds.test_note
    train = ds.train_x.double()
    assert np.allclose(ds.mean, train.mean(0).numpy()) and ds.std[2] == 1.0
    assert np.allclose(ds.std[:2], train.std(0, unbiased=False)[:2].numpy())
    x = ds.inputs("train", slice(None))
    assert torch.allclose(x[:, :2].mean(0), torch.zeros(2), atol=1e-5)


def test_csv_train_and_test_files_integer_labels(tmp_path):
    (tmp_path / "train.csv").write_text("a,b,y\n" + "".join(f"{i},{-i},{[2, 10, 1][i % 3]}\n" for i in range(9)))
    (tmp_path / "test.csv").write_text('b,y,a\n-1,10,1\n"-2",01,2\n')
    ds = load_dataset("csv", data_dir=tmp_path, label_column="y")
    assert ds.classes == ["1", "2", "10"]  # numeric, not lexicographic, order
    assert ds.train_y.tolist()[:3] == [1, 2, 0]
    assert ds.test_y.tolist() == [2, 0]
    assert ds.test_x.tolist() == [[1.0, -1.0], [2.0, -2.0]]  # columns reordered to train's order
    assert ds.test_note == "official test split (test.csv)"


def test_csv_path_option(tmp_path):
    p = tmp_path / "table.csv"
    p.write_text("f1,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10)))
    ds = csv_table.load_csv(None, path=str(p))
    assert ds.classes == ["a", "b"] and len(ds.train_y) + len(ds.test_y) == 10


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("a,label\n1,x\ntwo,y\n", r"line 3, column 'a': 'two' is not a finite number"),
        ("a,label\n1,x\n,y\n", r"line 3, column 'a': '' is not a finite number"),
        ("a,label\nnan,x\n", r"line 2, column 'a': 'nan'"),
        ("1,2\n3,4\n", "no header row"),
        ("a,b\n1,2\n", r"no label column 'label'; columns are a, b"),
        ("a,label\n1,x\n2\n", r"line 3: 1 fields, but the header has 2"),
        ("a,label\n1,\n", "label column 'label' is empty"),
        ("label\nx\n", "no feature columns"),
        ("a,a,label\n1,2,x\n", "duplicate column names 'a'"),
        ("a,label\n", "no data rows"),
        ("", "is empty"),
    ],
)
def test_csv_bad_files(tmp_path, text, pattern):
    (tmp_path / "train.csv").write_text(text)
    with pytest.raises(DataError, match=pattern):
        csv_table.load_csv(tmp_path)


def test_csv_bad_test_file_and_missing(tmp_path):
    with pytest.raises(DataError, match="train.csv not found"):
        csv_table.load_csv(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        csv_table.load_csv(None, path=tmp_path / "nope.csv")
    (tmp_path / "train.csv").write_text("a,label\n1,x\n2,y\n")
    (tmp_path / "test.csv").write_text("a,label\n1,z\n")
    with pytest.raises(DataError, match="label 'z' .* does not occur"):
        csv_table.load_csv(tmp_path)
    (tmp_path / "test.csv").write_text("b,label\n1,x\n")
    with pytest.raises(DataError, match="feature columns"):
        csv_table.load_csv(tmp_path)
    with pytest.raises(ConfigError):
        csv_table.load_csv(tmp_path, download=True)
