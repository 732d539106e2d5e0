"""The grader's half of every check: decide, in the grader's own process, from data alone.

For one lesson, :func:`make_request` draws the cases (each question's examples, and hidden
cases from the instructor's seed) and a nonce; the sandboxed notebook answers them
(:mod:`mlkit.grade.extract`); :func:`judge` reads each answer file and passes it to the
question's own :meth:`~mlkit.exercises.question.Question.verdict`, the same function that
judges the learner's instant check in the notebook. The learner's code is never imported or
called here, and nothing is unpickled: an answer file is JSON of bounded size, read without
following links, and anything malformed, forged (another nonce) or missing is a failed
question with its reason, never a crash of the grader.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

from mlkit.exercises import answers
from mlkit.exercises.lessons import questions_of
from mlkit.grade.extract import answer_path

NO_ANSWER = ("No answer came back for this question: its cells ran past their time limit, or the "
             "notebook's kernel stopped before the grader could ask.")


def make_request(lesson: str, seed: int | str, n_hidden: int = 1) -> dict[str, Any]:
    """The grading request of one notebook: a fresh nonce, and every question's cases."""
    return {"nonce": secrets.token_hex(16), "lesson": lesson,
            "questions": [{"name": q.name, "cases": q.cases(seed, n_hidden)} for q in questions_of(lesson)]}


def read_small(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None if there is none (a link,
    a pipe or a device is not followed). Raises MalformedRecord if it is larger."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limit:
            raise answers.MalformedRecord(f"the answer file is {info.st_size / 1e6:.0f} MB, over the "
                                          f"{limit / 1e6:.0f} MB allowed")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def judge(request: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """One result per question (question, title, status, message, note); [] when no answer
    came back at all (the notebook never reached its extraction cells)."""
    questions = {q.name: q for q in questions_of(request["lesson"])}
    results, any_answer = [], False
    for spec in request["questions"]:
        q = questions[spec["name"]]
        base = {"question": q.name, "title": q.title}
        try:
            raw = read_small(answer_path(out_dir, q.name), answers.MAX_BYTES)
            if raw is None:
                results.append({**base, "status": "failed", "message": NO_ANSWER, "note": ""})
                continue
            any_answer = True
            record = answers.loads(raw)
        except answers.MalformedRecord as exc:
            any_answer = True
            results.append({**base, "status": "failed", "message": f"The answer that came back is malformed: {exc}.",
                            "note": ""})
            continue
        if not isinstance(record, dict) or record.get("nonce") != request["nonce"] or record.get("question") != q.name:
            results.append({**base, "status": "failed", "note": "",
                            "message": "The answer file was not written for this grading run (wrong or missing "
                                       "nonce): a notebook cannot hand in answers of its own."})
            continue
        if "error" in record:
            results.append({**base, "status": "failed", "note": "",
                            "message": f"The grader could not ask this question: {str(record['error'])[:300]}"})
            continue
        try:
            verdict = q.verdict(record, spec["cases"], len(q.examples), from_file=True)
        except Exception as exc:  # noqa: BLE001 - the grader reports, whatever the answer holds
            results.append({**base, "status": "failed", "note": f"{type(exc).__name__}: {exc}"[:300],
                            "message": "The answer that came back could not be judged."})
            continue
        results.append({**base, "status": verdict.status, "message": verdict.message, "note": verdict.note})
    return results if any_answer else []
