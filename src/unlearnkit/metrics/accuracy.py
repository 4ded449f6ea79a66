"""Accuracies in percent from logits and labels: ``ua``, ``ra``, ``ta`` and ``ta_forget`` of METRICS.md.

The prediction is ``argmax`` of the logits; on exact ties the lowest class index wins (torch's rule).
"""

from __future__ import annotations

from unlearnkit.metrics._common import as_labels, as_logits, require_nonempty


def accuracy(logits, labels) -> float:
    """Percentage of rows whose arg-max logit is the label.

    Args:
        logits: array of shape (n, C), torch tensor or numpy.
        labels: integer labels of shape (n,).

    Returns:
        ``100 * mean(argmax(logits) == labels)``, a float in [0, 100].

    Raises:
        ConfigError: on empty input, mismatched shapes, labels out of range or non-finite logits.

    Example:
        >>> accuracy([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]], [0, 1, 1, 1])
        75.0
    """
    z = as_logits(logits)
    require_nonempty(z.shape[0], "The sample set")
    y = as_labels(labels, z.shape[0], z.shape[1])
    return 100.0 * float((z.argmax(dim=1) == y).double().mean())


def unlearning_accuracy(forget_logits, forget_labels) -> float:
    """``ua`` = 100 − acc(θ, D_f): the percentage of forget samples the model gets wrong.

    Example:
        >>> unlearning_accuracy([[2.0, 1.0], [0.0, 3.0]], [0, 0])
        50.0
    """
    return 100.0 - accuracy(forget_logits, forget_labels)


def remaining_accuracy(retain_logits, retain_labels) -> float:
    """``ra`` = acc(θ, D_r), accuracy on the retained *training* samples."""
    return accuracy(retain_logits, retain_labels)


def test_accuracy(test_star_logits, test_star_labels) -> float:
    """``ta`` = acc(θ, D_t*): D_t in random scenarios, D_t,r in class / sub-class scenarios."""
    return accuracy(test_star_logits, test_star_labels)


def test_forget_accuracy(test_forget_logits, test_forget_labels) -> float:
    """``ta_forget`` = acc(θ, D_t,f), test samples of the forgotten class (class scenarios only)."""
    return accuracy(test_forget_logits, test_forget_labels)


# pytest would otherwise try to collect ``test_accuracy``/``test_forget_accuracy`` when imported in a test module.
test_accuracy.__test__ = False  # type: ignore[attr-defined]
test_forget_accuracy.__test__ = False  # type: ignore[attr-defined]
