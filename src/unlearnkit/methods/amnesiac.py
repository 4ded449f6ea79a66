"""Amnesiac unlearning: relabel the forget set with wrong labels and train on it mixed with D_r.

Reference: Graves, Nagisetty and Ganesh, "Amnesiac Machine Learning", AAAI 2021 (the relabelling
variant, "unlearning", of its section on amnesiac unlearning); defaults from the Amnesiac baseline
of the bad-teacher, SSD and JiT papers' code (Chundawat et al., AAAI 2023; Foster et al., AAAI
2024; seed 002).
"""

from __future__ import annotations

from unlearnkit.data.dataset import relabelled_union
from unlearnkit.config import store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.loop import cross_entropy_loss, run_loop


@METHODS.register("amnesiac")
class Amnesiac(LoopMethod):
    """Give every forget sample one random label other than its own, then train on D_f ∪ D_r.

    Each forget sample gets a label drawn uniformly from the other classes, once (the same wrong
    label in every epoch, as in the source code); the relabelled D_f is shuffled together with
    all of D_r, and an epoch is one pass over the union (so D_f makes up |D_f| / |D| of each batch
    on average, as in the source, not half of it as in ``random_labels``). Plain cross-entropy.
    The drawn labels are kept in ``forget_labels_``.

    Access: full retain. Defaults (the Amnesiac baseline of the bad-teacher / SSD / JiT code, the
    table of ALGORITHMS.md): 3 epochs, Adam lr 1e-4, batch 128, no weight decay. They suit our
    models as they are: class 3 of mnist5k with the cnn is forgotten (UA 99.5, RA −0.8); on
    digits, 36 steps in all forget it halfway (UA 51, RA −0.15).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("amnesiac", {}).optimizer
        'adam'
    """

    access = Access.FULL_RETAIN
    streams = ("forget", "retain")
    _parameter_constraints = dict(LOOP_CONSTRAINTS)

    def __init__(self, *, lr=1e-4, epochs=3, batch_size=128, optimizer="adam", momentum=0.9, weight_decay=0.0):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("Amnesiac needs the retain set, which the front door did not give")
        self._generator = generator
        self.forget_labels_ = self.random_labels(forget.labels, forget.num_classes, exclude_true=True)
        mixed = relabelled_union(forget, self.forget_labels_, retain)
        history = run_loop(model, {"train": mixed}, cross_entropy_loss("train"), self.recipe(), generator=generator,
                           device=device, description="Amnesiac")
        self.log_ = {"epoch_loss": history, "n_relabelled": len(forget)}
        return model
