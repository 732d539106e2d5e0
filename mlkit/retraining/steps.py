"""Lesson 06: the retraining steps as commands, for ``dvc.yaml`` and CI (:mod:`mlkit.retraining.cicd`).

::

    python -m mlkit.retraining.steps validate data/bike.parquet
    python -m mlkit.retraining.steps train data/bike.parquet --alpha 1.0
    python -m mlkit.retraining.steps gate models/challenger.json --margin 0.02
    python -m mlkit.retraining.steps promote reports/gate.json

Each step calls what :class:`~mlkit.retraining.pipeline.RetrainingPipeline` calls (the Great
Expectations suite, :class:`~mlkit.training.bike.BikeModel`, :func:`mlkit.retraining.gate.decide`,
the registry methods), writes a JSON report, and exits 0 on success, 1 when the step says no
(invalid data, a blocked challenger), so CI stops there. Paths are relative to the working directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _write(path: str | Path, record: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def _model(path: str | Path) -> Any:
    from mlkit.training.bike import BikeModel

    return BikeModel.from_dict(json.loads(Path(path).read_text()))


def _champion(args: argparse.Namespace) -> Any:
    """The champion from a JSON file, or (``registry``) the course store's ``champion`` alias."""
    if args.champion != "registry":
        return _model(args.champion)
    from mlkit.course.store import Store
    from mlkit.retraining import pipeline

    return pipeline.RetrainingPipeline(Store(args.home), Path(args.workdir)).load("champion")


def validate(args: argparse.Namespace) -> int:
    """Lesson 01's gate with the bike suite, as :meth:`RetrainingPipeline.validate` runs it."""
    import pandas as pd

    from mlkit.course.errors import MlkitError
    from mlkit.data import validation
    from mlkit.retraining import pipeline

    frame = pd.read_parquet(args.data)
    try:
        validation.gate(frame, pipeline.bike_suite(), name=f"bike batch {args.data}")
    except MlkitError as exc:
        _write(args.report, {"passed": False, "rows": len(frame), "error": str(exc)})
        print(f"validation failed: {exc}", file=sys.stderr)
        return 1
    _write(args.report, {"passed": True, "rows": len(frame)})
    print(f"{args.data}: {len(frame)} rows pass the bike suite")
    return 0


def train(args: argparse.Namespace) -> int:
    """Fit the challenger (:meth:`BikeModel.fit`) and write it as JSON with its training error."""
    import pandas as pd

    from mlkit.retraining import gate
    from mlkit.training.bike import BikeModel

    frame = pd.read_parquet(args.data)
    model = BikeModel.fit(frame, alpha=args.alpha)
    _write(args.out, model.to_dict())
    _write(args.report, {"train_mae": gate.mae(frame["bikers"], model.predict(frame)), "train_rows": len(frame),
                         "alpha": args.alpha})
    print(f"challenger written to {args.out}")
    return 0


def gate_step(args: argparse.Namespace) -> int:
    """:func:`gate.decide` on the recent labelled rows; exit 1 when the challenger is blocked."""
    import pandas as pd

    from mlkit.retraining import gate

    if args.recent == "last-week":  # the last labelled week of the training data (lesson 06's CI)
        frame = pd.read_parquet(args.data)
        recent = frame[frame["week"] == frame["week"].max()]
    else:
        recent = pd.read_parquet(args.recent)
    champion, challenger = _champion(args), _model(args.challenger)
    d = gate.decide(recent["bikers"], champion.predict(recent), challenger.predict(recent), margin=args.margin)
    _write(args.report, {"promote": d.promote, "reasons": d.reasons, "champion_mae": d.champion_mae,
                         "challenger_mae": d.challenger_mae, "diff": d.diff.estimate, "diff_low": d.diff.low,
                         "diff_high": d.diff.high, "margin": args.margin})
    print(d)
    return 0 if d.promote else 1


def promote(args: argparse.Namespace) -> int:
    """Register the gated challenger in the course store and move ``champion`` to it, only if the gate passed."""
    from mlkit.course.store import Store
    from mlkit.data import versioning
    from mlkit.retraining import pipeline

    verdict = json.loads(Path(args.gate).read_text())
    if not verdict.get("promote"):
        print("not promoted, the gate blocked the challenger: " + "; ".join(verdict.get("reasons", [])),
              file=sys.stderr)
        return 1
    import pandas as pd

    pl = pipeline.RetrainingPipeline(Store(args.home), Path(args.workdir))
    release = pipeline.BikeRelease(args.tag, versioning.file_md5(Path(args.data)), Path(args.data))
    tags = {"git_commit": args.commit} if args.commit else None
    challenger = _model(args.challenger)  # the model the gate judged, logged as it is
    run_id, _ = pl.train(pd.read_parquet(args.data), release, alpha=challenger.alpha, tags=tags, model=challenger)
    version = pl.register(run_id, release, pl.champion(), tags=tags)
    pl.promote(version)
    print(f"version {version} of {pl.name} is the champion")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per step."""
    p = argparse.ArgumentParser(prog="python -m mlkit.retraining.steps", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("validate", help="check a training batch with the Great Expectations suite")
    s.add_argument("data")
    s.add_argument("--report", default="reports/validation.json")
    s.set_defaults(run=validate)
    s = sub.add_parser("train", help="fit the challenger")
    s.add_argument("data")
    s.add_argument("--alpha", type=float, default=1.0)
    s.add_argument("--out", default="models/challenger.json")
    s.add_argument("--report", default="reports/train.json")
    s.set_defaults(run=train)
    s = sub.add_parser("gate", help="challenger against champion on the recent labelled rows")
    s.add_argument("challenger")
    s.add_argument("--margin", type=float, default=0.02)
    s.add_argument("--champion", default="models/champion.json", help="a model JSON, or `registry`: model@champion")
    s.add_argument("--recent", default="data/recent.parquet", help="labelled rows, or `last-week` of --data")
    s.add_argument("--data", default="data/bike.parquet")
    s.add_argument("--report", default="reports/gate.json")
    s.add_argument("--home", default=None, help="the course home (default: $MLKIT_HOME)")
    s.add_argument("--workdir", default="reports")
    s.set_defaults(run=gate_step)
    s = sub.add_parser("promote", help="register and promote the challenger if the gate passed")
    s.add_argument("gate")
    s.add_argument("--challenger", default="models/challenger.json")
    s.add_argument("--data", default="data/bike.parquet")
    s.add_argument("--tag", default="ci")
    s.add_argument("--commit", default=None, help="the git commit it was built from (a lineage tag)")
    s.add_argument("--home", default=None, help="the course home (default: $MLKIT_HOME)")
    s.add_argument("--workdir", default="reports")
    s.set_defaults(run=promote)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one step; the exit code says whether CI goes on."""
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
