import yaml

from mlkit.retraining import cicd


def test_generated_files_pass_the_structure_check(tmp_path):
    paths = cicd.write(tmp_path)
    assert cicd.check(tmp_path) == []
    assert list(yaml.safe_load(paths["dvc"].read_text())["stages"]) == ["validate", "train", "gate"]
    assert "&id" not in paths["workflow"].read_text()  # plain YAML, no anchors


def test_structure_check_finds_problems(tmp_path):
    paths = cicd.write(tmp_path)
    flow = yaml.safe_load(paths["workflow"].read_text())
    del flow["jobs"]["gate"]
    paths["workflow"].write_text(yaml.safe_dump(flow))
    params = tmp_path / "params.yaml"
    params.write_text("alpha: 1.0\n")
    problems = cicd.check(tmp_path)
    assert any("'gate'" in p for p in problems) and any("margin" in p for p in problems)
    assert cicd.check(tmp_path / "nowhere")[0].startswith("cannot read")
