"""Lesson 01: the DVC pipeline ``ingest -> validate -> featurize``: its ``dvc.yaml`` and its stage commands.

:data:`DVC_YAML` and :data:`PARAMS_YAML` are the pipeline's files, written once here: the
lesson writes them into its demo repository and shows them (``cat dvc.yaml``), the tests run
them. ``dvc.yaml`` calls ``python -m mlkit.data.pipeline STAGE``;
each stage asks DVC for the parameters ``dvc.yaml`` declares for it
(``dvc.api.params_show(stages=STAGE)``), so a stage sees exactly what DVC tracks for it:

- ``ingest``: the landed extracts in ``landing/`` -> ``data/raw.parquet``
- ``validate``: ``data/raw.parquet`` and the suite ``expectations.json`` ->
  ``data/validated.parquet`` and ``reports/validation.json``; exits 1 on bad data (the gate)
- ``featurize``: ``data/validated.parquet`` -> ``data/features.parquet`` and ``reports/features.json``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DVC_YAML = """\
stages:
  ingest:
    cmd: python -m mlkit.data.pipeline ingest
    deps: [landing]
    params: [ingest.sources]
    outs: [data/raw.parquet]
  validate:
    cmd: python -m mlkit.data.pipeline validate
    deps: [data/raw.parquet, expectations.json]
    outs: [data/validated.parquet]
    metrics: [{reports/validation.json: {cache: false}}]
  featurize:
    cmd: python -m mlkit.data.pipeline featurize
    deps: [data/validated.parquet]
    params: [featurize.dedup, featurize.min_chars]
    outs: [data/features.parquet]
    metrics: [{reports/features.json: {cache: false}}]
"""
PARAMS_YAML = """\
ingest:
  sources: [file, sqlite, api]
featurize:
  dedup: true
  min_chars: 1
"""


def _params(stage: str) -> dict:
    """The parameters ``dvc.yaml`` declares for ``stage``, as DVC reads them (nested dicts)."""
    import dvc.api
    from dvc.exceptions import DvcException

    from mlkit.course.errors import MlkitError

    try:
        return dvc.api.params_show(stages=stage)
    except DvcException as exc:  # not a DVC repository, no dvc.yaml, no such stage...
        raise MlkitError(f"Cannot read the parameters of stage {stage!r} from DVC ({type(exc).__name__}: {exc}). "
                         "Run the stage with `dvc repro` inside the DVC repository whose dvc.yaml "
                         "declares it.") from None


def _write_json(path: str, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def ingest() -> None:
    from mlkit.data import ingest as ing

    frames = ing.read_landing("landing")
    wanted = _params("ingest").get("ingest", {}).get("sources") or list(frames)
    raw = ing.merge_sources({name: frames[name] for name in wanted if name in frames})
    Path("data").mkdir(exist_ok=True)
    raw.to_parquet("data/raw.parquet", index=False)
    print(f"ingest: {len(raw)} rows from {', '.join(wanted)}")


def validate() -> None:
    import pandas as pd

    from mlkit.data import validation

    raw = pd.read_parquet("data/raw.parquet")
    check = validation.check_for(validation.load_suite("expectations.json"), name="check_raw")
    result = validation.validate(raw, check)
    stats = result.statistics
    _write_json("reports/validation.json", {"success": bool(result.success),
                                            "evaluated": int(stats["evaluated_expectations"]),
                                            "failed": int(stats["unsuccessful_expectations"])})
    validation.gate(raw, check, "data/raw.parquet")  # raises: dvc repro stops here
    raw.to_parquet("data/validated.parquet", index=False)
    print(f"validate: {len(raw)} rows passed {stats['evaluated_expectations']} expectations")


def featurize() -> None:
    import pandas as pd

    from mlkit.data import prep

    params = _params("featurize").get("featurize", {})
    df = prep.clean(pd.read_parquet("data/validated.parquet"))
    removed = 0
    if params.get("dedup", True):
        df, removed = prep.dedupe(df)
    df = df[df["text"].str.len() >= int(params.get("min_chars", 1))]
    feats = prep.add_features(df)[["id", *prep.FEATURES, "is_spam"]]
    feats.to_parquet("data/features.parquet", index=False)
    _write_json("reports/features.json", {"rows": len(feats), "duplicates_removed": removed,
                                          "spam_share": round(float(feats["is_spam"].mean()), 4)})
    print(f"featurize: {len(feats)} rows, {removed} duplicates removed")


STAGES = {"ingest": ingest, "validate": validate, "featurize": featurize}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in STAGES:
        print(f"usage: python -m mlkit.data.pipeline {{{'|'.join(STAGES)}}}", file=sys.stderr)
        return 2
    from mlkit.course.errors import MlkitError

    try:
        STAGES[args[0]]()
    except MlkitError as exc:
        print(f"error in stage {args[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
