"""Lesson 01, validation with Great Expectations 1.x: run suites, inject faults, gate a pipeline.

The lesson builds its expectation suite in the notebook with real GX calls; this module
holds the plumbing around it: an ephemeral GX context with a pandas data source
(:func:`validate`), a readable result table, a gallery of injected faults
(:data:`FAULTS`), the fault-by-expectation matrix, the :func:`gate` that stops a
pipeline on bad data, suite files for the DVC pipeline, and the fault-injector widget.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class DataValidationError(MlkitError, ValueError):
    """A batch failed its expectation suite; ``failures`` lists what failed."""

    def __init__(self, message: str, failures: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.failures = failures


# ---------------------------------------------------------------- running a suite
@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("mlkit_pandas").add_dataframe_asset("batch")
    return asset.add_batch_definition_whole_dataframe("whole_batch")


def validate(df: pd.DataFrame, suite: Any):
    """Validate a DataFrame against a GX ``ExpectationSuite``; return GX's validation result."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
    return batch.validate(suite)


def label(config: Any) -> str:
    """A short name for an expectation: ``values_to_not_be_null(text)``."""
    kwargs = config.kwargs if hasattr(config, "kwargs") else config.configuration.kwargs
    kind = getattr(config, "type", None) or getattr(config, "expectation_type", "expectation")
    target = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or "table"
    return f"{kind.removeprefix('expect_')}({target})"


def results_table(result: Any) -> pd.DataFrame:
    """One row per expectation: success, unexpected count and a sample, or the observed value."""
    import pandas as pd

    rows = []
    for res in result.results:
        r = res.result or {}
        info = res.exception_info if isinstance(res.exception_info, dict) else {}
        error = info.get("exception_message")
        if error is None:  # GX nests per-metric errors
            nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
            error = nested[0].get("exception_message") if nested else None
        detail = r.get("observed_value")
        if not res.success:
            detail = error or (r.get("partial_unexpected_list") or [])[:3] or detail
        rows.append({"expectation": label(res.expectation_config), "success": bool(res.success),
                     "unexpected": r.get("unexpected_count"), "detail": detail})
    table = pd.DataFrame(rows, columns=["expectation", "success", "unexpected", "detail"])
    table["unexpected"] = table["unexpected"].astype("Int64")
    return table


def failures(result: Any) -> pd.DataFrame:
    """Only the failed expectations of a validation result."""
    table = results_table(result)
    return table[~table["success"]].reset_index(drop=True)


def gate(df: pd.DataFrame, suite: Any, name: str = "batch") -> pd.DataFrame:
    """Return ``df`` if it passes the suite; otherwise raise :class:`DataValidationError`.

    The message names every failed expectation, so whoever reads a failed pipeline run
    knows what to fix; nothing downstream runs on the batch.
    """
    import pandas as pd

    result = validate(df, suite)
    if result.success:
        return df
    failed = failures(result)
    lines = []
    for row in failed.itertuples():
        counted = pd.notna(row.unexpected) and row.unexpected
        what = f"{int(row.unexpected)} unexpected, e.g. {row.detail}" if counted else f"{row.detail}"
        lines.append(f"  - {row.expectation}: {what}")
    raise DataValidationError(
        f"Data validation failed: {len(failed)} of {len(result.results)} expectations failed on "
        f"{name!r} ({len(df)} rows); nothing downstream ran.\n" + "\n".join(lines)
        + "\nFix the source, or update the suite if the change is intended.", failed)


# ---------------------------------------------------------------- suite files
def save_suite(suite: Any, path: str | os.PathLike) -> Path:
    """Write a suite as JSON (a versioned input of the DVC pipeline's validate stage)."""
    data = suite.to_json_dict()
    for exp in data.get("expectations", []):
        exp.pop("id", None)
        exp.get("kwargs", {}).pop("batch_id", None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_suite(path: str | os.PathLike):
    """Read a suite written by :func:`save_suite` back into a GX ``ExpectationSuite``."""
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    data = json.loads(Path(path).read_text())
    expectations = [get_expectation_impl(e["type"])(**e["kwargs"]) for e in data["expectations"]]
    return gx.ExpectationSuite(name=data["name"], expectations=expectations)


# ---------------------------------------------------------------- fault gallery
def _rows(df: pd.DataFrame, severity: float, rng: np.random.Generator) -> np.ndarray:
    n = min(len(df), max(1, round(severity * len(df)))) if severity > 0 else 0
    return rng.choice(len(df), size=n, replace=False)


def _nulls(df, severity, rng):
    out = df.copy()
    out.loc[out.index[_rows(df, severity, rng)], "text"] = None
    out["n_chars"] = out["text"].str.len().astype("Int64")
    return out


def _out_of_range(df, severity, rng):
    out = df.copy()
    idx = out.index[_rows(df, severity, rng)]
    out.loc[idx, "text"] = out.loc[idx, "text"] + " " + "x" * 2000  # a corrupted payload
    out["n_chars"] = out["text"].str.len().astype("Int64")
    return out


def _unknown_category(df, severity, rng):
    out = df.copy()
    out.loc[out.index[_rows(df, severity, rng)], "label"] = "promo"
    return out


def _renamed_column(df, severity, rng):
    return df.rename(columns={"text": "message"})


def _missing_column(df, severity, rng):
    return df.drop(columns=["label"])


def _duplicated_rows(df, severity, rng):
    import pandas as pd

    return pd.concat([df, df.iloc[_rows(df, severity, rng)]], ignore_index=True)


def _shifted_distribution(df, severity, rng):
    """A source starts sending only long messages: rows are replaced by the longest tenth."""
    out = df.copy()
    long = df[df["n_chars"] >= df["n_chars"].quantile(0.9)]
    idx = out.index[_rows(df, severity, rng)]
    pick = long.iloc[rng.integers(0, len(long), size=len(idx))]
    for col in ("text", "label", "n_chars"):
        out.loc[idx, col] = pick[col].to_numpy()
    return out


FAULTS: dict[str, Callable] = {
    "nulls": _nulls,
    "out_of_range": _out_of_range,
    "unknown_category": _unknown_category,
    "renamed_column": _renamed_column,
    "missing_column": _missing_column,
    "duplicated_rows": _duplicated_rows,
    "shifted_distribution": _shifted_distribution,
}


def inject(df: pd.DataFrame, fault: str, severity: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """A copy of the raw table with one fault injected into a ``severity`` share of its rows."""
    import numpy as np

    if fault not in FAULTS:
        raise MlkitError(f"Unknown fault {fault!r}; choose one of {', '.join(FAULTS)}.")
    if not 0 <= severity <= 1:
        raise MlkitError(f"severity must be between 0 and 1, not {severity!r}.")
    return FAULTS[fault](df, float(severity), np.random.default_rng(seed))


def fault_matrix(df: pd.DataFrame, suite: Any, severity: float = 0.2, seed: int = 0,
                 faults: list[str] | None = None) -> pd.DataFrame:
    """Which expectation catches which fault: one row per fault (and "clean"), True = failed.

    The last column ``caught`` is True when at least one expectation failed.
    """
    import pandas as pd

    rows = {}
    for fault in ["clean", *(faults or FAULTS)]:
        batch = df if fault == "clean" else inject(df, fault, severity, seed)
        table = results_table(validate(batch, suite))
        rows[fault] = pd.Series(~table["success"].to_numpy(), index=table["expectation"])
    matrix = pd.DataFrame(rows).T.fillna(False).astype(bool)
    matrix["caught"] = matrix.any(axis=1)
    return matrix


# ---------------------------------------------------------------- widget
def fault_injector(df: pd.DataFrame, suite: Any, seed: int = 0):
    """The lesson's widget: pick a fault and its severity, press Validate, see the result."""
    import html

    import ipywidgets as w

    fault = w.Dropdown(options=["clean", *FAULTS], value="nulls", description="fault")
    severity = w.FloatSlider(value=0.05, min=0.0, max=0.5, step=0.01, description="severity",
                             readout_format=".2f")
    button = w.Button(description="Validate", button_style="primary", icon="check")
    out = w.HTML("<i>Pick a fault and press Validate.</i>")

    def on_click(_=None) -> None:
        try:
            batch = df if fault.value == "clean" else inject(df, fault.value, severity.value, seed)
            result = validate(batch, suite)
            table = results_table(result)
            n_failed = int((~table.success).sum())
            verdict = ("<b style='color:green'>PASSED: the gate lets this batch through</b>" if result.success
                       else f"<b style='color:#c00'>REFUSED: {n_failed} expectation(s) failed</b>")
            out.value = (f"<p>{html.escape(fault.value)} at severity {severity.value:.2f} "
                         f"({len(batch)} rows): {verdict}</p>"
                         + table.assign(success=table.success.map({True: "✓", False: "✗ failed"}))
                         .to_html(index=False, escape=True, na_rep=""))
        except Exception as exc:  # a widget callback must never raise
            out.value = f"<b style='color:#c00'>Could not validate: {html.escape(str(exc))}</b>"

    button.on_click(on_click)
    box = w.VBox([w.HBox([fault, severity, button]), out])
    box.add_class("mlkit-main")
    box.run = on_click  # for tests and headless runs
    return box
