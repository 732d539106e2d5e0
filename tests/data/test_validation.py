"""mlkit.data.validation: GX 1.x suites on the raw SMS table, the fault gallery, the gate, the widget."""

from __future__ import annotations

import pandas as pd
import pytest

gx = pytest.importorskip("great_expectations")
import great_expectations.expectations as gxe  # noqa: E402

from mlkit import datasets
from mlkit.data import ingest, validation  # noqa: E402


@pytest.fixture(scope="module")
def raw():
    sms = datasets.load_sms_spam().reset_index(names="id")
    parts = {"file": sms[sms.id % 2 == 0], "api": sms[sms.id % 2 == 1]}
    return ingest.merge_sources(parts)


@pytest.fixture(scope="module")
def suite(raw):
    mean = raw.n_chars.mean()
    return gx.ExpectationSuite(name="test_raw", expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=ingest.RAW_COLUMNS, exact_match=True),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"]),
        gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=1, max_value=1000),
        gxe.ExpectColumnMeanToBeBetween(column="n_chars", min_value=0.85 * mean, max_value=1.15 * mean),
    ])


def test_clean_batch_passes_and_the_table_reads_well(raw, suite):
    result = validation.validate(raw, suite)
    assert result.success
    table = validation.results_table(result)
    assert list(table.columns) == ["expectation", "success", "unexpected", "detail"]
    assert "column_values_to_not_be_null(text)" in set(table.expectation) and table.success.all()
    assert validation.failures(result).empty


@pytest.mark.parametrize("fault", list(validation.FAULTS))
def test_every_fault_is_caught_at_severity_02(raw, suite, fault):
    bad = validation.inject(raw, fault, severity=0.2, seed=1)
    assert not validation.validate(bad, suite).success
    assert validation.validate(raw, suite).success  # injecting copies; the original is untouched


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


def test_a_small_shift_slips_through_the_mean_expectation(raw, suite):
    assert validation.validate(validation.inject(raw, "shifted_distribution", 0.03), suite).success


def test_bad_fault_arguments_are_explained(raw):
    with pytest.raises(validation.MlkitError, match="Unknown fault"):
        validation.inject(raw, "gremlins")
    with pytest.raises(validation.MlkitError, match="between 0 and 1"):
        validation.inject(raw, "nulls", 1.5)


def test_fault_matrix_has_a_clean_row_and_catches_all(raw, suite):
    matrix = validation.fault_matrix(raw, suite, severity=0.2)
    assert list(matrix.index) == ["clean", *validation.FAULTS]
    assert not matrix.loc["clean"].any()
    assert matrix.drop(index="clean").caught.all()
    assert matrix.loc["unknown_category", "column_values_to_be_in_set(label)"]
    assert matrix.loc["duplicated_rows", "column_values_to_be_unique(id)"]


def test_gate_passes_good_data_and_refuses_bad_data_with_a_clear_message(raw, suite):
    assert validation.gate(raw, suite) is raw
    with pytest.raises(validation.DataValidationError) as info:
        validation.gate(validation.inject(raw, "unknown_category", 0.05), suite, name="today")
    msg = str(info.value)
    assert "'today'" in msg and "column_values_to_be_in_set(label)" in msg and "promo" in msg
    assert "nothing downstream ran" in msg
    assert list(info.value.failures.expectation) == ["column_values_to_be_in_set(label)"]


def test_gate_reports_a_missing_column(raw, suite):
    with pytest.raises(validation.DataValidationError, match='column "text"'):
        validation.gate(validation.inject(raw, "renamed_column"), suite)


def test_suite_round_trips_through_json(raw, suite, tmp_path):
    path = validation.save_suite(suite, tmp_path / "s" / "expectations.json")
    loaded = validation.load_suite(path)
    assert len(loaded.expectations) == len(suite.expectations)
    bad = validation.inject(raw, "nulls", 0.1)
    for batch in (raw, bad):
        a = validation.results_table(validation.validate(batch, suite))
        b = validation.results_table(validation.validate(batch, loaded))
        pd.testing.assert_series_equal(a.success, b.success)


def test_widget_button_changes_its_output_and_never_raises(raw, suite):
    box = validation.fault_injector(raw, suite)
    assert "mlkit-main" in box._dom_classes
    controls, out = box.children
    fault, severity, button = controls.children
    before = out.value
    button.click()
    assert out.value != before and "REFUSED" in out.value
    fault.value, severity.value = "clean", 0.0
    button.click()
    assert "PASSED" in out.value
    broken = validation.fault_injector(raw, suite=None)  # a bad suite: a message, not an exception
    broken.children[0].children[2].click()
    assert "Could not validate" in broken.children[1].value
