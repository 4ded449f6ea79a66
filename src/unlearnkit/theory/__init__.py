"""The fine-tuning theory lab: overparameterised linear regression in closed form (numpy only).

Reproduces the linear-regression analysis of "Understanding Fine-tuning in Approximate
Unlearning: A Theoretical Perspective" (arXiv 2410.03833; ALGORITHMS.md section 1). Forget
samples live on the feature groups S_f ∪ S_o, remaining samples on S_r ∪ S_o; five models are
computed in closed form (original, fine-tuned, golden, retention-based masking, forgetting-based
masking) and compared on four losses.

Example:
    >>> from unlearnkit.theory import TheoryConfig, run
    >>> table = run(TheoryConfig(d=60, n_f=5, n_r=10, size_f=10, size_o=0, size_r=20))
    >>> table["losses"]["finetune"]["unlearning"] < 1e-20   # FT still fits the forgotten labels
    True
"""

from unlearnkit.theory.config import TheoryConfig
from unlearnkit.theory.data import TheoryData, sample_data
from unlearnkit.theory.lab import (
    describe_sweep,
    format_table,
    plot_sweep,
    run,
    sweep_csv,
    sweep_overlap,
    sweep_png,
    write_csv,
)
from unlearnkit.theory.losses import LOSS_NAMES, all_losses, mse
from unlearnkit.theory.models import (
    MODEL_NAMES,
    closed_form_models,
    fbm,
    finetune,
    gd_limit,
    gd_models,
    golden,
    gradient_descent,
    original,
    rbm,
)

__all__ = [
    "LOSS_NAMES", "MODEL_NAMES", "TheoryConfig", "TheoryData", "all_losses", "closed_form_models", "describe_sweep", "fbm",
    "finetune", "format_table", "gd_limit", "gd_models", "golden", "gradient_descent", "mse", "original",
    "plot_sweep", "rbm", "run", "sample_data", "sweep_csv", "sweep_overlap", "sweep_png", "write_csv",
]
