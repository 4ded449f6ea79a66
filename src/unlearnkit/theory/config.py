"""``TheoryConfig``: the sizes, noise and seed of one overparameterised linear-regression problem."""

from __future__ import annotations

from typing import Any

from unlearnkit.config import Interval, init_params
from unlearnkit.errors import ConfigError


class TheoryConfig:
    """One configuration of the theory lab, validated on construction.

    Coordinates ``0 .. d-1`` are split into three disjoint groups, laid out contiguously:
    S_f = ``[0, size_f)`` (used only by forget samples), S_o = ``[size_f, size_f + size_o)`` (the
    overlap, used by both) and S_r = the next ``size_r`` coordinates (used only by remaining
    samples); the ``d - size_f - size_o - size_r`` coordinates left over are used by no sample.

    Besides each parameter's own range, the problem must be overparameterised in the sense of the
    paper, so that every model below interpolates its training data: ``n_f + n_r < d``, the
    group sizes sum to at most ``d`` (each is at most ``d``), and each data block has at least
    as many features as samples on its support: ``n_f <= size_f + size_o``,
    ``n_r <= size_o + size_r`` and ``n_f + n_r <= size_f + size_o + size_r`` (otherwise X, X_f
    or X_r would not have full row rank and the "loss 0" statements of the paper do not apply).
    Every parameter outside its declared range is named in one ``ConfigError`` (each in the
    message format of ``unlearnkit.config.validate_params``); if all are in range, every violated
    cross-field condition is named in one ``ConfigError``.

    Args:
        d: number of features (the dimension of x and w).
        n_f: number of forget samples (rows of X_f).
        n_r: number of remaining samples (rows of X_r).
        size_f: |S_f|, features used only by the forget samples.
        size_o: |S_o|, features used by both; 0 is the paper's "distinct features" case.
        size_r: |S_r|, features used only by the remaining samples.
        noise: standard deviation of the Gaussian label noise (training and test labels).
        seed: seeds w*, the training samples, the noise and the test samples.
        n_test: fresh test samples drawn from each of the two distributions for the
            generalisation losses.

    Example:
        >>> TheoryConfig(d=200, n_f=20, n_r=60, size_f=40, size_o=20, size_r=100).n
        80
        >>> TheoryConfig(d=50, n_f=30, n_r=30, size_f=10, size_o=0, size_r=10)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        unlearnkit.errors.ConfigError: Invalid TheoryConfig: n_f + n_r = 60 must be less than d = 50 ...
    """

    _parameter_constraints = {
        "d": Interval(int, 1, None, closed="left"),
        "n_f": Interval(int, 1, None, closed="left"),
        "n_r": Interval(int, 1, None, closed="left"),
        "size_f": Interval(int, 0, None, closed="left"),
        "size_o": Interval(int, 0, None, closed="left"),
        "size_r": Interval(int, 0, None, closed="left"),
        "noise": Interval(float, 0, None, closed="left"),
        "seed": Interval(int, 0, None, closed="left"),
        "n_test": Interval(int, 1, None, closed="left"),
    }

    def __init__(
        self,
        *,
        d: int = 200,
        n_f: int = 20,
        n_r: int = 60,
        size_f: int = 40,
        size_o: int = 20,
        size_r: int = 100,
        noise: float = 0.0,
        seed: int = 0,
        n_test: int = 2000,
    ):
        self.d = d
        self.n_f = n_f
        self.n_r = n_r
        self.size_f = size_f
        self.size_o = size_o
        self.size_r = size_r
        self.noise = noise
        self.seed = seed
        self.n_test = n_test
        self._check_declared()
        self._check_cross_fields()

    def _check_declared(self) -> None:
        # validate_params stops at the first bad parameter; here every bad one is named, each in
        # validate_params' format (one bad parameter gives exactly validate_params' message).
        problems = []
        for name, c in self._parameter_constraints.items():
            value = getattr(self, name)
            if not c.accepts(value):
                problems.append(f"The {name!r} parameter of TheoryConfig must be {c.description}. Got {value!r} instead.")
        if problems:
            raise ConfigError(" ".join(problems))

    def _check_cross_fields(self) -> None:
        problems: list[str] = []
        d, n_f, n_r = self.d, self.n_f, self.n_r
        if n_f + n_r >= d:
            problems.append(f"n_f + n_r = {n_f + n_r} must be less than d = {d} (the model must be overparameterised)")
        for name in ("size_f", "size_o", "size_r"):
            size = getattr(self, name)
            if size > d:
                problems.append(f"{name} = {size} is larger than d = {d}")
        total = self.size_f + self.size_o + self.size_r
        if total > d:
            problems.append(f"size_f + size_o + size_r = {total} must be at most d = {d}")
        forget_support = self.size_f + self.size_o
        if n_f > forget_support:
            problems.append(f"n_f = {n_f} must be at most size_f + size_o = {forget_support} "
                            "(the forget samples' features)")
        remain_support = self.size_o + self.size_r
        if n_r > remain_support:
            problems.append(f"n_r = {n_r} must be at most size_o + size_r = {remain_support} "
                            "(the remaining samples' features)")
        if n_f + n_r > total:
            problems.append(f"n_f + n_r = {n_f + n_r} must be at most size_f + size_o + size_r = {total} "
                            "(the features any sample uses)")
        if problems:
            raise ConfigError("Invalid TheoryConfig: " + "; ".join(problems) + ".")

    @property
    def n(self) -> int:
        """Total number of training samples, ``n_f + n_r``."""
        return self.n_f + self.n_r

    @property
    def overlap_ratio(self) -> float:
        """|S_o| / (|S_o| + |S_f|), the x axis of the overlap sweep (0 when both are empty)."""
        k = self.size_o + self.size_f
        return self.size_o / k if k else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in init_params(type(self))}

    def replace(self, **changes: Any) -> "TheoryConfig":
        """A copy with some fields changed (validated again).

        Example:
            >>> TheoryConfig().replace(size_o=0, size_f=60).size_f
            60
        """
        return TheoryConfig(**{**self.to_dict(), **changes})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TheoryConfig) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return "TheoryConfig(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"
