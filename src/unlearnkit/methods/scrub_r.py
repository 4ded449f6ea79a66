"""SCRUB+R: SCRUB, rewound to the state whose forget error is closest to the error on held-out data.

Reference: Kurmanji, Triantafillou, Hayes and Triantafillou, "Towards Unbounded Machine
Unlearning", NeurIPS 2023, §"SCRUB+R" (rewinding for user privacy, where a forget error above
that of unseen data is itself a membership signal).
"""

from __future__ import annotations

import torch

from unlearnkit.data.dataset import detach_subset
from unlearnkit.data.split import draw_val_forget
from unlearnkit.methods.calibration import CalibrationSets, HeldoutCalibration
from unlearnkit.methods.registry import METHODS
from unlearnkit.methods.scrub import SCRUB
from unlearnkit.training.loop import observe_steps


@METHODS.register("scrub_r")
class ScrubR(SCRUB):
    """SCRUB (same parameters and defaults), then rewind to the best pass-end state.

    The paper saves a checkpoint after every SCRUB epoch, measures the error on a held-out set
    drawn to the forget set's class distribution, and returns the checkpoint whose forget error
    is closest to it. Here: the held-out set is V_f, drawn from the validation slice V (which
    the front door gives this method, never D_t) to D_f's class proportions; a state is a
    candidate at the end of every pass (max or min) over D_f or D_r; and **(reading)** each
    candidate is compared with the held-out error measured on the same state, not on the last
    one, so that only the best state is kept in memory instead of every checkpoint (SCRUB's min
    passes barely move the held-out error). The state before SCRUB is not a candidate.
    ``log_["rewind"]`` holds the trace.

    This is the rewinding that ``unlearn(..., calibrate="heldout")`` generalises to every loop
    method (with a distance that also watches the loss AUC and held-out accuracy).

    Access: full retain, plus the validation slice V (required: without one the run is refused).
    Defaults: SCRUB's.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("scrub_r", {"msteps": 1}).msteps
        1
    """

    uses_holdout = True
    needs_validation = True

    def run(self, model, *, forget, retain, generator, device, holdout=None):
        if holdout is None:
            raise ValueError("SCRUB+R needs the validation slice, which the front door did not give")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        picked = draw_val_forget(forget.labels.numpy(), holdout.labels.numpy(), seed)
        sets = CalibrationSets(forget=forget, val_forget=detach_subset(holdout.take(torch.from_numpy(picked))),
                               val_retain=None, class_scenario=False)
        rewind = HeldoutCalibration(sets, every="epoch", patience=None, device=device, criterion="acc_gap",
                                    include_initial=False)
        rewind.begin(model)
        with observe_steps(rewind):
            model = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_ = {**self.log_, "rewind": rewind.end(model)}
        return model
