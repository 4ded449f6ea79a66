"""Membership-inference scores of METRICS.md, as pure functions of logits and labels.

* ``mia_efficacy`` (and its ``entropy`` / ``mentropy`` / ``correct`` variants): an RBF SVC trained
  on one scalar feature on equal classes, m = min(|D_t*|, |D_r|): members = a seeded subset of m
  samples of D_r (label 1), non-members = a seeded subset of m samples of D_t* (label 0); the score
  is 100 × the fraction of D_f predicted non-member. ``mia_member_recall``: the same SVC's recall
  on its own members (below 50 = collapsed).
* ``entropy_member_rate``: balanced logistic regression on the entropy, D_r (1) vs D_t* (0);
  100 × the fraction of D_f predicted member.
* ``loss_cv_accuracy`` / ``indiscernibility``: can a logistic regression on the per-sample loss tell
  D_f (1) from D_t* (0)? Mean accuracy over 10 seeded stratified shuffle splits.

Every random choice takes an explicit ``seed`` and goes through ``unlearnkit.seeding``.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.metrics._common import (
    as_labels,
    as_logits,
    entropy_rows,
    log_one_minus_probs,
    log_probs,
    require_nonempty,
)
from unlearnkit.seeding import derive_seed, numpy_rng

#: Attack features: name -> what it is. ``confidence`` is the headline ``mia_efficacy``.
FEATURES = {
    "confidence": "softmax probability of the true label, p_y",
    "entropy": "entropy of p (nats)",
    "mentropy": "modified entropy of Song & Mittal, -(1-p_y) log p_y - sum_{k!=y} p_k log(1-p_k)",
    "correct": "1[argmax p = y]",
}
MEMBER_CHOICES = ("random", "first")
#: SVC hyper-parameters fixed by METRICS.md.
SVC_PARAMS = {"C": 3, "gamma": "auto", "kernel": "rbf"}
#: Loss-attack protocol: number of stratified shuffle splits and their test fraction.
CV_SPLITS = 10
CV_TEST_SIZE = 0.2


# ---------------------------------------------------------------------------------------- features
def _checked(logits, labels, what):
    z = as_logits(logits, f"{what} logits")
    y = as_labels(labels, z.shape[0], z.shape[1], f"{what} labels")
    return z, y


def true_label_confidence(logits, labels) -> np.ndarray:
    """p_y(x), the softmax probability of each row's label.

    Example:
        >>> import math
        >>> c = true_label_confidence([[math.log(3.0), 0.0]], [0]); round(float(c[0]), 6)
        0.75
    """
    z, y = _checked(logits, labels, "the")
    return log_probs(z)[torch.arange(len(y)), y].exp().numpy()


def entropy(logits) -> np.ndarray:
    """Entropy (natural log) of softmax(logits), one value per row.

    Example:
        >>> round(float(entropy([[0.0, 0.0]])[0]), 6)  # ln 2
        0.693147
    """
    return entropy_rows(as_logits(logits)).numpy()


def modified_entropy(logits, labels) -> np.ndarray:
    """Modified entropy of Song & Mittal (2021), per row with that row's label.

    ``Mentr(p, y) = −(1 − p_y) log p_y − Σ_{k≠y} p_k log(1 − p_k)``, computed in float64 from
    the logits: log p_y from log-softmax and log(1 − p_k) without cancellation even when p_k → 1.
    It is small when the model is confidently right and large when confidently wrong.

    Example:
        >>> import math
        >>> # p = (0.75, 0.25), y = 0: -(0.25) ln 0.75 - 0.25 ln 0.75 = -0.5 ln 0.75
        >>> m = modified_entropy([[math.log(3.0), 0.0]], [0]); round(float(m[0]), 6)
        0.143841
    """
    z, y = _checked(logits, labels, "the")
    n = len(y)
    rows = torch.arange(n)
    logp = log_probs(z)
    p = logp.exp()
    log1mp = log_one_minus_probs(z)
    term_y = -log1mp[rows, y].exp() * logp[rows, y]
    others = p * log1mp
    others[rows, y] = 0.0
    return (term_y - others.sum(dim=1)).numpy()


def correctness(logits, labels) -> np.ndarray:
    """1.0 where ``argmax(logits) == label``, else 0.0."""
    z, y = _checked(logits, labels, "the")
    return (z.argmax(dim=1) == y).double().numpy()


def per_sample_loss(logits, labels) -> np.ndarray:
    """Cross-entropy −log p_y per row (natural log), computed stably from the logits."""
    z, y = _checked(logits, labels, "the")
    return (-log_probs(z)[torch.arange(len(y)), y]).numpy()


def attack_feature(logits, labels, feature: str = "confidence") -> np.ndarray:
    """The scalar attack feature ``feature`` (a key of ``FEATURES``) for every row."""
    if feature == "confidence":
        return true_label_confidence(logits, labels)
    if feature == "entropy":
        z, _ = _checked(logits, labels, "the")
        return entropy_rows(z).numpy()
    if feature == "mentropy":
        return modified_entropy(logits, labels)
    if feature == "correct":
        return correctness(logits, labels)
    raise ConfigError(f"Unknown MIA feature {feature!r}. Valid features: {', '.join(FEATURES)}.")


# ------------------------------------------------------------------------------------ SVC attack
def select_members(n_retain: int, n_test: int, *, seed: int, members: str = "random") -> np.ndarray:
    """Positions in D_r of the attack's member samples: m = min(|D_t*|, |D_r|) of them, sorted.

    ``members="random"`` draws them without replacement from ``numpy_rng(seed, "mia", "members")``;
    ``members="first"`` takes the first ones (the reference code of the fine-tuning papers).

    Example:
        >>> select_members(10, 3, seed=0, members="first").tolist()
        [0, 1, 2]
        >>> len(select_members(10, 3, seed=0)), len(select_members(2, 3, seed=0))
        (3, 2)
    """
    if members not in MEMBER_CHOICES:
        raise ConfigError(f"members must be one of {', '.join(map(repr, MEMBER_CHOICES))}; got {members!r}.")
    if n_retain < 0 or n_test < 0:
        raise ConfigError("set sizes must be non-negative")
    k = min(int(n_retain), int(n_test))
    if members == "first":
        return np.arange(k, dtype=np.int64)
    rng = numpy_rng(seed, "mia", "members")
    return np.sort(rng.choice(int(n_retain), size=k, replace=False)).astype(np.int64)


def select_nonmembers(n_retain: int, n_test: int, *, seed: int) -> np.ndarray:
    """Positions in D_t* of the attack's non-member samples: as many as the members, sorted.

    METRICS.md fits the SVC on equal classes: m = min(|D_t*|, |D_r|) non-members, all of D_t* when
    |D_t*| <= |D_r|, else a seeded subset drawn from ``numpy_rng(seed, "mia", "nonmembers")`` (with
    either choice of members).

    Example:
        >>> select_nonmembers(10, 3, seed=0).tolist()
        [0, 1, 2]
        >>> len(select_nonmembers(2, 30, seed=0))
        2
    """
    if n_retain < 0 or n_test < 0:
        raise ConfigError("set sizes must be non-negative")
    k = min(int(n_retain), int(n_test))
    if k == n_test:
        return np.arange(k, dtype=np.int64)
    rng = numpy_rng(seed, "mia", "nonmembers")
    return np.sort(rng.choice(int(n_test), size=k, replace=False)).astype(np.int64)


def fit_svc_attack(member_features, nonmember_features, *, class_weight=None):
    """Fit ``SVC(C=3, gamma="auto", kernel="rbf")`` on members (1) vs non-members (0) of one scalar
    feature; returns the fitted classifier (``svc_attack`` and ``svc_member_recall`` use it).
    ``class_weight="balanced"`` is not the METRICS.md attack; ``benchmarks/mia_collapse.py`` uses it
    to show what a balanced attack would read.

    libsvm is deterministic, so the fit is a function of the inputs alone.
    """
    from sklearn.svm import SVC

    members = np.asarray(member_features, dtype=np.float64).reshape(-1)
    nonmembers = np.asarray(nonmember_features, dtype=np.float64).reshape(-1)
    require_nonempty(len(members), "The member set (retain)")
    require_nonempty(len(nonmembers), "The non-member set (D_t*)")
    x = np.concatenate([members, nonmembers]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(members)), np.zeros(len(nonmembers))])
    return SVC(**SVC_PARAMS, class_weight=class_weight).fit(x, y)


def svc_attack(member_features, nonmember_features, target_features, *, clf=None) -> float:
    """Fit ``SVC(C=3, gamma="auto", kernel="rbf")`` on members (1) vs non-members (0); return
    100 × the fraction of ``target_features`` predicted non-member (0).

    Features are 1-D arrays of scalars (one per sample). ``clf``: the attack already fitted on the
    same members and non-members by ``fit_svc_attack`` (the fit is then skipped).

    Example:
        >>> svc_attack([0.9] * 5, [0.1] * 5, [0.9, 0.9, 0.1, 0.9])
        25.0
    """
    target = np.asarray(target_features, dtype=np.float64).reshape(-1)
    require_nonempty(len(target), "The target set (D_f)")
    if clf is None:
        clf = fit_svc_attack(member_features, nonmember_features)
    pred = _predict(clf, target)
    return 100.0 * float(np.mean(pred == 0))


def svc_member_recall(member_features, nonmember_features, *, clf=None) -> float:
    """100 × the fraction of the attack's own members that it predicts member (1).

    A working attack calls most of the members it was fitted on members (~98 on a model that fits
    D_r). Near 0 the SVC has collapsed to "everything non-member": it then calls every D_f sample
    non-member too, and ``svc_attack`` reads 100 whatever D_f looks like.

    Example:
        >>> svc_member_recall([0.9] * 5, [0.1] * 5)
        100.0
        >>> svc_member_recall([0.9, 0.1], [0.9, 0.1, 0.9, 0.1, 0.5])  # inseparable: all non-member
        0.0
    """
    if clf is None:
        clf = fit_svc_attack(member_features, nonmember_features)
    members = np.asarray(member_features, dtype=np.float64).reshape(-1)
    return 100.0 * float(np.mean(_predict(clf, members) == 1))


def _predict(clf, target: np.ndarray) -> np.ndarray:
    """``clf.predict`` of the 1-D points ``target``, the same labels, faster: each distinct value is
    predicted once, and large inputs are split over threads (libsvm releases the GIL and predicts each
    point on its own, so the split changes nothing)."""
    values, inverse = np.unique(target, return_inverse=True)
    workers = max(1, min(torch.get_num_threads(), os.cpu_count() or 1, len(values) // _PREDICT_CHUNK_MIN))
    if workers == 1:
        return clf.predict(values.reshape(-1, 1))[inverse]
    from concurrent.futures import ThreadPoolExecutor

    chunks = np.array_split(values.reshape(-1, 1), workers)
    with ThreadPoolExecutor(workers) as pool:
        labels = np.concatenate(list(pool.map(clf.predict, chunks)))
    return labels[inverse]


#: Fewest points per thread when ``svc_attack`` splits a prediction.
_PREDICT_CHUNK_MIN = 1000


def mia_efficacy(retain_logits, retain_labels, test_logits, test_labels, forget_logits, forget_labels, *, seed: int,
                 members: str = "random", feature: str = "confidence") -> float:
    """The SVC membership attack of METRICS.md: percent of D_f judged "not a member".

    Args:
        retain_logits, retain_labels: the model's logits and labels on D_r (members are drawn from it).
        test_logits, test_labels: on D_t* (D_t in random scenarios, D_t,r in class scenarios); the
            non-members are drawn from it, as many as the members (``select_nonmembers``).
        forget_logits, forget_labels: on D_f, the samples scored.
        seed: seeds the choice of members (``members="random"``) and of non-members (when |D_t*| > |D_r|).
        members: ``"random"`` (seeded subset of D_r) or ``"first"`` (the first m retain rows).
        feature: ``"confidence"`` (headline ``mia_efficacy``), ``"entropy"``, ``"mentropy"`` or ``"correct"``.

    Returns:
        A percentage in [0, 100]; the golden model's value is the target.

    Example:
        >>> import math
        >>> hi, lo = [math.log(9.0), 0.0], [0.0, math.log(9.0)]  # p_y = 0.9 and 0.1 for label 0
        >>> mia_efficacy([hi] * 6, [0] * 6, [lo] * 4, [0] * 4, [hi, lo, lo, lo], [0] * 4, seed=0)
        75.0
    """
    member_f, nonmember_f = _attack_features(retain_logits, retain_labels, test_logits, test_labels, seed=seed,
                                             members=members, feature=feature)
    zf, yf = _checked(forget_logits, forget_labels, "forget")
    return svc_attack(member_f, nonmember_f, attack_feature(zf, yf, feature))


def mia_member_recall(retain_logits, retain_labels, test_logits, test_labels, *, seed: int, members: str = "random",
                      feature: str = "confidence") -> float:
    """``mia_member_recall``: 100 × the fraction of the attack's own members it predicts member.

    The same members, non-members and SVC as ``mia_efficacy`` with the same arguments. Below 50 the
    attack has collapsed, and its ``mia_efficacy`` says nothing about D_f.

    Example:
        >>> import math
        >>> hi, lo = [math.log(9.0), 0.0], [0.0, math.log(9.0)]
        >>> mia_member_recall([hi] * 6, [0] * 6, [lo] * 4, [0] * 4, seed=0)
        100.0
    """
    member_f, nonmember_f = _attack_features(retain_logits, retain_labels, test_logits, test_labels, seed=seed,
                                             members=members, feature=feature)
    return svc_member_recall(member_f, nonmember_f)


def _attack_features(retain_logits, retain_labels, test_logits, test_labels, *, seed: int, members: str,
                     feature: str) -> tuple[np.ndarray, np.ndarray]:
    """The feature of the attack's m members (from D_r) and m non-members (from D_t*)."""
    zr, yr = _checked(retain_logits, retain_labels, "retain")
    zt, yt = _checked(test_logits, test_labels, "test")
    mi = torch.as_tensor(select_members(len(yr), len(yt), seed=seed, members=members))
    ni = torch.as_tensor(select_nonmembers(len(yr), len(yt), seed=seed))
    return attack_feature(zr[mi], yr[mi], feature), attack_feature(zt[ni], yt[ni], feature)


# ----------------------------------------------------------------------------- logistic attacks
def entropy_member_rate(retain_logits, test_logits, forget_logits) -> float:
    """``mia_entropy_member_rate``: the zero-shot paper's "MIA".

    ``LogisticRegression(class_weight="balanced")`` (scikit-learn defaults otherwise) on the entropy
    of p, trained on all of D_r (label 1) vs D_t* (label 0); returns 100 × the fraction of D_f
    predicted member.

    Example:
        >>> conf, flat = [5.0, 0.0], [0.0, 0.0]
        >>> entropy_member_rate([conf] * 8, [flat] * 4, [conf, flat, flat, flat])
        25.0
    """
    from sklearn.linear_model import LogisticRegression

    hr = entropy(retain_logits)
    ht = entropy(test_logits)
    hf = entropy(forget_logits)
    require_nonempty(len(hr), "D_r")
    require_nonempty(len(ht), "D_t*")
    require_nonempty(len(hf), "D_f")
    x = np.concatenate([hr, ht]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(hr)), np.zeros(len(ht))])
    clf = LogisticRegression(class_weight="balanced").fit(x, y)
    return 100.0 * float(np.mean(clf.predict(hf.reshape(-1, 1)) == 1))


def loss_cv_accuracy(forget_logits, forget_labels, test_logits, test_labels, *, seed: int, n_splits: int = CV_SPLITS,
                     test_size: float = CV_TEST_SIZE) -> float:
    """``mia_loss_cv_accuracy``: how well a loss threshold tells D_f (1) from D_t* (0), in percent.

    Per-sample cross-entropy on both sets; the larger set is subsampled without replacement to the
    size of the smaller (``numpy_rng(seed, "mia_loss_cv", "subsample")``); a default
    ``LogisticRegression`` is scored by ``cross_val_score`` over ``StratifiedShuffleSplit(
    n_splits=10, test_size=0.2)`` seeded from ``seed``; the mean accuracy × 100 is returned.
    50 means the attacker cannot tell the sets apart.

    Raises:
        ConfigError: fewer than 3 samples in the smaller set (a stratified split needs them).

    Example:
        >>> same = [[1.0, 0.0]] * 10
        >>> loss_cv_accuracy(same, [0] * 10, same, [0] * 10, seed=0)
        50.0
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

    lf = per_sample_loss(forget_logits, forget_labels)
    lt = per_sample_loss(test_logits, test_labels)
    m = min(len(lf), len(lt))
    if m < 3:
        raise ConfigError(
            f"mia_loss_cv_accuracy needs at least 3 samples in each of D_f and D_t*; got {len(lf)} and {len(lt)}."
        )
    rng = numpy_rng(seed, "mia_loss_cv", "subsample")
    if len(lf) > m:
        lf = lf[np.sort(rng.choice(len(lf), size=m, replace=False))]
    elif len(lt) > m:
        lt = lt[np.sort(rng.choice(len(lt), size=m, replace=False))]
    x = np.concatenate([lf, lt]).reshape(-1, 1)
    y = np.concatenate([np.ones(m), np.zeros(m)])
    cv = StratifiedShuffleSplit(
        n_splits=n_splits, test_size=test_size, random_state=derive_seed(seed, "mia_loss_cv", "splits") % 2**32
    )
    scores = cross_val_score(LogisticRegression(), x, y, cv=cv, scoring="accuracy")
    return 100.0 * float(np.mean(scores))


def indiscernibility(cv_accuracy_percent: float) -> float:
    """``1 − |acc/100 − 0.5| / 0.5`` for an attack accuracy in percent; 1 = indistinguishable.

    Example:
        >>> indiscernibility(50.0), indiscernibility(100.0), indiscernibility(75.0)
        (1.0, 0.0, 0.5)
    """
    a = float(cv_accuracy_percent)
    if not 0.0 <= a <= 100.0:
        raise ConfigError(f"an attack accuracy in percent must lie in [0, 100]; got {a}.")
    return 1.0 - abs(a / 100.0 - 0.5) / 0.5
