"""SLOs and multi-window burn-rate alerts, as Prometheus rules and in Python (lesson 05).

An SLO says what fraction of requests must be good (fast enough, or not an error); one
minus it is the *error budget*. The *burn rate* is how fast the budget is spent: the bad
fraction over a window divided by the budget (1 = exactly on budget). The Google SRE
workbook pages when the burn rate is high over a long window AND over a short one: the
long window ignores blips, the short one lets the alert stop soon after the fault ends.
Its numbers are 14.4 over 1 h and 5 min; a lesson has seconds, so the windows here are
scaled down (12 s and 3 s by default) and the idea stays the same.

:func:`rules_yaml` writes the rules for Prometheus (checked with ``promtool``);
:func:`evaluate` applies the very same rules to snapshots scraped by Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlkit.monitoring import scrape

REQUESTS = "mlkit_requests_total"
LATENCY = "mlkit_request_latency_seconds"


@dataclass(frozen=True)
class SLO:
    """A service-level objective on requests.

    Args:
        name: "latency" or "errors" (what makes a request bad).
        objective: the fraction of good requests promised, e.g. 0.99.
        latency_s: for "latency": the bound a good request stays under; it must be one of
            the histogram's bucket bounds (``le``), so both paths count the same requests.
    """

    name: str
    objective: float
    latency_s: float | None = None
    requests: str = REQUESTS
    latency: str = LATENCY
    outcome_label: str = "outcome"
    error_value: str = "error"

    def __post_init__(self) -> None:
        if self.name not in {"latency", "errors"}:
            raise ValueError(f"SLO name must be 'latency' or 'errors', not {self.name!r}.")
        if not 0 < self.objective < 1:
            raise ValueError(f"objective {self.objective} must be a fraction between 0 and 1, e.g. 0.99.")
        if self.name == "latency" and not self.latency_s:
            raise ValueError("A latency SLO needs latency_s, a bucket bound of the latency histogram.")

    @property
    def budget(self) -> float:
        return 1 - self.objective

    def bad_ratio_promql(self, window: str) -> str:
        """PromQL for the fraction of bad requests over ``window`` (e.g. "12s")."""
        if self.name == "errors":
            return (f'sum(rate({self.requests}{{{self.outcome_label}="{self.error_value}"}}[{window}]))'
                    f" / sum(rate({self.requests}[{window}]))")
        le = _le(self.latency_s)
        return (f'1 - sum(rate({self.latency}_bucket{{le="{le}"}}[{window}]))'
                f" / sum(rate({self.latency}_count[{window}]))")

    def bad_ratio(self, before: scrape.Snapshot, after: scrape.Snapshot) -> float:
        """The fraction of bad requests between two Python scrapes (NaN with no requests)."""
        if self.name == "errors":
            total = scrape.increase(before, after, self.requests)
            bad = scrape.increase(before, after, self.requests, **{self.outcome_label: self.error_value})
            return bad / total if total else float("nan")
        total = scrape.increase(before, after, f"{self.latency}_count")
        good = scrape.increase(before, after, f"{self.latency}_bucket", le=_le(self.latency_s))
        return 1 - good / total if total else float("nan")


def _le(seconds: float | None) -> str:
    """A bucket bound as prometheus_client writes it in the ``le`` label (0.1 -> "0.1")."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(seconds)


@dataclass(frozen=True)
class BurnRateRule:
    """Page when the SLO's budget burns ``factor`` times too fast over both windows."""

    alert: str
    slo: SLO
    long_s: int = 12
    short_s: int = 3
    factor: float = 14.4

    def promql(self) -> str:
        """The rule's PromQL expression (true while the alert is active)."""
        b = self.slo.budget
        return (f"({self.slo.bad_ratio_promql(f'{self.long_s}s')}) / {b:g} > {self.factor:g}\n"
                f"and\n({self.slo.bad_ratio_promql(f'{self.short_s}s')}) / {b:g} > {self.factor:g}")

    def burn_rates(self, history: Sequence[scrape.Snapshot]) -> tuple[float, float]:
        """(long, short) burn rates at the last snapshot of ``history`` (scraped by Python)."""
        return tuple(self.slo.bad_ratio(_at(history, w), history[-1]) / self.slo.budget
                     for w in (self.long_s, self.short_s))

    def fires(self, history: Sequence[scrape.Snapshot]) -> bool:
        """Whether the alert is active at the last snapshot (NaN, i.e. no traffic, is False)."""
        long, short = self.burn_rates(history)
        return bool(long > self.factor and short > self.factor)


def _at(history: Sequence[scrape.Snapshot], seconds: float) -> scrape.Snapshot:
    """The latest snapshot taken at least ``seconds`` before the last one (else the first)."""
    end = history[-1].at
    older = [s for s in history if end - s.at >= seconds - 1e-6]
    return older[-1] if older else history[0]


def default_rules(latency_s: float, latency_objective: float = 0.99, error_objective: float = 0.99,
                  **windows: float) -> list[BurnRateRule]:
    """The lesson's two pages: p99 latency under ``latency_s``, and 99 % of requests without error."""
    return [BurnRateRule("LatencyBudgetBurn", SLO("latency", latency_objective, latency_s), **windows),
            BurnRateRule("ErrorBudgetBurn", SLO("errors", error_objective), **windows)]


def rules_yaml(rules: Sequence[BurnRateRule], group: str = "mlkit-slo", interval: str = "1s") -> str:
    """The rules as a Prometheus rule file (YAML), to check with ``promtool check rules``."""
    import yaml

    items = [{"alert": r.alert, "expr": r.promql(), "for": "0s",
              "labels": {"severity": "page", "slo": r.slo.name},
              "annotations": {"summary": f"{r.slo.name} SLO ({r.slo.objective:.1%}) budget burning > "
                                         f"{r.factor:g}x over {r.long_s}s and {r.short_s}s"}}
             for r in rules]
    class Dumper(yaml.SafeDumper):  # multi-line PromQL as a readable "|" block
        pass

    Dumper.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s,
                                                                style="|" if "\n" in s else None))
    return yaml.dump({"groups": [{"name": group, "interval": interval, "rules": items}]},
                     Dumper=Dumper, sort_keys=False, width=200)


def evaluate(rules: Sequence[BurnRateRule], history: Sequence[scrape.Snapshot]) -> dict[str, bool]:
    """Each rule's state at the end of ``history``: the Python twin of Prometheus' evaluation."""
    return {r.alert: r.fires(history) for r in rules}


def fired_during(rules: Sequence[BurnRateRule], history: Sequence[scrape.Snapshot], start: int = 1) -> set[str]:
    """The alerts that were active at any snapshot of ``history[start:]``, evaluated once per
    scrape as Prometheus does (earlier snapshots still count inside the windows)."""
    return {r.alert for r in rules for i in range(max(start, 1) + 1, len(history) + 1) if r.fires(history[:i])}
