"""mlkit.training.architectures: the course text's models against published parameter counts, and the table beside the calculator."""

import pytest

torch = pytest.importorskip("torch")

from mlkit.training import architectures  # noqa: E402


def test_published_parameter_counts():
    assert architectures.bert_base().params == 109_482_240          # Hugging Face bert-base-uncased
    assert architectures.llama_7b().params == 6_738_415_616         # LLaMA-7B
    assert architectures.resnet152().params == 60_192_808           # torchvision resnet152


def test_resnet152_flops_and_activations_are_in_the_known_range():
    spec = architectures.resnet152()
    assert 22e9 < spec.flops_per_sample < 24e9                  # ~11.6 GMACs per 224x224 image
    assert 100e6 < spec.activations_per_sample * 4 < 300e6      # ~0.2 GB of fp32 activations per image


def test_course_table_is_data_with_every_row_explained():
    table = architectures.course_table_comparison()
    assert list(table["course text"]) == [row["model"] for row in architectures.COURSE_TABLE]
    assert table["explanation"].str.len().gt(80).all()
    llm = table.set_index("course text").loc["LLM (7B params)"]
    assert llm["calculator (GB)"] == 84.5 and "over 100 GB only in mixed precision" in llm["explanation"]
    assert "138.4 GB in mixed" in llm["explanation"] and "27.0 GB" in llm["explanation"]
    r152 = table.set_index("course text").loc["Large CNN (ResNet-152)"]
    assert 12 <= r152["calculator (GB)"] <= 16                  # inside the text's 12-16 GB
