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


def test_the_ci_workflow_is_valid_and_a_typo_is_not(tmp_path):
    good, bad = tmp_path / "ci.yml", tmp_path / "bad.yml"
    good.write_text(cicd.CI_WORKFLOW)
    bad.write_text(cicd.CI_WORKFLOW.replace("runs-on:", "runs_on:", 1))
    found = cicd.validate_workflow(good, bad)
    assert found[str(good)] == [] and found[str(bad)]
    flow = yaml.safe_load(cicd.CI_WORKFLOW)
    assert list(flow["jobs"]) == [*cicd.PRE_JOBS, *cicd.POST_JOBS]
    assert flow["jobs"]["gate"]["needs"] == "test" and flow["jobs"]["promote"]["needs"] == "gate"


def test_a_degrading_push_is_rejected_and_an_improving_one_ships(tmp_path):
    """The bare remote's hooks run the workflow: alpha 10 is refused (main and the champion stay),
    alpha 0.1 is accepted (main moves, the champion is promoted, with the commit in its lineage)."""
    from mlkit.course.store import Store
    from mlkit.data import versioning
    from mlkit.retraining import pipeline, replay

    year, store = replay.load_stream(), Store(tmp_path / "course")
    pl = pipeline.RetrainingPipeline(store, tmp_path / "work")
    assert pl.retrain(replay.labelled_at(year, 25, 7, 8), None, "bike-w25").status == "promoted"
    assert cicd.add_training_code(pl.repo, data_tag="bike-w25")
    bare = cicd.attach_remote(pl.repo, store.root / "bike-data.git", store.home)
    head, champion = cicd.branch_head(bare), pl.champion()
    train = pl.repo / "train.py"

    train.write_text(cicd.TRAIN_PY.replace("ALPHA = 1.0", "ALPHA = 10.0"))
    versioning.sh(["git", "commit", "-qam", "worse"], pl.repo, echo=False)
    accepted, said = cicd.push(pl.repo)
    assert not accepted and "BLOCK" in said and "the push is rejected" in said, said
    assert cicd.branch_head(bare) == head and pl.champion() == champion

    versioning.sh(["git", "reset", "-q", "--hard", "HEAD~1"], pl.repo, echo=False)
    train.write_text(cicd.TRAIN_PY.replace("ALPHA = 1.0", "ALPHA = 0.1"))
    versioning.sh(["git", "commit", "-qam", "better"], pl.repo, echo=False)
    accepted, said = cicd.push(pl.repo)
    new = versioning.sh(["git", "rev-parse", "HEAD"], pl.repo, echo=False).strip()
    assert accepted and "PROMOTE" in said and "is the champion" in said, said
    assert cicd.branch_head(bare) == new and pl.champion() != champion
    row = pl.lineage().set_index("version").loc[pl.champion()]
    assert row["git_commit"] == new and row["data_tag"] == "bike-w25" and row["alpha"] == "0.1"


def test_a_step_runs_with_the_workflow_job_and_step_settings(tmp_path):
    """`env:` at the workflow, job and step level reaches the step, the innermost winning (the test step
    turns pytest's plugin autoloading off that way)."""
    workflow = {"env": {"A": "flow", "B": "flow"},
                "jobs": {"test": {"env": {"B": "job", "C": "job"},
                                  "steps": [{"name": "check", "env": {"C": 3},
                                             "run": 'test "$A,$B,$C" = "flow,job,3"'}]}}}
    (tmp_path / cicd.WORKFLOW_FILE).parent.mkdir(parents=True)
    (tmp_path / cicd.WORKFLOW_FILE).write_text(yaml.safe_dump(workflow))
    assert cicd.run_jobs(tmp_path, ("test",), {"PATH": "/usr/bin:/bin"}) == (True, ["CI test > check: ok"])
    step = yaml.safe_load(cicd.CI_WORKFLOW)["jobs"]["test"]["steps"][-1]
    assert step["env"] == {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
