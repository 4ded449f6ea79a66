"""The embedding view (one shared 2-D projection of penultimate features) and layer-wise linear CKA."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from unlearnkit.compare.forward import layer_grams, layer_names, linear_cka
from unlearnkit.compare.samples import Budget, Outputs, sample_positions
from unlearnkit.compare.sources import Collection

#: The sets drawn in the embedding view.
EMBED_SETS = ("forget", "retain", "val")
#: The sets on which CKA is computed.
CKA_SETS = ("forget", "retain")


def fit_pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """PCA by SVD of the centred rows of ``x`` (deterministic; signs fixed so each axis' largest
    loading is positive). Returns ``(mean (d,), axes (d, k), share of variance explained)``.

    Example:
        >>> x = np.array([[0., 0.], [2., 0.], [4., 0.01]])
        >>> mean, axes, share = fit_pca(x, 1)
        >>> mean.tolist(), np.round(axes[:, 0], 3).tolist(), round(share, 3)
        ([2.0, 0.0033333333333333335], [1.0, 0.002], 1.0)
    """
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:k].T.copy()  # (d, k)
    for j in range(axes.shape[1]):
        if axes[np.argmax(np.abs(axes[:, j])), j] < 0:
            axes[:, j] *= -1
    total = float((s ** 2).sum())
    return mean, axes, float((s[:k] ** 2).sum() / total) if total > 0 else 0.0


def embedding_view(col: Collection, out: Outputs, budget: Budget) -> dict[str, Any]:
    """Each model's penultimate features of a seeded sample of D_f, D_r and V, in one 2-D projection.

    The projection (PCA) is fitted once, on the reference model's features (the original model, or
    the model before a request), and applied to every model, so a record's position under two models
    can be compared. A model whose features have another width than the reference's is left out.
    """
    ref = col.reference.label
    sets = [s for s in EMBED_SETS if s in out.subsets and s in out.features.get(ref, {})]
    if not sets:
        return {"absent": "the reference model has no nn.Linear head, so there are no penultimate features"}
    picks = {s: sample_positions(len(out.subsets[s]), budget.embedding, col.seed, f"embed-{s}") for s in sets}
    ref_feats = np.concatenate([out.features[ref][s][picks[s]].numpy() for s in sets]).astype(np.float64)
    mean, axes, share = fit_pca(ref_feats)
    points, left_out = {}, []
    for m in col.models:
        feats = out.features.get(m.label, {})
        if any(s not in feats for s in sets) or feats[sets[0]].shape[1] != ref_feats.shape[1]:
            left_out.append(m.label)
            continue
        x = np.concatenate([feats[s][picks[s]].numpy() for s in sets]).astype(np.float64)
        points[m.label] = np.round((x - mean) @ axes, 3).tolist()
    labels = np.concatenate([out.labels(s)[picks[s]] for s in sets]).tolist()
    tags = [s for s in sets for _ in picks[s]]
    return {"fitted_on": ref, "explained": round(share, 4), "sets": sets, "labels": labels, "set_of": tags,
            "points": points, "left_out": left_out, "sizes": {s: len(picks[s]) for s in sets}}


def cka_view(col: Collection, out: Outputs, budget: Budget) -> dict[str, Any]:
    """Layer-wise linear CKA of each subject to the reference model and to the golden model (and of the
    golden model to the reference, as the yardstick), on seeded samples of D_f and D_r. Layers are the ``nn.Linear`` / ``nn.Conv2d`` modules (``layer_names``);
    models with other layers than the reference's are left out."""
    ref = col.reference
    layers = layer_names(ref.model)
    if not layers:
        return {"absent": "the models have no nn.Linear or nn.Conv2d layers"}
    inputs = {}
    for s in CKA_SETS:
        sub = out.subsets[s]
        pos = sample_positions(len(sub), budget.cka, col.seed, f"cka-{s}")
        if len(pos) >= 3:
            inputs[s] = sub.take(torch.as_tensor(pos)).tensors()[0]  # (n, *input_shape)
    targets = [m for m in (ref, col.golden) if m is not None]
    grams = {m.label: {s: layer_grams(m.model, x) for s, x in inputs.items()}
             for m in targets + col.subjects if layer_names(m.model) == layers}
    values: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for m in col.subjects + ([col.golden] if col.golden is not None else []):
        if m.label not in grams:
            continue
        values[m.label] = {t.label: {s: [_round(linear_cka(grams[m.label][s][layer], grams[t.label][s][layer]))
                                          for layer in layers] for s in inputs} for t in targets if t is not m}
    return {"layers": layers, "targets": [t.label for t in targets], "sets": list(inputs), "values": values,
            "sizes": {s: int(len(x)) for s, x in inputs.items()},
            "left_out": [m.label for m in col.subjects if m.label not in grams]}


def _round(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


__all__ = ["CKA_SETS", "EMBED_SETS", "cka_view", "embedding_view", "fit_pca"]
