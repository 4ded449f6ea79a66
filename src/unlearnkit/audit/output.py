"""Writing an audit to disk: ``audit.json``, ``hardest.txt`` (indices), ``audit.md`` and, for
image data, ``hardest.png`` (thumbnails of the hardest-to-forget samples with their ε)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from unlearnkit.audit.run import AuditResult
from unlearnkit.data.dataset import Dataset
from unlearnkit.fileio import atomic_write_bytes


def thumbnails_png(dataset: Dataset, indices: list[int], labels: list[str], columns: int = 8) -> bytes:
    """A grid of train images at ``indices`` with a caption under each, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(indices) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), squeeze=False)
    raw = dataset.train_x[indices].float() / dataset.scale  # (k, C, H, W) in [0, 1]
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, caption in zip(axes.flat, raw, labels):
        if img.shape[0] == 1:
            ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(caption, fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def markdown(result: AuditResult, has_thumbnails: bool) -> str:
    c = result.config
    eps_of = dict(zip(result.forget_indices, result.epsilon))
    lines = [
        f"# Audit: {result.method} on {c['dataset']} / {c['model']} / forget {c['forget']}",
        "",
        f"N = {result.n_models} models per bank; parameters {json.dumps(result.params, sort_keys=True)}.",
        "",
        "| score | value | 95% interval |",
        "|---|---|---|",
        f"| forgetting_quality | {result.forgetting_quality:.4f} | {_fmt_ci(result.forgetting_quality_ci)} |",
        f"| challenge_score | {result.challenge_score:.4f} | |",
        f"| mean RA unlearned / golden | {result.mean_ra['unlearned']:.2f} / {result.mean_ra['golden']:.2f} | |",
        f"| mean TA unlearned / golden | {result.mean_ta['unlearned']:.2f} / {result.mean_ta['golden']:.2f} | |",
        "",
        "## LiRA (D_f against held-out D_t*)",
        "",
        "| model | AUC | TPR at 1% FPR | TPR at 0.1% FPR |",
        "|---|---|---|---|",
    ]
    for name, m in result.lira.items():
        ci = m["ci"]
        lines.append(f"| {name} | {m['auc']:.3f} {_fmt_ci(ci['auc'])} | {m['tpr_at_1pct_fpr']:.3f} "
                     f"{_fmt_ci(ci['tpr_at_1pct_fpr'])} | {m['tpr_at_0.1pct_fpr']:.3f} {_fmt_ci(ci['tpr_at_0.1pct_fpr'])} |")
    lines += ["", "The unlearned model should be as hard to attack as the golden one (AUC near the golden model's).",
              "", "## Hardest to forget (highest ε)", "", "| train index | ε |", "|---|---|"]
    lines += [f"| {i} | {eps_of[i]:.2f} |" for i in result.hardest]
    if result.hardest_note:
        lines += ["", f"Note: {result.hardest_note}"]
    if has_thumbnails:
        lines += ["", "![hardest-to-forget samples](hardest.png)"]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings_s.items())]
    return "\n".join(lines) + "\n"


def write_audit(result: AuditResult, dataset: Dataset, out_dir: str | Path) -> list[Path]:
    """Write the audit files into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    eps_of = dict(zip(result.forget_indices, result.epsilon))
    if dataset.is_image and result.hardest:
        names = dataset.class_names()
        captions = [f"#{i} {names[int(dataset.train_y[i])]} ε={eps_of[i]:.1f}" for i in result.hardest]
        atomic_write_bytes(out / "hardest.png", thumbnails_png(dataset, result.hardest, captions))
        written.append(out / "hardest.png")
    atomic_write_bytes(out / "hardest.txt", "".join(f"{i}\n" for i in result.hardest).encode())
    atomic_write_bytes(out / "audit.json", json.dumps(result.to_dict(), indent=2, sort_keys=True).encode())
    atomic_write_bytes(out / "audit.md", markdown(result, dataset.is_image and bool(result.hardest)).encode())
    return written + [out / "hardest.txt", out / "audit.json", out / "audit.md"]
