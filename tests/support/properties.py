"""How hard the property tests try. `make test` asks Hypothesis for each test's full number
of examples; the edit loop (`make test-fast`, which sets PYTEST_NEWSLETTER_QUICK_PROPERTIES=1)
for a fifth of them, so that a property test there is a quick smoke run, not the search."""

from __future__ import annotations

import os

QUICK = os.environ.get("PYTEST_NEWSLETTER_QUICK_PROPERTIES") == "1"
QUICK_SHARE = 5  # the edit loop tries one example in this many
DEFAULT_EXAMPLES = 100  # Hypothesis's own default


def examples(n: int) -> int:
    """The examples a property test written for `n` asks for in this run."""
    return max(10, n // QUICK_SHARE) if QUICK else n
