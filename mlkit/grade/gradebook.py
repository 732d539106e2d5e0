"""The gradebook: one row per learner and question, a summary per question, feedback per learner.

``gradebook.csv`` is the instructor's: its ``note`` column holds what a question's judge said
about a hidden case. The feedback files are the learners': each question's status and
message only, which for a hidden case shows the learner's own result, never the hidden
inputs or the reference answer.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["learner", "lesson", "file", "question", "title", "status", "message", "note", "notebook_status",
           "reason", "ran_to_end", "seconds", "cpu_s", "sandbox", "peak_processes", "peak_memory_mb"]


def rows(results: list[dict]) -> list[dict]:
    """Flatten the per-submission results: one row per question (or one row when none ran)."""
    out = []
    for r in results:
        base = {"learner": r["learner"], "lesson": r.get("lesson") or "?", "file": r["file"],
                "notebook_status": r["status"], "reason": r["reason"], "ran_to_end": bool(r.get("ran_to_end")),
                "seconds": r.get("seconds"), "cpu_s": r.get("cpu_s"), "sandbox": r.get("sandbox", ""),
                "peak_processes": r.get("peak_processes"), "peak_memory_mb": r.get("peak_memory_mb")}
        questions = r.get("questions") or []
        if not questions:
            out.append({**base, "question": "", "title": "", "status": r["status"], "message": r["reason"],
                        "note": ""})
        for q in questions:
            out.append({**base, "question": q["question"], "title": q["title"], "status": q["status"],
                        "message": q["message"], "note": q.get("note", "")})
    return out


def frame(results: list[dict]) -> pd.DataFrame:
    """The gradebook as a DataFrame (the columns of gradebook.csv)."""
    import pandas as pd

    return pd.DataFrame(rows(results), columns=COLUMNS)


def summary(book: pd.DataFrame) -> pd.DataFrame:
    """Per lesson and question: submissions, pass rate, and the most common mistake message."""
    import pandas as pd

    graded = book[book.question != ""]
    out = []
    for (lesson, question), g in graded.groupby(["lesson", "question"], sort=True):
        mistakes = Counter(g.message[g.status == "failed"])
        common = mistakes.most_common(1)
        out.append({"lesson": lesson, "question": question, "title": g.title.iloc[0], "submissions": len(g),
                    "pass_rate": round(float((g.status == "passed").mean()), 3),
                    "not_started": int((g.status == "not started").sum()),
                    "most_common_mistake": f"{common[0][0]} ({common[0][1]}x)" if common else ""})
    return pd.DataFrame(out, columns=["lesson", "question", "title", "submissions", "pass_rate", "not_started",
                                      "most_common_mistake"])


def pass_rate_figure(table: pd.DataFrame):
    """A bar chart of the pass rate per question (closed: ``display(fig)`` shows it once)."""
    import matplotlib.pyplot as plt  # pyplot sets up the notebook's inline display of figures

    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(table) + 2), 3.2))
    labels = [f"{lesson[:2]} {q}" for lesson, q in zip(table.lesson, table.question)]
    ax.bar(labels, table.pass_rate, color="tab:green")
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate")
    ax.set_title("Pass rate per question")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    plt.close(fig)
    return fig


def write(results: list[dict], out_dir: Path, seed: int | str | None = None) -> dict[str, Path]:
    """gradebook.csv, summary.csv, summary.html (with the plot), feedback/<learner>_<lesson>.md,
    and seed.txt (the seed of the hidden cases: keep it from the learners)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    book = frame(results)
    table = summary(book)
    paths = {"gradebook": out_dir / "gradebook.csv", "summary": out_dir / "summary.csv",
             "html": out_dir / "summary.html", "feedback": out_dir / "feedback", "seed": out_dir / "seed.txt"}
    if seed is not None:
        paths["seed"].write_text(f"{seed}\n")
    book.to_csv(paths["gradebook"], index=False)
    table.to_csv(paths["summary"], index=False)
    buf = io.BytesIO()
    pass_rate_figure(table).savefig(buf, format="png", dpi=100)
    img = base64.b64encode(buf.getvalue()).decode()
    notebooks = book.drop_duplicates(["learner", "file"])
    paths["html"].write_text(
        "<!doctype html><meta charset='utf-8'><title>mlkit gradebook</title>"
        f"<h1>Gradebook</h1><p>{notebooks.learner.nunique()} learners, {len(notebooks)} notebooks.</p>"
        f"<img alt='pass rate per question' src='data:image/png;base64,{img}'>"
        + table.to_html(index=False, escape=True)
        + "<h2>Notebooks</h2>"
        + notebooks[["learner", "lesson", "file", "notebook_status", "reason", "seconds", "sandbox"]].to_html(
            index=False, escape=True))
    paths["feedback"].mkdir(exist_ok=True)
    for (learner, lesson, file), g in book.groupby(["learner", "lesson", "file"], sort=True):
        lines = [f"# Feedback for {learner}: {lesson} ({file})", "", f"Notebook: {g.reason.iloc[0]}.", ""]
        for _, row in g[g.question != ""].iterrows():
            lines.append(f"- **{row.question} {row.title}**: {row.status}. {row.message}")
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{learner}_{lesson}_{Path(file).stem}")
        (paths["feedback"] / f"{name}.md").write_text("\n".join(lines) + "\n")
    return paths


def text_table(table: pd.DataFrame) -> str:
    """The summary as a plain-text table for the terminal."""
    from tabulate import tabulate

    if table.empty:
        return "No question could be graded: see each notebook's reason in gradebook.csv."
    shown = table.assign(pass_rate=(table.pass_rate * 100).round().astype(int).astype(str) + "%",
                         most_common_mistake=table.most_common_mistake.str.slice(0, 60))
    return tabulate(shown.drop(columns=["title"]), headers="keys", tablefmt="simple", showindex=False)
