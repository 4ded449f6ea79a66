"""Forgetting quality, challenge score and bootstrap intervals (METRICS.md steps 3-5), on the
per-example ε of ``unlearnkit.audit.epsilon``."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from unlearnkit.audit.confidence import _float_array, _to_numpy
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import numpy_rng

def _bucket_count(n_models) -> int:
    if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)):
        raise ConfigError(f"n_models must be an integer; got {n_models!r}.")
    if n_models < 3:
        raise ConfigError(
            f"forgetting_quality needs n_models >= 3; got {n_models}. The buckets end at ceil(ln(N−1)), "
            "which must be positive: N = 2 gives ln 1 = 0 (no bucket at all) and N = 1 gives ln 0 = −inf."
        )
    return 2 * math.ceil(math.log(n_models - 1))


def forgetting_quality(eps, n_models: int) -> float:
    """Forgetting quality (METRICS.md step 3): bucketed points of the per-example ε, averaged.

    Buckets ``[0, 0.5), [0.5, 1), ...`` exist while their end is ``<= ceil(ln(N − 1))``; they are
    worth 1, 1/2, 1/4, ...; a sample earns the points of the first bucket whose end is above its
    ε (bucket ``floor(2ε)``), and 0 when ε is beyond the last bucket.

    Args:
        eps: per-example ε values, 1-D, non-negative (``inf`` allowed: it earns 0).
        n_models: ``N``, the number of unlearned (and of golden) models behind ``eps``.

    Returns:
        total points / number of samples, in ``[0, 1]``.

    Raises:
        ConfigError: ``n_models < 3`` (``ln(N − 1)`` must be positive), empty ``eps``, NaN or
            negative values.

    Example:
        >>> forgetting_quality([0.0, 0.7, 2.9, 50.0], n_models=16)  # (1 + 1/2 + 1/32 + 0) / 4
        0.3828125
    """
    n_buckets = _bucket_count(n_models)
    e = _float_array(eps, "eps", ndim=1, finite=False)
    if np.any(e < 0):
        raise ConfigError("eps must be non-negative.")
    bucket = np.floor(2.0 * e)
    inside = bucket < n_buckets
    points = np.where(inside, np.exp2(-np.where(inside, bucket, 0.0)), 0.0)
    return float(points.sum() / e.size)


def challenge_score(fq: float, ra_u, ra_g, ta_u, ta_g) -> float:
    """Challenge score (METRICS.md step 4): ``fq × (mean RA_u / mean RA_g) × (mean TA_u / mean TA_g)``.

    Args:
        fq: forgetting quality in ``[0, 1]``.
        ra_u, ra_g: retain accuracies of the unlearned / golden models (a scalar or one per model).
        ta_u, ta_g: test accuracies of the unlearned / golden models.

    Returns:
        the score (a float; it may exceed ``fq`` when θ_u beats θ_g on accuracy).

    Raises:
        ConfigError: ``fq`` outside ``[0, 1]``, empty or non-finite accuracies, or a golden mean
            that is not positive.

    Example:
        >>> challenge_score(0.5, [90.0, 92.0], [100.0], [80.0], [80.0, 80.0])
        0.455
    """
    try:
        q = float(fq)
    except (TypeError, ValueError):
        raise ConfigError(f"fq must be a number in [0, 1]; got {fq!r}.") from None
    if not (0.0 <= q <= 1.0):
        raise ConfigError(f"fq must lie in [0, 1]; got {fq!r}.")
    means = {}
    for name, v in (("ra_u", ra_u), ("ra_g", ra_g), ("ta_u", ta_u), ("ta_g", ta_g)):
        means[name] = float(np.mean(_float_array(np.atleast_1d(_to_numpy(v)), name, ndim=1)))
    for name in ("ra_g", "ta_g"):
        if means[name] <= 0:
            raise ConfigError(f"mean {name} must be positive to divide by it; got {means[name]}.")
    return q * (means["ra_u"] / means["ra_g"]) * (means["ta_u"] / means["ta_g"])


def _check_boot(n_boot, level) -> tuple[int, float]:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer; got {n_boot!r}.")
    try:
        lv = float(level)
    except (TypeError, ValueError):
        raise ConfigError(f"level must be a number in (0, 1); got {level!r}.") from None
    if not (0.0 < lv < 1.0):
        raise ConfigError(f"level must lie in (0, 1); got {level!r}.")
    return int(n_boot), lv


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer; got {seed!r}.")
    return int(seed)


def bootstrap_interval(
    values, statistic: Callable[[np.ndarray], float], *, seed: int, n_boot: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(values)`` over samples (METRICS.md step 5).

    Each of ``n_boot`` replicates draws ``len(values)`` rows of ``values`` with replacement
    (generator ``numpy_rng(seed, "audit.bootstrap_interval")``) and evaluates ``statistic``; the
    interval is the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles (linear interpolation) of the
    replicates. The same seed gives the same interval.

    Args:
        values: array whose first axis indexes samples (e.g. per-example ε).
        statistic: maps a resampled array (same shape) to a number, e.g.
            ``lambda e: forgetting_quality(e, n_models=16)``.
        seed: integer seed.
        n_boot: number of replicates (>= 1).
        level: coverage, in ``(0, 1)``.

    Returns:
        ``(low, high)``.

    Raises:
        ConfigError: empty ``values``, bad ``seed`` / ``n_boot`` / ``level``, or a statistic that
            returns NaN or infinity.

    Example:
        >>> lo, hi = bootstrap_interval([0.1, 0.6, 2.0, 0.2], lambda e: forgetting_quality(e, 16), seed=0)
        >>> 0.0 <= lo <= hi <= 1.0
        True
    """
    s = _check_seed(seed)
    nb, lv = _check_boot(n_boot, level)
    v = _to_numpy(values)
    if v.ndim == 0 or v.shape[0] == 0:
        raise ConfigError("values must be an array with at least one sample along its first axis.")
    rng = numpy_rng(s, "audit.bootstrap_interval")
    idx = rng.integers(0, v.shape[0], size=(nb, v.shape[0]))
    stats = np.array([float(statistic(v[i])) for i in idx])
    if not np.all(np.isfinite(stats)):
        raise ConfigError("the statistic returned NaN or infinity on a bootstrap replicate.")
    low, high = np.quantile(stats, [(1.0 - lv) / 2.0, (1.0 + lv) / 2.0])
    return float(low), float(high)
