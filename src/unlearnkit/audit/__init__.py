"""Per-example audits of METRICS.md that need many models: forgetting quality (the NeurIPS 2023
unlearning challenge score) and LiRA. Pure numpy scores over confidences; no models, no I/O.

Example:
    >>> import numpy as np
    >>> from unlearnkit.audit import epsilons, forgetting_quality
    >>> u = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # 4 models × 2 samples
    >>> eps = epsilons(u, u + np.array([0.0, 10.0]))
    >>> eps.tolist(), forgetting_quality(eps, n_models=4)
    ([0.0, 50.0], 0.5)
"""

from unlearnkit.audit.confidence import logit_scaled_confidence
from unlearnkit.audit.epsilon import DELTA, EPSILON_CAP, epsilons, per_example_epsilon
from unlearnkit.audit.quality import bootstrap_interval, challenge_score, forgetting_quality
from unlearnkit.audit.lira import MIN_STD, attack_metrics, bootstrap_attack_metrics, lira_scores, random_halves

__all__ = [
    "DELTA",
    "EPSILON_CAP",
    "MIN_STD",
    "attack_metrics",
    "bootstrap_attack_metrics",
    "bootstrap_interval",
    "challenge_score",
    "epsilons",
    "forgetting_quality",
    "logit_scaled_confidence",
    "lira_scores",
    "per_example_epsilon",
    "random_halves",
]
