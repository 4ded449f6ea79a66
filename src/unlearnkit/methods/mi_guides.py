"""Membership-inference guides: small differentiable attackers that score how member-like a
model's outputs look, so a method can push forget samples toward "non-member".

Reference: the membership-inference guidance of LTU (Huang et al., "Learning to Unlearn for
Robust Machine Unlearning", ECCV 2024; seed 003), read as in ALGORITHMS.md section 4: K 2-layer
MLPs on the sorted softmax vector, with different seeds and feature sets.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.errors import ConfigError

#: Feature sets of the attackers, used in turn: attacker k gets FEATURE_SETS[k % 3].
FEATURE_SETS = ("sorted", "top3", "log_sorted")


def guide_features(probs: torch.Tensor, kind: str) -> torch.Tensor:
    """Features of softmax vectors (n, C): sorted descending, its top 3, or its log (clamped at 1e-12)."""
    ordered = probs.sort(dim=1, descending=True).values  # (n, C)
    if kind == "sorted":
        return ordered
    if kind == "top3":
        return ordered[:, :3]
    if kind == "log_sorted":
        return ordered.clamp_min(1e-12).log()
    raise ConfigError(f"Unknown feature set {kind!r}. Valid feature sets: {', '.join(FEATURE_SETS)}.")


class MembershipGuides:
    """K attackers A_k: softmax vector → P(member), each a 2-layer MLP on its own feature set.

    ``fit`` trains every attacker from scratch (full-batch Adam on balanced members and
    non-members, binary cross-entropy); ``score`` is the attackers' mean P(member);
    ``nonmember_loss`` is the mean over attackers and samples of BCE(A_k(p), 0), differentiable
    with respect to ``p`` (the attackers' own weights are frozen outside ``fit``).

    Args:
        n_guides: K, the number of attackers.
        hidden: width of each MLP's hidden layer.
        steps: optimiser steps per ``fit``.
        lr: Adam learning rate of ``fit``.
        seed: seeds the attackers' initialisation and the balancing subsample (attacker k uses
            seed + k).

    Example:
        >>> import torch
        >>> members = torch.softmax(torch.randn(64, 10) * 5, 1)
        >>> others = torch.softmax(torch.randn(64, 10), 1)
        >>> guides = MembershipGuides(n_guides=2, steps=50).fit(members, others)
        >>> guides.score(members).shape
        torch.Size([64])
    """

    def __init__(self, *, n_guides: int = 3, hidden: int = 32, steps: int = 100, lr: float = 0.01, seed: int = 0):
        if isinstance(n_guides, bool) or not isinstance(n_guides, int) or n_guides < 1:
            raise ConfigError(f"The 'n_guides' parameter of MembershipGuides must be an int in [1, inf). Got {n_guides!r} instead.")
        self.n_guides, self.hidden, self.steps, self.lr, self.seed = n_guides, hidden, steps, lr, seed
        self.attackers_: list[nn.Module] = []
        self.kinds_: list[str] = []

    def _build(self, in_features: int, k: int) -> nn.Module:
        gen = torch.Generator().manual_seed(self.seed + k)
        net = nn.Sequential(nn.Linear(in_features, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1))
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=gen) / max(1, p.shape[-1]) ** 0.5)
        return net

    def fit(self, member_probs: torch.Tensor, nonmember_probs: torch.Tensor) -> "MembershipGuides":
        """Train the K attackers on softmax vectors of members (label 1) and non-members (label 0)."""
        if len(member_probs) == 0 or len(nonmember_probs) == 0:
            raise ValueError("membership guides need at least one member and one non-member")
        member_probs, nonmember_probs = member_probs.detach().cpu(), nonmember_probs.detach().cpu()
        n = min(len(member_probs), len(nonmember_probs))
        gen = torch.Generator().manual_seed(self.seed)
        members = member_probs[torch.randperm(len(member_probs), generator=gen)[:n]]
        others = nonmember_probs[torch.randperm(len(nonmember_probs), generator=gen)[:n]]
        probs = torch.cat([members, others])  # (2n, C)
        target = torch.cat([torch.ones(n), torch.zeros(n)])  # (2n,)
        self.attackers_, self.kinds_ = [], []
        for k in range(self.n_guides):
            kind = FEATURE_SETS[k % len(FEATURE_SETS)]
            x = guide_features(probs, kind)
            net = self._build(x.shape[1], k)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            for _ in range(self.steps):
                opt.zero_grad(set_to_none=True)
                F.binary_cross_entropy_with_logits(net(x).squeeze(1), target).backward()
                opt.step()
            for p in net.parameters():
                p.requires_grad_(False)
            self.attackers_.append(net.eval())
            self.kinds_.append(kind)
        return self

    def _logits(self, probs: torch.Tensor) -> list[torch.Tensor]:
        if not self.attackers_:
            raise RuntimeError("the membership guides are not fitted; call fit() first")
        out = []
        for net, kind in zip(self.attackers_, self.kinds_):
            net.to(probs.device)
            out.append(net(guide_features(probs, kind)).squeeze(1))  # (n,)
        return out

    def score(self, probs: torch.Tensor) -> torch.Tensor:
        """Mean P(member) over the attackers, shape (n,)."""
        with torch.no_grad():
            return torch.stack([torch.sigmoid(z) for z in self._logits(probs)]).mean(0)

    def nonmember_loss(self, probs: torch.Tensor) -> torch.Tensor:
        """Mean over attackers and samples of BCE(A_k(p), 0); gradients flow into ``probs``."""
        losses = [F.binary_cross_entropy_with_logits(z, torch.zeros_like(z)) for z in self._logits(probs)]
        return torch.stack(losses).mean()
