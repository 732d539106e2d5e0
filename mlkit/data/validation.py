"""Lesson 01, validation with Great Expectations 1.x: the suite, faults, a severity sweep, a gate.

:func:`raw_suite` is lesson 01's expectation suite, defined once: the lesson shows its source
and adds it to its GX context, and ``ws.require("data@v1")`` validates with it. The lesson
builds its GX context and the validation definition ``check_raw`` in the notebook, with real
GX calls. Every function here takes that
``check`` (a ``gx.ValidationDefinition``) and runs it: the gate, the fault matrix, the
severity sweep and the fault-injector widget all use the validation the learner built,
never a second context of their own. Where only a suite exists (the DVC pipeline's
validate stage reads one from ``expectations.json``), :func:`check_for` builds the check
the same way the lesson does.

Results read in words: an expectation "passed" or "failed"; a fault was "caught" or
"slipped through".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError
from mlkit.course.widgets import MainWidget

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PASSED, FAILED, CAUGHT, SLIPPED = "passed", "failed", "caught", "slipped through"
Check = Any  # a gx.ValidationDefinition (the lesson's check_raw); a gx.ExpectationSuite is also accepted


class DataValidationError(MlkitError, ValueError):
    """A batch failed its expectation suite; ``failures`` lists what failed."""

    def __init__(self, message: str, failures: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.failures = failures


# ---------------------------------------------------------------- lesson 01's suite
def raw_suite(raw: pd.DataFrame) -> Any:
    """Lesson 01's expectation suite ``sms_raw`` for a raw delivery, one expectation per way a
    delivery can go wrong. Bounds come from what we know about the data (the longest message of
    the collection sets the 1,000-character limit, with a margin) and from the first release,
    ``raw`` (its mean length may move by 15%, no more)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from mlkit.data.ingest import RAW_COLUMNS

    mean_chars = float(raw["n_chars"].mean())
    return gx.ExpectationSuite(name="sms_raw", expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=RAW_COLUMNS, exact_match=True),  # the schema
        gxe.ExpectTableRowCountToBeBetween(min_value=100),                # not an empty delivery
        gxe.ExpectColumnValuesToBeUnique(column="id"),                    # no record twice
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"]),
        gxe.ExpectColumnValuesToBeInSet(column="source", value_set=["file", "sqlite", "api"]),
        gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=1, max_value=1000),
        gxe.ExpectColumnMeanToBeBetween(column="n_chars", min_value=0.85 * mean_chars,
                                        max_value=1.15 * mean_chars),  # no drift in length
    ])


# ---------------------------------------------------------------- running a check
def check_for(suite: Any, name: str = "check") -> Any:
    """A ``gx.ValidationDefinition`` for ``suite`` on pandas DataFrames (lesson 01's steps).

    The same calls as the lesson's notebook: an ephemeral context with progress bars off,
    a pandas data source, a DataFrame asset, a whole-DataFrame batch definition, and a
    validation definition tying it to the suite. For code that has a suite but no check:
    the DVC pipeline's validate stage and the exercise checks.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (context.data_sources.add_pandas("mlkit_pandas").add_dataframe_asset("batch")
                 .add_batch_definition_whole_dataframe("whole_batch"))
    suite = context.suites.add(gx.ExpectationSuite(name=suite.name, expectations=_copies(suite)))
    return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))


def _copies(suite: Any) -> list[dict]:
    """The suite's expectations as plain dicts (a suite may belong to one context only)."""
    return [{"type": e["type"], "kwargs": e["kwargs"], "meta": e.get("meta") or {}}
            for e in suite.to_json_dict()["expectations"]]


def as_check(check: Check) -> Any:
    """``check`` itself when it is a ``gx.ValidationDefinition``; a suite gets :func:`check_for`."""
    import great_expectations as gx

    if isinstance(check, gx.ValidationDefinition):
        return check
    if isinstance(check, gx.ExpectationSuite):
        return _cached_check(json.dumps({"name": check.name, "expectations": _copies(check)}, sort_keys=True,
                                        default=str))
    raise MlkitError(f"Expected the gx.ValidationDefinition you built (check_raw), or a gx.ExpectationSuite; "
                     f"got {type(check).__name__}.")


@lru_cache(maxsize=8)
def _cached_check(suite_json: str) -> Any:
    """One check per distinct suite content: validating with a bare suite many times builds one context."""
    import great_expectations as gx

    data = json.loads(suite_json)
    return check_for(gx.ExpectationSuite(name=data["name"], expectations=data["expectations"]),
                     name=f"check_{data['name']}")


def validate(df: pd.DataFrame, check: Check) -> Any:
    """Run ``check`` on one DataFrame; return GX's validation result (``.success``, ``.results``)."""
    return as_check(check).run(batch_parameters={"dataframe": df})


def label(config: Any) -> str:
    """A short name for an expectation: ``values_to_not_be_null(text)``."""
    kwargs = config.kwargs
    target = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or "table"
    return f"{config.type.removeprefix('expect_')}({target})"


def _error(res: Any) -> str | None:
    info = res.exception_info if isinstance(res.exception_info, dict) else {}
    if info.get("exception_message"):
        return info["exception_message"]
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return nested[0].get("exception_message") if nested else None  # GX nests per-metric errors


def results_table(result: Any) -> pd.DataFrame:
    """One row per expectation: ``result`` ("passed"/"failed"), unexpected count, and a
    sample of the unexpected values (or the observed value, or the error)."""
    import pandas as pd

    rows = []
    for res in result.results:
        r = res.result or {}
        detail = r.get("observed_value")
        if not res.success:
            detail = _error(res) or (r.get("partial_unexpected_list") or [])[:3] or detail
        rows.append({"expectation": label(res.expectation_config), "result": PASSED if res.success else FAILED,
                     "unexpected": r.get("unexpected_count"), "detail": detail})
    table = pd.DataFrame(rows, columns=["expectation", "result", "unexpected", "detail"])
    table["unexpected"] = table["unexpected"].astype("Int64")
    return table


def failures(result: Any) -> pd.DataFrame:
    """Only the failed expectations of a validation result."""
    table = results_table(result)
    return table[table["result"] == FAILED].reset_index(drop=True)


def gate(df: pd.DataFrame, check: Check, name: str = "batch") -> pd.DataFrame:
    """Return ``df`` if ``check`` passes on it; otherwise raise :class:`DataValidationError`.

    The message names every failed expectation, so whoever reads a failed pipeline run
    knows what to fix; nothing downstream runs on the batch.
    """
    import pandas as pd

    result = validate(df, check)
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
def save_suite(check: Check, path: str | os.PathLike) -> Path:
    """Write the suite of ``check`` (or a suite) as JSON, a versioned input of the DVC pipeline."""
    suite = getattr(check, "suite", check)
    data = {"name": suite.name, "expectations": _copies(suite)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_suite(path: str | os.PathLike) -> Any:
    """Read a suite written by :func:`save_suite`: ``gx.ExpectationSuite`` takes the expectation dicts."""
    import great_expectations as gx
    from great_expectations.exceptions import GreatExpectationsError

    data = json.loads(Path(path).read_text())
    try:
        suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"])
    except (ValueError, TypeError, KeyError, GreatExpectationsError) as exc:  # pydantic's ValidationError is a ValueError
        raise MlkitError(f"{path}: an expectation is not valid ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]}); fix or remove it.") from None
    if len(suite.expectations) != len(data["expectations"]):  # GX may log and skip an invalid one
        raise MlkitError(f"{path}: {len(data['expectations']) - len(suite.expectations)} expectation(s) "
                         "are not valid GX configurations; fix or remove them.")
    return suite


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

STRUCTURAL = frozenset({"renamed_column", "missing_column"})  # hit the whole table, whatever the severity


def inject(df: pd.DataFrame, fault: str, severity: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """A copy of the raw table with one fault injected into a ``severity`` share of its rows."""
    import numpy as np

    if fault not in FAULTS:
        raise MlkitError(f"Unknown fault {fault!r}; choose one of {', '.join(FAULTS)}.")
    if not 0 <= severity <= 1:
        raise MlkitError(f"severity must be between 0 and 1, not {severity!r}.")
    return FAULTS[fault](df, float(severity), np.random.default_rng(seed))


def fault_matrix(df: pd.DataFrame, check: Check, severity: float = 0.2, seed: int = 0,
                 faults: Sequence[str] | None = None) -> pd.DataFrame:
    """Which expectation catches which fault (lesson 01), in words.

    One row per fault (and "clean"), one column per expectation of ``check``: "caught"
    where the expectation failed on the faulty batch, "passed" where it let it through.
    Then ``verdict``: "caught" (at least one expectation failed), "slipped through", or,
    for the clean batch, "passed"; and ``caught``, the same as a bool, for asserts.
    """
    import pandas as pd

    check = as_check(check)
    rows = {}
    for fault in ["clean", *(faults or FAULTS)]:
        batch = df if fault == "clean" else inject(df, fault, severity, seed)
        table = results_table(validate(batch, check))
        rows[fault] = pd.Series(table["result"].map({FAILED: CAUGHT, PASSED: PASSED}).to_numpy(),
                                index=table["expectation"])
    matrix = pd.DataFrame(rows).T.fillna(PASSED)
    matrix["caught"] = (matrix == CAUGHT).any(axis=1)
    matrix.insert(len(matrix.columns) - 1, "verdict",
                  [CAUGHT if c else (PASSED if f == "clean" else SLIPPED) for f, c in matrix["caught"].items()])
    return matrix


def severity_sweep(df: pd.DataFrame, check: Check, rates: Sequence[float] = (0.01, 0.05, 0.2), seed: int = 0,
                   faults: Sequence[str] | None = None) -> pd.DataFrame:
    """Each fault injected at several rates (lesson 01): which are caught at 1%, which slip through.

    One row per fault, one column per rate (``"1%"``, ``"5%"``...) saying "caught" or
    "slipped through", then ``lowest_rate_caught`` (a fraction, NaN if never caught) and
    ``caught_by``: the expectations that failed at that lowest rate.
    """
    import math

    import pandas as pd

    check = as_check(check)
    rates = sorted(float(r) for r in rates)
    rows = []
    for fault in faults or FAULTS:
        row: dict[str, Any] = {"fault": fault}
        lowest, by, failed = math.nan, "", None
        for rate in rates:
            if failed is None or fault not in STRUCTURAL:  # a structural fault is the same at any rate
                failed = failures(validate(inject(df, fault, rate, seed), check))
            row[f"{rate:.0%}" if rate >= 0.01 else f"{rate:.1%}"] = CAUGHT if len(failed) else SLIPPED
            if len(failed) and math.isnan(lowest):
                lowest, by = rate, ", ".join(failed["expectation"])
        rows.append({**row, "lowest_rate_caught": lowest, "caught_by": by})
    return pd.DataFrame(rows).set_index("fault")


# ---------------------------------------------------------------- widget
class FaultInjector(MainWidget):
    """The lesson's widget: pick a fault and its severity, press Validate, see what ``check`` says.

    Attributes: ``fault`` (Dropdown), ``severity`` (FloatSlider), ``button`` (Button);
    the verdict and the result table appear in ``status``.
    """

    def __init__(self, df: pd.DataFrame, check: Check, seed: int = 0) -> None:
        import ipywidgets as w

        self.df, self.check, self.seed = df, check, seed
        self.fault = w.Dropdown(options=["clean", *FAULTS], value="nulls", description="fault")
        self.severity = w.FloatSlider(value=0.05, min=0.0, max=0.5, step=0.01, description="severity",
                                      readout_format=".2f")
        self.button = w.Button(description="Validate", button_style="primary", icon="check")
        super().__init__(w.HBox([self.fault, self.severity, self.button]),
                         status="<i>Pick a fault and press Validate.</i>", doing="validate")
        self.on_click(self.button, self.run)

    def run(self) -> None:
        """Inject the chosen fault, run the check, show the verdict and the result table."""
        import html

        fault, severity = self.fault.value, self.severity.value
        batch = self.df if fault == "clean" else inject(self.df, fault, severity, self.seed)
        result = validate(batch, self.check)
        table = results_table(result)
        n_failed = int((table["result"] == FAILED).sum())
        verdict = ("<b style='color:green'>PASSED: the gate lets this batch through</b>" if result.success
                   else f"<b style='color:#c00'>REFUSED: {n_failed} expectation(s) failed</b>")
        self.show(f"<p>{html.escape(fault)} at severity {severity:.2f} ({len(batch)} rows): {verdict}</p>"
                  + table.to_html(index=False, escape=True, na_rep=""))


def fault_injector(df: pd.DataFrame, check: Check, seed: int = 0) -> FaultInjector:
    """The fault-injector widget of lesson 01 (see :class:`FaultInjector`)."""
    return FaultInjector(df, check, seed=seed)
