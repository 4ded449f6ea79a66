"""``unlearnkit compare``: the page built from a tiny run pair, opened in a real (headless) browser;
bad input exits 2 and writes nothing; a page for forget outputs.

The browser part needs Debian's ``chromium`` and ``chromium-driver`` and Python ``selenium``; it skips
with the reason where they are missing. Screenshots go to ``$UNLEARNKIT_SCREENSHOTS`` when set (the
docs' images are made that way), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from unlearnkit.cli import main
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, run_unlearning

VIEWS = ("metrics", "classwise", "matrix", "embedding", "cka", "attack", "risk")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs (finetune, eu_k) of one digits experiment with a validation slice."""
    home = tmp_path_factory.mktemp("home")
    ws = Workspace(home)
    cfg = ExperimentConfig(dataset="digits", model="mlp", forget="random:0.1", seed=0,
                           recipe_overrides={"epochs": 3}, model_kwargs={"hidden_width": 64},
                           data_options={"val_size": 200})
    ids = [run_unlearning(ws, cfg, m, p).run_id for m, p in (("finetune", {"epochs": 1}), ("eu_k", {"epochs": 2}))]
    return home, ids


def _page(runs, tmp_path, *extra: str) -> Path:
    home, ids = runs
    out = tmp_path / "page.html"
    assert main(["compare", *ids, *extra, "--out", str(out), "--home", str(home), "--quiet"]) == 0
    return out


def test_page_is_self_contained_and_holds_every_view(runs, tmp_path, capsys):
    out = _page(runs, tmp_path)
    text = out.read_text()
    assert "wrote" in capsys.readouterr().out
    for view in VIEWS:
        assert f'id="view-{view}"' in text
    assert "<script src" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    data = json.loads(text.split('id="page-data">')[1].split("</script>")[0])
    assert [m["label"] for m in data["models"]] == ["original", "golden", "finetune", "eu_k"]
    assert set(data["attack"]["scores"]["eu_k"]) == {"forget", "val_forget", "retain"}
    assert len(data["attack"]["scores"]["eu_k"]["forget"]) == data["sets"]["forget"]["total"]
    assert data["cka"]["values"]["finetune"]["original"]["forget"][0] > 0.5
    assert len(data["embedding"]["points"]["original"]) == len(data["embedding"]["labels"])
    assert data["metrics"]["headline"]["values"]["eu_k"]["ua"] is not None
    assert data["metrics"]["golden_free"]["values"]["golden"]["heldout_acc_gap"] is not None


def test_sampling_is_said_on_the_page(runs, tmp_path):
    out = _page(runs, tmp_path, "--sample", "50")
    text = out.read_text()
    data = json.loads(text.split('id="page-data">')[1].split("</script>")[0])
    total = data["sets"]["retain"]["total"]
    assert total > 50 and f"Sampled (seeded, seed 0): D_f 50 of {data['sets']['forget']['total']:,}; D_r 50 of {total:,}" in text
    assert len(data["attack"]["scores"]["original"]["retain"]) == 50


def _browser(tmp: str):
    webdriver = pytest.importorskip("selenium.webdriver", reason="Python selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}",
                 "--window-size=1300,1000"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                    reason="no browser: install Debian's chromium and chromium-driver (apt-get install -y chromium "
                           "chromium-driver) to run the page in a real browser")
def test_page_in_a_real_browser(runs, tmp_path):
    out = _page(runs, tmp_path)
    shots = Path(os.environ.get("UNLEARNKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        d = _browser(profile)
        try:
            d.get(out.resolve().as_uri())
            for view in VIEWS:
                rendered = int(d.find_element("id", f"view-{view}").get_attribute("data-rendered"))
                assert rendered > 0, f"view {view} drew nothing"
            severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
            assert severe == []
            rate = d.find_element("css selector", 'td.rate[data-model="original"][data-set="retain"]')
            scores = np.array(json.loads(out.read_text().split('id="page-data">')[1].split("</script>")[0])
                              ["attack"]["scores"]["original"]["retain"])
            slider = d.find_element("id", "threshold")
            shown = []
            for end in ("min", "max"):
                d.execute_script(f"arguments[0].value = arguments[0].{end};"
                                 "arguments[0].dispatchEvent(new Event('input'));", slider)
                threshold = float(d.execute_script("return Number(arguments[0].value);", slider))
                assert rate.text == f"{100 * np.mean(scores >= threshold):.1f}%"
                shown.append(rate.text)
            assert shown[0] != shown[1]
            d.execute_script("arguments[0].value = (Number(arguments[0].min) + Number(arguments[0].max)) / 2;"
                             "arguments[0].dispatchEvent(new Event('input'));", slider)
            for view in VIEWS:
                element = d.find_element("id", f"view-{view}")
                d.execute_script("arguments[0].scrollIntoView();", element)
                assert element.screenshot(str(shots / f"compare-{view}.png"))
            assert [e for e in d.get_log("browser") if e["level"] == "SEVERE"] == []
        finally:
            d.quit()


def _fake_run(home: Path, run_id: str, **changes) -> str:
    """A copy of a finished run whose config differs in ``changes`` (no training)."""
    store = Workspace(home).runs
    row = store.get(run_id)
    config = {**row["config"], **changes}
    new = store.start(dataset=config["dataset"], model=row["model"], forget=config["forget"],
                      split_fingerprint=row["split_fingerprint"], seed=row["seed"], method=row["method"],
                      params=row["params"], config=config, config_hash=f"fake-{sorted(changes)}", version=row["version"])
    store.finish(new, metrics=row["metrics"], runtime_s=row["runtime_s"], unlearned_key=row["unlearned_key"])
    return new


@pytest.mark.parametrize("case, expected", [
    ("unknown", "No run 'feedfacecafe'"),
    ("dataset", "different dataset"),
    ("split", "different split"),
    ("not_forget", "not a forget output"),
    ("mixed", "not both"),
    ("forget_without_data", "needs their records"),
])
def test_bad_input_exits_2_and_writes_nothing(runs, tmp_path, capsys, case, expected):
    home, ids = runs
    folder = tmp_path / "folder"
    folder.mkdir()
    sources = {
        "unknown": [ids[0], "feedfacecafe"],
        "dataset": [ids[0], _fake_run(home, ids[1], dataset="fashion_mnist")] if case == "dataset" else None,
        "split": [ids[0], _fake_run(home, ids[1], forget="random:0.2")] if case == "split" else None,
        "not_forget": [str(folder)],
        "mixed": [ids[0], str(_forget_like(tmp_path))],
        "forget_without_data": [str(_forget_like(tmp_path))],
    }[case]
    out = tmp_path / "page.html"
    capsys.readouterr()
    assert main(["compare", *sources, "--out", str(out), "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".page.html")]


def _forget_like(tmp_path: Path) -> Path:
    path = tmp_path / "forget-out"
    path.mkdir(exist_ok=True)
    for name in ("evidence.json", "model.safetensors"):
        (path / name).write_text("{}")
    return path


def test_forget_outputs_against_the_model_before(tmp_path):
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    from unlearnkit.data.dataset import Subset
    from unlearnkit.data.record_files import load_records
    from unlearnkit.deletion import ArchSpec, forget
    from unlearnkit.models import build_model
    from unlearnkit.training import get_recipe, train

    d = load_digits()
    x, y = d.images[:, None].astype("float32"), d.target
    ids = np.array([f"r{i:04d}" for i in range(len(y))])
    np.savez(tmp_path / "records.npz", x=x[:1300], y=y[:1300], ids=ids[:1300], x_test=x[1300:], y_test=y[1300:])
    data = load_records(tmp_path / "records.npz", seed=0)
    model = build_model("mlp", input_shape=data.input_shape, num_classes=data.num_classes, seed=0, hidden_width=64)
    train(model, Subset(data, "train", torch.arange(len(data.train_y))), get_recipe("digits", {"epochs": 3}), seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    request = list(ids[:120:2])
    arch = ArchSpec.parse("mlp", {"hidden_width": 64})
    for method, params in (("finetune", {"epochs": 1}), ("grad_ascent", {})):
        forget(model, data, request, method=method, params=params, out=tmp_path / method, arch=arch, seed=0)
    out = tmp_path / "forget.html"
    args = ["compare", str(tmp_path / "finetune"), str(tmp_path / "grad_ascent"), "--data",
            str(tmp_path / "records.npz"), "--out", str(out)]
    assert main([*args, "--before", str(tmp_path / "finetune" / "model.safetensors")]) == 2 and not out.exists()
    assert main([*args, "--before", str(tmp_path / "w.safetensors")]) == 0
    data = json.loads(out.read_text().split('id="page-data">')[1].split("</script>")[0])
    assert [m["label"] for m in data["models"]] == ["before", "finetune", "grad_ascent"]
    for method in ("finetune", "grad_ascent"):
        evidence = json.loads((tmp_path / method / "evidence.json").read_text())["evidence"]
        assert data["metrics"]["verdicts"][method]["verdict"] == evidence["verdict"]
        assert data["metrics"]["verdicts"][method]["verdict_text"] == evidence["verdict_text"]
    assert data["sets"]["forget"]["total"] == 60
