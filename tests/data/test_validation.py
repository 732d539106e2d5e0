"""mlkit.data.validation: the learner's GX check drives the gate, the fault matrix, the sweep and the widget."""

from __future__ import annotations

import pandas as pd
import pytest

gx = pytest.importorskip("great_expectations")
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from mlkit.course import datasets  # noqa: E402
from mlkit.data import ingest, validation  # noqa: E402


@pytest.fixture(scope="module")
def raw():
    sms = datasets.load_sms_spam().reset_index(names="id")
    parts = {"file": sms[sms.id % 2 == 0], "api": sms[sms.id % 2 == 1]}
    return ingest.merge_sources(parts)


def _expectations(raw):
    mean = raw.n_chars.mean()
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=ingest.RAW_COLUMNS, exact_match=True),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"]),
        gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=1, max_value=1000),
        gxe.ExpectColumnMeanToBeBetween(column="n_chars", min_value=0.85 * mean, max_value=1.15 * mean),
    ]


@pytest.fixture(scope="module")
def check(raw):
    """Built as the lesson's notebook builds check_raw: the learner's own context and definition."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (context.data_sources.add_pandas("sms").add_dataframe_asset("raw")
                 .add_batch_definition_whole_dataframe("each_delivery"))
    suite = context.suites.add_or_update(gx.ExpectationSuite(name="test_raw", expectations=_expectations(raw)))
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name="check_raw", data=batch_def, suite=suite))


@pytest.fixture(scope="module")
def suite(raw):
    return gx.ExpectationSuite(name="bare", expectations=_expectations(raw))


@pytest.fixture
def runs(monkeypatch):
    """Every ValidationDefinition run during a test, as the definition objects that ran."""
    ran = []
    real = gx.ValidationDefinition.run

    def run(self, **kw):
        ran.append(self)
        return real(self, **kw)

    monkeypatch.setattr(gx.ValidationDefinition, "run", run)
    return ran


def test_clean_batch_passes_and_the_table_reads_in_words(raw, check):
    result = validation.validate(raw, check)
    assert result.success
    table = validation.results_table(result)
    assert list(table.columns) == ["expectation", "result", "unexpected", "detail"]
    assert "column_values_to_not_be_null(text)" in set(table.expectation)
    assert set(table.result) == {"passed"}
    assert validation.failures(result).empty


def test_the_learners_check_is_the_one_every_helper_runs(raw, check, runs):
    validation.gate(raw, check)
    validation.fault_matrix(raw, check, faults=["nulls"])
    validation.severity_sweep(raw, check, rates=[0.01], faults=["nulls"])
    validation.FaultInjector(raw, check).click()
    assert len(runs) == 1 + 2 + 1 + 1 and all(r is check for r in runs)


def test_a_bare_suite_gets_its_own_check_and_leaves_the_learners_working(raw, check, suite):
    assert validation.validate(raw, suite).success          # builds a second context, once
    assert validation.as_check(suite) is validation.as_check(suite)
    assert validation.validate(raw, check).success           # the learner's check still runs
    with pytest.raises(validation.MlkitError, match="ValidationDefinition"):
        validation.validate(raw, "my suite")


@pytest.mark.parametrize("fault", list(validation.FAULTS))
def test_every_fault_is_caught_at_severity_02(raw, check, fault):
    bad = validation.inject(raw, fault, severity=0.2, seed=1)
    assert not validation.validate(bad, check).success
    assert validation.validate(raw, check).success  # injecting copies; the original is untouched


def test_faults_do_what_they_say(raw):
    n = len(raw)
    assert validation.inject(raw, "nulls", 0.1).text.isna().sum() == round(0.1 * n)
    assert (validation.inject(raw, "unknown_category", 0.1).label == "promo").sum() == round(0.1 * n)
    assert "message" in validation.inject(raw, "renamed_column").columns
    assert "label" not in validation.inject(raw, "missing_column").columns
    assert len(validation.inject(raw, "duplicated_rows", 0.1)) == n + round(0.1 * n)
    assert validation.inject(raw, "out_of_range", 0.1).n_chars.max() > 2000
    assert validation.inject(raw, "shifted_distribution", 0.3).n_chars.mean() > 1.2 * raw.n_chars.mean()
    assert validation.inject(raw, "nulls", 0.0).equals(raw)


def test_bad_fault_arguments_are_explained(raw):
    with pytest.raises(validation.MlkitError, match="Unknown fault"):
        validation.inject(raw, "gremlins")
    with pytest.raises(validation.MlkitError, match="between 0 and 1"):
        validation.inject(raw, "nulls", 1.5)


def test_fault_matrix_speaks_in_words(raw, check):
    matrix = validation.fault_matrix(raw, check, severity=0.2)
    assert list(matrix.index) == ["clean", *validation.FAULTS]
    assert list(matrix.columns[-2:]) == ["verdict", "caught"]
    cells = matrix.drop(columns=["verdict", "caught"])
    assert set(cells.stack()) == {"caught", "passed"}
    assert (cells.loc["clean"] == "passed").all() and matrix.loc["clean", "verdict"] == "passed"
    assert (matrix.drop(index="clean").verdict == "caught").all() and matrix.drop(index="clean").caught.all()
    assert matrix.loc["unknown_category", "column_values_to_be_in_set(label)"] == "caught"
    assert matrix.loc["duplicated_rows", "column_values_to_be_unique(id)"] == "caught"
    assert matrix.loc["duplicated_rows", "column_values_to_not_be_null(text)"] == "passed"


def test_severity_sweep_finds_the_fault_that_slips_through_at_low_rates(raw, check):
    sweep = validation.severity_sweep(raw, check, rates=(0.2, 0.01, 0.05), seed=0)
    assert list(sweep.columns) == ["1%", "5%", "20%", "lowest_rate_caught", "caught_by"]
    assert list(sweep.index) == list(validation.FAULTS)
    at_1 = sweep["1%"]
    assert set(at_1[at_1 == "slipped through"].index) == {"shifted_distribution"}
    assert sweep.loc["shifted_distribution", "5%"] == "slipped through"
    assert sweep.loc["shifted_distribution", "20%"] == "caught"
    assert sweep.loc["shifted_distribution", "lowest_rate_caught"] == 0.2
    assert sweep.loc["shifted_distribution", "caught_by"] == "column_mean_to_be_between(n_chars)"
    assert sweep.loc["nulls", "caught_by"] == "column_values_to_not_be_null(text)"


def test_a_check_that_misses_a_fault_makes_the_sweep_say_so(raw):
    lenient = gx.ExpectationSuite(name="lenient", expectations=[gxe.ExpectColumnValuesToNotBeNull(column="text")])
    sweep = validation.severity_sweep(raw, lenient, rates=[0.05], faults=["nulls", "unknown_category"])
    assert sweep["5%"].to_dict() == {"nulls": "caught", "unknown_category": "slipped through"}
    assert pd.isna(sweep.loc["unknown_category", "lowest_rate_caught"])
    matrix = validation.fault_matrix(raw, lenient, faults=["unknown_category"])
    assert matrix.loc["unknown_category", "verdict"] == "slipped through"


def test_gate_passes_good_data_and_refuses_bad_data_with_a_clear_message(raw, check):
    assert validation.gate(raw, check) is raw
    with pytest.raises(validation.DataValidationError) as info:
        validation.gate(validation.inject(raw, "unknown_category", 0.05), check, name="today")
    msg = str(info.value)
    assert "'today'" in msg and "column_values_to_be_in_set(label)" in msg and "promo" in msg
    assert "nothing downstream ran" in msg
    assert list(info.value.failures.expectation) == ["column_values_to_be_in_set(label)"]


def test_gate_reports_a_missing_column(raw, check):
    with pytest.raises(validation.DataValidationError, match='column "text"'):
        validation.gate(validation.inject(raw, "renamed_column"), check)


def test_suite_round_trips_through_json_as_expectation_dicts(raw, check, tmp_path):
    path = validation.save_suite(check, tmp_path / "s" / "expectations.json")
    assert '"type": "expect_column_values_to_be_unique"' in path.read_text()
    loaded = validation.load_suite(path)
    assert isinstance(loaded, gx.ExpectationSuite) and len(loaded.expectations) == len(check.suite.expectations)
    bad = validation.inject(raw, "nulls", 0.1)
    for batch in (raw, bad):
        a = validation.results_table(validation.validate(batch, check))
        b = validation.results_table(validation.validate(batch, loaded))
        pd.testing.assert_series_equal(a.result, b.result)


def test_a_broken_suite_file_is_refused(tmp_path):
    path = tmp_path / "expectations.json"
    path.write_text('{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", '
                    '"kwargs": {}}]}')  # no column
    with pytest.raises(validation.MlkitError, match="not valid"):
        validation.load_suite(path)


def test_widget_button_changes_its_text_and_never_raises(raw, check):
    panel = validation.fault_injector(raw, check)
    assert isinstance(panel, validation.FaultInjector)
    assert panel.classes == ("mlkit-main",) and panel.first_button is panel.button
    before = panel.text
    assert "REFUSED" in panel.click() and panel.text != before
    panel.fault.value, panel.severity.value = "clean", 0.0
    assert "PASSED" in panel.click() and panel.errors == []
    broken = validation.FaultInjector(raw, check=None)  # a bad check: a message, not an exception
    assert "Could not validate" in broken.click() and len(broken.errors) == 1
