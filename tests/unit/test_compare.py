"""The numbers behind the comparison page, on small hand-made inputs whose answers are worked out here."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
import torch
from torch import nn

from unlearnkit.compare.forward import _centred_gram, last_linear, layer_grams, layer_names, linear_cka, \
    logits_and_features
from unlearnkit.compare.geometry import fit_pca
from unlearnkit.compare.page import _json_for_script
from unlearnkit.compare.samples import Budget, sample_positions
from unlearnkit.compare.sources import classify_sources, same_or_raise
from unlearnkit.compare.thumbs import png_bytes, to_pixels
from unlearnkit.compare.views import class_accuracy, prediction_matrix
from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.errors import ConfigError


def test_class_accuracy_and_prediction_matrix():
    z = torch.tensor([[3., 0., 0.], [0., 3., 0.], [3., 0., 0.], [0., 0., 3.]])  # predicts 0, 1, 0, 2
    y = np.array([0, 1, 1, 1])
    assert class_accuracy(z, y, 4) == [100.0, 33.33, None, None]
    assert prediction_matrix(z, y, 3) == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]


def test_linear_cka_is_one_under_rotation_and_scale_and_lower_for_unrelated_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=g)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    assert linear_cka(_centred_gram(x), _centred_gram(3 * x @ q)) == pytest.approx(1.0, abs=1e-9)
    other = torch.randn(50, 6, generator=g)
    assert linear_cka(_centred_gram(x), _centred_gram(other)) < 0.5
    assert linear_cka(_centred_gram(x), _centred_gram(other)) == pytest.approx(
        linear_cka(_centred_gram(other), _centred_gram(x)))


def test_linear_cka_matches_the_feature_space_formula():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(30, 4, generator=g).double(), torch.randn(30, 7, generator=g).double()
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = float((yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm()))
    assert linear_cka(_centred_gram(x), _centred_gram(y)) == pytest.approx(expected, rel=1e-10)


def test_features_are_the_input_of_the_head_and_layers_are_linear_and_conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    assert last_linear(model) is model[3] and layer_names(model) == ["1", "3"]
    ds = Dataset.from_arrays(np.random.default_rng(0).normal(size=(7, 4)).astype("float32"), np.arange(7) % 3)
    sub = Subset(ds, "train", torch.arange(7))
    z, feats = logits_and_features(model, sub)
    x, _ = sub.tensors()
    assert z.dtype == torch.float64 and z.shape == (7, 3)
    assert torch.allclose(feats, torch.relu(model[1](x.flatten(1))), atol=1e-6)
    grams = layer_grams(model, x)
    assert set(grams) == {"1", "3"} and grams["3"].shape == (7, 7)
    assert torch.allclose(grams["3"].sum(0), torch.zeros(7, dtype=torch.float64), atol=1e-9)  # centred


def test_pca_finds_the_direction_of_largest_spread():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 10, 200), rng.normal(0, 1, 200), np.zeros(200)]
    mean, axes, share = fit_pca(x, 2)
    assert abs(axes[0, 0]) > 0.99 and abs(axes[1, 1]) > 0.99 and share == pytest.approx(1.0)
    assert np.allclose(mean, x.mean(0))
    assert np.array_equal(fit_pca(x, 2)[1], axes)  # deterministic, signs fixed


def test_sample_positions_are_seeded_sorted_and_capped():
    a = sample_positions(1000, 50, 3, "retain")
    assert len(a) == 50 and np.all(np.diff(a) > 0) and np.array_equal(a, sample_positions(1000, 50, 3, "retain"))
    assert not np.array_equal(a, sample_positions(1000, 50, 4, "retain"))
    assert not np.array_equal(a, sample_positions(1000, 50, 3, "forget"))
    assert sample_positions(10, 50, 0, "x").tolist() == list(range(10))


def test_budget_refuses_bad_sizes():
    with pytest.raises(ConfigError, match="'records' sample size"):
        Budget(records=0)
    with pytest.raises(ConfigError, match="'cka'"):
        Budget(cka=True)


def test_png_is_a_valid_file_with_the_pixels():
    pixels = np.array([[0, 255], [128, 7]], dtype=np.uint8)
    data = png_bytes(pixels)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (2, 2, 8, 0)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41:41 + idat_len])
    assert raw == b"\x00\x00\xff\x00\x80\x07"


def test_thumbnail_pixels_scale_min_max_and_enlarge():
    x = torch.tensor([[[0.0, 1.0], [2.0, 4.0]]])  # (1, 2, 2)
    p = to_pixels(x)
    assert p.shape == (32, 32) and p[0, 0] == 0 and p[-1, -1] == 255 and p[0, -1] == 64
    assert to_pixels(torch.zeros(5)) is None
    rgb = to_pixels(torch.rand(3, 8, 8))
    assert rgb.shape == (32, 32, 3)


def test_page_json_cannot_close_its_script_element():
    text = _json_for_script({"id": "</script><script>alert(1)</script>", "x": "a&b"})
    assert "</" not in text and "<" not in text and json.loads(text)["id"].startswith("</script>")


def test_classify_sources(tmp_path):
    assert classify_sources(["abc", "def"]) == "runs"
    out = tmp_path / "out"
    out.mkdir()
    (out / "evidence.json").write_text("{}")
    (out / "model.safetensors").write_bytes(b"")
    assert classify_sources([str(out)]) == "forget"
    with pytest.raises(ConfigError, match="not both"):
        classify_sources(["abc", str(out)])
    with pytest.raises(ConfigError, match="not a forget output"):
        classify_sources([str(tmp_path)])
    with pytest.raises(ConfigError, match="is a file"):
        classify_sources([str(out / "evidence.json")])
    with pytest.raises(ConfigError, match="named twice"):
        classify_sources(["abc", "abc"])
    with pytest.raises(ConfigError, match="at least one"):
        classify_sources([])


def test_same_or_raise_names_what_differs():
    assert same_or_raise({"a": {"x": 1}, "b": {"x": 1}}, "split") == {"x": 1}
    with pytest.raises(ConfigError, match=r"different split \(a: 1, b: 2\)"):
        same_or_raise({"a": 1, "b": 2}, "split")


def test_recorded_golden_free_values_are_taken_with_their_intervals():
    from unlearnkit.compare.metrics_view import _recorded_golden_free
    from unlearnkit.compare.sources import Collection, Compared

    report = {"rows": {"unlearned": {"heldout_auc": 0.52, "ua": 3.0}, "golden": {"heldout_auc": 0.5},
                       "original": {"heldout_auc": 0.6}},
              "intervals": {"unlearned": {"heldout_auc": [0.5, 0.54]}, "golden": {"heldout_auc": [0.48, 0.52]}}}
    col = Collection("runs", None, None, [Compared("original", "reference", nn.Identity()),
                                          Compared("eu_k", "subject", nn.Identity(), {"metrics": report})], 0, "t")
    found = _recorded_golden_free(col, ["heldout_auc", "heldout_acc_gap"])
    # the original's value has no recorded interval: it is computed again rather than shown without one
    assert found == {"eu_k": {"heldout_auc": [0.52, 0.5, 0.54]}, "golden": {"heldout_auc": [0.5, 0.48, 0.52]}}


def test_attack_and_at_risk_views_from_hand_made_logits():
    from unlearnkit.compare.samples import Outputs
    from unlearnkit.compare.views import at_risk_view, attack_view, confidences

    ds = Dataset.from_arrays(np.zeros((4, 2), dtype="float32"), np.array([0, 1, 0, 1]), ids=["a", "b", "c", "d"])
    sub = Subset(ds, "train", torch.arange(4))
    z = torch.tensor([[3., 0.], [0., 1.], [0., 2.], [5., 0.]], dtype=torch.float64)  # s = 3, 1, -2, -5
    out = Outputs({"forget": sub, "retain": sub}, {"forget": 4, "retain": 4},
                  logits={"m": {"forget": z, "retain": -z}})
    scores = confidences(out)
    assert scores["m"]["forget"].tolist() == [3.0, 1.0, -2.0, -5.0]
    view = attack_view(out, scores)
    assert view["sets"] == ["forget", "retain"] and view["scores"]["m"]["retain"] == [-3.0, -1.0, 2.0, 5.0]
    assert -5 < view["range"][0] < -4.9 and 4.9 < view["range"][1] < 5  # 0.5th and 99.5th percentiles
    risk = at_risk_view(out, scores, ["m"], 2, lambda i: f"img{i}")
    assert risk["top"] == {"m": ["0", "1"]}
    assert risk["records"]["0"] == {"id": "a", "label": 0, "thumb": "img0", "score": {"m": 3.0}}
