"""The report of ``Helpers.check_layer``: its rows, a table for the terminal and for Jupyter."""
import html
from dataclasses import dataclass

from tabulate import tabulate


@dataclass
class Check:
    """One row of the report."""

    name: str           # e.g. "gradient: weights"
    status: str         # "pass", "FAIL" or "skip"
    detail: str = ""    # the numbers behind the verdict, or why the check was skipped
    hint: str = ""      # for a failure: one sentence on what is probably wrong


class LayerCheckFailed(AssertionError):
    """Raised by ``Report.assert_ok`` when a check failed; the message lists them."""


class Report:
    """What ``check_layer`` found: ``checks`` (rows), ``ok``, ``failures``.

    ``str(report)`` is a table (tabulate); Jupyter renders ``_repr_html_``.
    """

    def __init__(self, title, checks):
        self.title = title
        self.checks = list(checks)

    @property
    def failures(self):
        return [c for c in self.checks if c.status == "FAIL"]

    @property
    def ok(self):
        """True when no check failed (skipped checks do not count)."""
        return not self.failures

    def __getitem__(self, name):
        """The row called ``name``, e.g. ``report["gradient: input"]``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"Report: no check called {name!r}; there are "
                       f"{[c.name for c in self.checks]}")

    def summary(self):
        count = {s: sum(c.status == s for c in self.checks) for s in ("pass", "FAIL", "skip")}
        return (f"check_layer({self.title}): {count['pass']} passed, {count['FAIL']} failed, "
                f"{count['skip']} skipped")

    def _rows(self):
        return [(c.name, c.status, f"{c.hint} [{c.detail}]" if c.hint else c.detail)
                for c in self.checks]

    def __str__(self):
        table = tabulate(self._rows(), headers=("check", "result", "details"),
                         maxcolwidths=[None, None, 80])
        return f"{self.summary()}\n{table}"

    __repr__ = __str__

    def _repr_html_(self):
        table = tabulate(self._rows(), headers=("check", "result", "details"), tablefmt="html")
        return f"<p><b>{html.escape(self.summary())}</b></p>{table}"

    def assert_ok(self):
        """Raise ``LayerCheckFailed`` listing every failed check; return the report if none."""
        if self.failures:
            lines = [f"- {c.name}: {c.hint} [{c.detail}]" for c in self.failures]
            raise LayerCheckFailed(self.summary() + "\n" + "\n".join(lines))
        return self
