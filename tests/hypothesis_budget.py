"""Example budgets for the property tests: full in ``make test``, a quarter in ``make test-fast``.

``make test-fast`` runs pytest with ``--hypothesis-profile=fast`` (registered in
``tests/conftest.py``: 25 examples where Hypothesis' default is 100). A test that names its own
budget passes it through ``examples`` so that budget shrinks by the same factor; ``make test``
(the default profile) runs every test at its full budget.
"""

from hypothesis import settings

#: Hypothesis' own default budget, which the default profile keeps.
DEFAULT_EXAMPLES = 100


def examples(full: int) -> int:
    """``full`` under the default profile; scaled as the loaded profile scales the default."""
    return max(5, full * settings.default.max_examples // DEFAULT_EXAMPLES)
