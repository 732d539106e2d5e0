"""mlkit.evaluation.card: every section, metrics with intervals, tables."""

from __future__ import annotations

import pandas as pd

from mlkit.evaluation import card, stats


def test_card_has_every_section_and_the_numbers():
    text = card.render(
        name="spam-classifier", version="3", details={"model": "MLP"}, intended_use="Flag spam for review.",
        out_of_scope="Deleting messages.", data={"release": "v1 (md5 abc)"},
        metrics={"F1": stats.Interval(0.94, 0.91, 0.97), "recall": 0.9123},
        slices=pd.DataFrame({"messages": [10], "recall": [0.5]}, index=["has a URL"]),
        behaviour=pd.DataFrame({"cases": [4], "passed": [False], "example": ["x"]}, index=["digits"]),
        fairness="Not applicable.", limitations=["Small data."])
    assert card.missing_sections(text) == []
    assert text.startswith("# Model card: spam-classifier, version 3")
    assert "0.940 (95% CI 0.910 to 0.970)" in text and "| recall | 0.912 |" in text
    assert "has a URL" in text and "digits" in text and "- Small data." in text
    assert "example" not in text.split("## Behaviour tests")[1].split("##")[0]
    assert card.missing_sections("# nothing") == list(card.SECTIONS)
