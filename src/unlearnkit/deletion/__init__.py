"""Honouring deletion requests on your own model: ``forget``, the ledger and evidence without retraining.

Example:
    >>> from unlearnkit import Dataset, forget                     # doctest: +SKIP
    >>> data = Dataset.from_arrays(x, y, ids=ids, test=(x_test, y_test))
    >>> result = forget(model, data, ["u17", "u42"], ledger="ledger/", out="request-1/")
    >>> result.evidence.verdict, result.entry["hash"]
"""

from unlearnkit.deletion.auto import RECOMMENDATIONS, Recommendation, recommend, request_shape
from unlearnkit.deletion.evidence import EVIDENCE_METRICS, Evidence, compute_evidence
from unlearnkit.deletion.forget import ForgetResult, forget, plan_forget
from unlearnkit.deletion.ledger import Ledger, LedgerError, Verification
from unlearnkit.deletion.modelio import ArchSpec, load_weights_into, read_state_dict, weights_sha256
from unlearnkit.deletion.runs import load_run_model

__all__ = [
    "ArchSpec", "EVIDENCE_METRICS", "Evidence", "ForgetResult", "Ledger", "LedgerError", "RECOMMENDATIONS",
    "Recommendation", "Verification", "compute_evidence", "forget", "load_run_model", "load_weights_into",
    "plan_forget", "read_state_dict", "recommend", "request_shape", "weights_sha256",
]
