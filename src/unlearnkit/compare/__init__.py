"""``compare``: an interactive, self-contained HTML page that shows what forgetting did.

For runs of the run store (by id) or ``forget`` output folders: metrics side by side, class-wise
accuracy, the prediction matrix on D_f, the embedding space, layer-wise CKA and a membership-attack
view with a threshold slider and the records most at risk. See docs/compare.md.

Example:
    >>> from unlearnkit.compare import compare
    >>> compare(["738609b7158a", "ca79cfe1f4e3"], "page.html", home="/tmp/home")  # doctest: +SKIP
"""

from unlearnkit.compare.build import PageResult, compare, page_data
from unlearnkit.compare.samples import Budget

__all__ = ["Budget", "PageResult", "compare", "page_data"]
