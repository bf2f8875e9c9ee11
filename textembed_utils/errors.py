"""One exception type for every user-facing problem.

Each error names the problem *and* the fix, so a researcher pointing the package
at a messy corpus reads what to do instead of a traceback into torch.
"""

from __future__ import annotations


class TextembedError(ValueError):
    """A problem the user can fix: bad input, a missing asset, a wrong parameter.

    The message has two parts, ``problem`` and ``fix``; ``str(err)`` joins them.
    Subclassing ``ValueError`` keeps ``except ValueError`` callers working.
    """

    def __init__(self, problem: str, fix: str):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  How to fix: {fix}")
