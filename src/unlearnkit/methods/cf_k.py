"""CF-k: catastrophic forgetting of the last k layers: fine-tune them on D_r alone (not
re-initialised), the layers below frozen at θ_o. EU-k's companion baseline.

Reference: Goel, Prabhu, Sanyal, Lim, Torr and Kumaraguru, "Towards Adversarial Evaluation for
Inexact Machine Unlearning", arXiv:2201.06640, 2022 (CF-k); their code, github
shash42/Evaluating-Inexact-Unlearning (src/methods.py ``cat_forget_finetune`` with K, which selects
the layers as ``retrain_lastK`` does, without re-initialising, and trains with the same loop).
"""

from __future__ import annotations

from unlearnkit.config import store_params
from unlearnkit.methods.eu_k import LastKLayers
from unlearnkit.methods.registry import METHODS


@METHODS.register("cf_k")
class CFk(LastKLayers):
    """Fine-tune the last ``k`` layers on D_r with cross-entropy, starting from θ_o; every other
    parameter keeps θ_o.

    The layers, the batch norms trained on the way, the schedules and the cached-features path are
    ``eu_k``'s (``methods.layers.last_k_layers``; ``LastKLayers``): by default the original recipe
    (``recipe``, default the dataset's preset: pass the one the model was trained with) for as long
    as the original, its lr schedule and augmentation, gradients clipped at norm 10, the whole net in
    train mode; ``schedule="short"`` is 20 epochs at a constant lr 0.05. Without re-initialisation
    the k layers start from what they memorised, so CF-k shows how much of EU-k's forgetting comes
    from the reset itself.

    Access: full retain (D_f is not used). Parameters: those of ``eu_k`` except ``init``.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("cf_k", {"k": 1, "schedule": "short"}).training_recipe("digits").lr
        0.05
    """

    def __init__(self, *, k=2, schedule="recipe", recipe=None, epochs=None, lr=None, batch_size=None, momentum=None,
                 weight_decay=None, optimizer=None, lr_schedule=None, clip=None):
        store_params(self, locals())
