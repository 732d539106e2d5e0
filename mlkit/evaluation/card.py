"""A model card in markdown (lesson 03), after Mitchell et al., "Model Cards for Model
Reporting" (2019): what the model is for, what it was trained and tested on, how well it
does with what uncertainty, for whom it does worse, and what it must not be used for.

The lesson fills it from its own results and logs it with MLflow (an artifact of the
champion's run, and a tag on the model version); :func:`render` only writes the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SECTIONS = ("Model details", "Intended use", "Data", "Metrics", "Slices", "Behaviour tests", "Fairness",
            "Limitations")


def _table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    return frame.to_markdown(floatfmt=floatfmt)


def _metric(value: Any) -> str:
    if hasattr(value, "low") and hasattr(value, "high"):
        return f"{value.estimate:.3f} (95% CI {value.low:.3f} to {value.high:.3f})"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render(*, name: str, version: str, details: Mapping[str, Any], intended_use: str, out_of_scope: str,
           data: Mapping[str, Any], metrics: Mapping[str, Any], slices: pd.DataFrame, behaviour: pd.DataFrame,
           fairness: str, limitations: Sequence[str]) -> str:
    """The card as markdown. ``metrics`` values are numbers or intervals (with ``estimate``,
    ``low``, ``high``); ``slices`` and ``behaviour`` are the lesson's tables."""
    lines = [f"# Model card: {name}, version {version}", ""]
    lines += ["## Model details", ""] + [f"- **{k}**: {v}" for k, v in details.items()] + [""]
    lines += ["## Intended use", "", intended_use, "", f"**Out of scope**: {out_of_scope}", ""]
    lines += ["## Data", ""] + [f"- **{k}**: {v}" for k, v in data.items()] + [""]
    lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_metric(v)} |" for k, v in metrics.items()] + [""]
    lines += ["## Slices", "", _table(slices), ""]
    lines += ["## Behaviour tests", "", _table(behaviour.drop(columns=["example"], errors="ignore")), ""]
    lines += ["## Fairness", "", fairness, ""]
    lines += ["## Limitations", ""] + [f"- {item}" for item in limitations] + [""]
    return "\n".join(lines)


def missing_sections(text: str) -> list[str]:
    """The card's required sections that ``text`` lacks (empty when complete)."""
    return [s for s in SECTIONS if f"## {s}" not in text]
