"""The page: HTML and CSS around the inline JSON data and the inline script (``script.SCRIPT``).

Nothing is loaded from anywhere: the page works from a file, offline.
"""

from __future__ import annotations

import html
import json
from typing import Any

from unlearnkit.compare.script import SCRIPT

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 1em 0 .3em; }
p.lead { color: #555; margin-top: 0; } p.note { color: #666; font-size: .9em; }
table.num { border-collapse: collapse; margin: .5em 0; } table.num td, table.num th { border: 1px solid #ddd;
  padding: 2px 8px; text-align: right; } table.num td:first-child { text-align: left; } td.dir { color: #666; text-align: left; }
figure { display: inline-block; margin: 4px 10px 10px 0; vertical-align: top; } figcaption { font-size: .85em; }
svg.chart text { font-size: 10px; fill: #444; } .grid { stroke: #ddd; } .tick { font-size: 9px; }
.threshold { stroke: #000; stroke-width: 1.5; stroke-dasharray: 3,2; }
canvas { border: 1px solid #ccc; image-rendering: pixelated; }
.legend span { margin-right: 1em; font-size: .9em; } .legend i { display: inline-block; width: 10px; height: 10px;
  margin-right: 4px; vertical-align: middle; }
.thumbs { display: flex; flex-wrap: wrap; } figure.thumb { width: 120px; font-size: .8em; }
figure.thumb img { image-rendering: pixelated; border: 1px solid #ccc; display: block; }
.verdict { border-left: 4px solid #888; padding: .2em .8em; margin: .6em 0; background: #f6f6f6; }
.v-forgotten { border-color: #2ca02c; } .v-not_forgotten, .v-over_forgotten { border-color: #d62728; }
.warn { color: #a04000; } .stat { margin-left: 1.5em; font-size: .9em; } .marks { color: #7a3d00; }
.controls { position: sticky; top: 0; background: #fff; padding: .3em 0; }
"""

#: The views, in page order: (element id, heading, what it shows that a table does not).
VIEWS = (
    ("view-metrics", "Metrics side by side",
     "The recorded headline metrics, and the golden-free ones with intervals computed for every model, with the "
     "report's marks."),
    ("view-classwise", "Class-wise accuracy",
     "Accuracy per class on D_f, D_r, test and V: whether forgetting hit the classes of D_f, or every class."),
    ("view-matrix", "Prediction matrix on D_f",
     "True class (rows) against predicted class (columns) on D_f: where the forgotten records went."),
    ("view-embedding", "Embedding space",
     "Penultimate features of a seeded sample of D_f (filled, outlined), D_r (faint) and V (rings), coloured by "
     "class, in one 2-D projection (PCA) fitted once on the {ref} model's features and applied to every model."),
    ("view-cka", "Layer-wise similarity",
     "Linear CKA per layer of each model to the {ref} model and to the golden model: which layers the method changed."),
    ("view-attack", "Attack view",
     "Distributions of the logit-scaled confidence z_y − logsumexp_{{k≠y}} z_k (float64) of D_f, V_f and D_r under "
     "each model. Move the threshold: a record is called a member when its confidence is at least the threshold."),
    ("view-risk", "Records most at risk",
     "The records of D_f each model is most confident on: the first an attacker would call members."),
)


def _json_for_script(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</``, no HTML comment openers)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sampling_note(data: dict[str, Any]) -> str:
    parts = [f"{s['title']} {s['shown']:,} of {s['total']:,}" for s in data["sets"].values()]
    sampled = any(s["shown"] < s["total"] for s in data["sets"].values())
    head = "Sampled (seeded, seed {seed}): ".format(seed=data["seed"]) if sampled else "Every record shown: "
    return head + "; ".join(parts) + "."


def render_page(data: dict[str, Any]) -> str:
    """The whole page as one HTML string, from ``build.page_data``'s data.

    Example:
        >>> render_page(data).startswith("<!DOCTYPE html>")  # doctest: +SKIP
        True
    """
    ref = data["reference"]
    sections = []
    for vid, heading, what in VIEWS:
        controls = ""
        if vid == "view-attack":
            controls = ('<div class="controls"><label for="threshold">threshold</label> '
                        '<input type="range" id="threshold"> <span id="threshold-value"></span></div>')
        sections.append(f'<section><h2>{html.escape(heading)}</h2><p class="lead">{html.escape(what.format(ref=ref))}</p>'
                        f'{controls}<div id="{vid}" class="view" data-rendered="0"></div></section>')
    notes = [_sampling_note(data)]
    if data.get("no_val"):
        notes.append(f"No V: {data['no_val']}; the golden-free metrics, V and V_f are absent.")
    if data.get("golden") is None:
        notes.append("No golden model (not in the model store, or the forget output was made without --retrain): "
                     "the views compare with the reference model only.")
    else:
        notes.append("The golden model was trained from scratch: its features live in their own basis, so its "
                     "embedding positions are not comparable record by record, only in shape.")
    head = (f"<h1>Compare: {html.escape(data['title'])}</h1><p class=\"lead\">"
            f"{html.escape(', '.join(m['label'] for m in data['models']))} · unlearnkit {html.escape(data['version'])}</p>"
            + "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>unlearnkit compare: {html.escape(data['title'])}</title><style>{CSS}</style></head><body>"
            + head + "".join(sections)
            + f'<script type="application/json" id="page-data">{_json_for_script(data)}</script>'
            + f"<script>{SCRIPT}</script></body></html>\n")


__all__ = ["CSS", "VIEWS", "render_page"]
