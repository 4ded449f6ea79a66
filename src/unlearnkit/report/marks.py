"""The report's marks on a method variant: it did nothing, is no closer to golden than the original
model, or overshoots past what unseen data looks like (issue 12's point 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unlearnkit.report.rows import ReferenceRow, Variant

#: Metrics whose overshoot past the golden model's value the report marks (more forgetting than retraining).
OVERSHOOT_METRICS = ("ua", "mia_efficacy")
#: "did nothing": every headline value within this many points of the original's.
UNCHANGED_TOLERANCE = 1.0
#: A seed whose ``mia_member_recall`` is under this has a collapsed attack: it calls most of its
#: own members non-member, and ``mia_efficacy`` reads ~100 whatever D_f looks like.
COLLAPSED_RECALL = 50.0


def verdict_marks(variant: "Variant", golden: "ReferenceRow", original: "ReferenceRow") -> list[str]:
    """The report's marks on a variant, from means over seeds.

    - "no closer than the original": its ``avg_gap`` is not below the original model's; "did nothing"
      instead when moreover ua, ra, ta and mia_efficacy all lie within 1 point of the original's.
    - "overshoots ua" / "overshoots mia_efficacy": its value passes the golden model's by more than
      the variant's own seed spread (sample standard deviation; 0 for one seed).
    - "mia attack collapsed on k of n seeds": where ``mia_member_recall`` was measured and fell
      under 50 on some seed. Its ``mia_efficacy`` there measures the attack, not D_f, so
      "overshoots mia_efficacy" is not claimed when every seed that passes golden collapsed.

    Example:
        >>> from unlearnkit.report.rows import ReferenceRow, Variant
        >>> from unlearnkit.report.stats import Stat
        >>> g = ReferenceRow("golden", [0], {"ua": Stat(10.0, None, 1), "mia_efficacy": Stat(17.0, None, 1)})
        >>> o = ReferenceRow("original", [0], {"avg_gap": Stat(6.5, None, 1), "ua": Stat(0.0, None, 1)})
        >>> verdict_marks(Variant("kl_ft", {}, "kl_ft", stats={"avg_gap": Stat(20.0, None, 1),
        ...     "ua": Stat(22.0, None, 1), "mia_efficacy": Stat(90.0, None, 1)}), g, o)
        ['no closer than the original', 'overshoots ua, mia_efficacy']
        >>> verdict_marks(Variant("restart_ft", {}, "restart_ft", stats={"mia_efficacy": Stat(100.0, None, 1, (100.0,)),
        ...     "mia_member_recall": Stat(0.0, None, 1, (0.0,))}), g, o)
        ['mia attack collapsed on 1 of 1 seeds']
    """
    marks = []
    mine, theirs = variant.stats.get("avg_gap"), original.stats.get("avg_gap")
    if mine is not None and theirs is not None and mine.mean >= theirs.mean:
        same = all(m in variant.stats and m in original.stats
                   and abs(variant.stats[m].mean - original.stats[m].mean) <= UNCHANGED_TOLERANCE
                   for m in ("ua", "ra", "ta", "mia_efficacy"))
        marks.append("did nothing" if same else "no closer than the original")
    collapsed = _collapsed_seeds(variant)
    over = [m for m in OVERSHOOT_METRICS if m in variant.stats and m in golden.stats
            and variant.stats[m].mean - golden.stats[m].mean > (variant.stats[m].std or 0.0)]
    if "mia_efficacy" in over and collapsed and _only_collapsed_pass(variant, golden):
        over.remove("mia_efficacy")
    if over:
        marks.append("overshoots " + ", ".join(over))
    if collapsed:
        marks.append(f"mia attack collapsed on {len(collapsed)} of {len(variant.stats['mia_member_recall'].values)} seeds")
    return marks


def _collapsed_seeds(variant: "Variant") -> list[int]:
    """Positions (in seed order) of the seeds whose attack collapsed."""
    recall = variant.stats.get("mia_member_recall")
    if recall is None:
        return []
    return [i for i, v in enumerate(recall.values) if v < COLLAPSED_RECALL]


def _only_collapsed_pass(variant: "Variant", golden: "ReferenceRow") -> bool:
    """Whether every seed whose mia_efficacy passes golden's is a seed whose attack collapsed."""
    mia, recall = variant.stats["mia_efficacy"].values, variant.stats["mia_member_recall"].values
    if len(mia) != len(recall):
        return False
    g = golden.stats["mia_efficacy"].mean
    return all(r < COLLAPSED_RECALL for m, r in zip(mia, recall) if m > g)
