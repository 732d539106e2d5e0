"""What each lesson claims about its key results, checked on the numbers it reports.

A lesson reports its key results with ``mlkit.report(...)``; its prose and its asserts say what
those numbers must be ("every fault caught", "the interval lies above 1", "the client sees
more"). ``CLAIMS`` below is that, one line per claim, in fast mode (the mode the tests run):
a Python expression over the reported names, and where in the lesson the claim comes from.
A lesson whose result silently breaks (a drift share that drops, a rollback that no longer
happens, a number that turns into ``nan``) then fails its test.

Used by both places that run a lesson in a test pass: ``tests/browser/test_lessons.py`` (the
lesson in JupyterLab) and ``tests/course/test_notebooks.py`` (the batch runner, when there is
no Chromium). Rules, checked by :func:`problems`:

- every claim must hold; a claim whose names the lesson does not report fails, unless the
  claim is marked ``owed`` (then the test names the lesson and the issue that owe it);
- every name a lesson reports must appear in at least one claim, so a new key result cannot
  go unchecked: add its line here, with the lesson's words for it.

To extend: add ``("expression", "why, in the lesson's words")`` to the lesson's list.
Expressions see the reported names, the builtins below, ``fullmatch(pattern, text)``, and the
facts of this machine in ``MACHINE`` (computed only when a claim uses one).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    expr: str
    why: str
    owed: str | None = None  # "issue 27": the names are not reported yet, and that issue adds them


def owed(issue: str, *claims: tuple[str, str]) -> list[Claim]:
    """Claims on key results a lesson does not report yet: skipped (and named) until it does."""
    return [Claim(expr, why, owed=issue) for expr, why in claims]


def _prometheus_installed() -> bool:
    from mlkit.monitoring import prom

    return prom.available()


def _sandbox_on_this_machine() -> str:
    from mlkit.grade import sandbox

    return sandbox.isolation()


# facts of the machine the lessons run on, for claims that depend on it
MACHINE: dict[str, Callable[[], Any]] = {
    "prometheus_installed": _prometheus_installed,
    "sandbox_on_this_machine": _sandbox_on_this_machine,
}
_BUILTINS = {name: getattr(builtins, name) for name in
             ("abs", "min", "max", "len", "round", "isinstance", "int", "float", "bool", "str", "all", "any")}
_HELPERS: dict[str, Any] = {**_BUILTINS, "fullmatch": lambda pattern, text: re.fullmatch(pattern, str(text)) is not None}

C = Claim
CLAIMS: dict[str, list[Claim]] = {
    "00_lifecycle_overview": [
        C("stages == 6", "section 2: six stages, and the loop's assert on the table"),
        C("datasets == 4", "section 5: four shipped data sets (SMS spam, UCI Adult, bike sharing, MNIST)"),
        C("0.85 < always_ham_accuracy < 0.9", "section 6: always-ham is right on about 87% (13% spam; assert > 0.85)"),
        C("summer_error_ratio_low > 1.2", "section 6: over the summer the whole 95% interval lies above 1 (assert > 1.2)"),
        C("summer_error_ratio_low <= summer_error_ratio <= summer_error_ratio_high",
          "section 6: the interval contains the ratio it is an interval for"),
        C("0 < july_relative_error_refitted < july_relative_error_stale",
          "section 6: in July the stale model is worse than the refitted one (asserted)"),
        C("months_stale_worse == 8", "section 6: worse in every month from May to December (8 of 8, asserted)"),
        C("challenges == 5", "section 7: the five infrastructure challenges"),
    ],
    "01_data": [
        C("abs(rows_ingested - 0.7 * 4862) < 1", "section 1: release 1 is 70% of the 4,862 messages"),
        C("api_retries > 0", "section 1: the API fails every 4th request, so the client retries (asserted)"),
        C("0.8 < labeler_kappa <= 1", "section 1: the keyword labeler's kappa is above 0.8 (asserted)"),
        C("328 <= duplicates_removed < 486",
          "section 2: at least the data set's 328 exact repeats (normalised text finds a few more), "
          "far fewer than a tenth of the messages"),
        C("0 < f1_naive_split - f1_dedup_split <= 0.1",
          "section 2: the naive score is higher by a few hundredths on average"),
        C("f1_dedup_split > 0.7", "section 2: TF-IDF + logistic regression still catches most spam without leakage"),
        C("faults_caught == '7/7'", "section 3: each of the seven faults is caught at severity 0.2 (asserted)"),
        C(r"fullmatch('[0-9a-f]{32}\.dir', release1_hash)", "section 4: DVC's md5 of the landing folder"),
        C("fullmatch('[0-9a-f]{32}', data_v1_hash)", "section 4: the course store's release v1, by its DVC md5"),
        C("parquet_size_ratio > 1", "section 5: Parquet is smaller (asserted)"),
        C("parquet_read_speedup > 1", "section 5: Parquet reads the whole table faster"),
        C("parquet_column_speedup > 2", "section 5: one column at least 2x faster (asserted)"),
        C("dask_partitions == 30", "section 5: one Parquet file per day, 30 days"),
        C("5 < skew_accuracy_drop < 30",
          "section 6: served through the rewritten feature, the model's MAE rises by more than 5 riders per hour "
          "(a loss increase: the bike model is scored by MAE, not accuracy; asserted > 5), back to about the "
          "error of the model without the feature (about 45)"),
        C("5 < pit_leak_inflation < 30",
          "section 6: the naive join makes the offline MAE look more than 5 riders per hour better than the "
          "point-in-time join's (asserted > 5), below the point-in-time MAE of about 34"),
        C("feature_store == 'duckdb'",
          "section 6: Feast 0.67 wants prometheus-client < 0.25, the lock pins 0.26; DuckDB's ASOF JOIN and a sqlite online table"),
    ],
    "02_training": [
        C("0.9 <= spam_f1 <= 1", "section 2: the MLP catches most spam, F1 >= 0.9 (asserted)"),
        C("0.85 <= baseline_f1 <= 1", "section 1: the tuned baseline, F1 >= 0.85 (asserted)"),
        C("0.8 < cnn_accuracy <= 1", "section 3: chance is 10%; the CNN is above 0.8 in fast mode (asserted)"),
        C("abs(ddp_accuracy - cnn_accuracy) < 0.05", "section 8: DDP reaches about the accuracy of one process (asserted)"),
        C("isinstance(champion_version, int) and champion_version >= 1", "section 5: a registered version"),
        C("0.85 <= champion_f1 <= 1", "section 5: the sweep's best, loaded back from the registry, catches most spam"),
        C("sweep_runs == 2", "section 4: the fast sweep's grid has two settings"),
        C("cnn_images_per_s > 0", "section 7: the CNN's measured speed feeds the FLOP estimate"),
        C("device in ('cpu', 'cuda', 'mps')", "set-up: the device the lesson trained on"),
    ],
    "03_evaluation": [
        C("isinstance(champion_version, int) and champion_version >= 1", "lesson 02's champion, from the store"),
        C("0.85 <= test_f1 <= 1", "section 1: the champion catches most spam on the held-out test set"),
        C("f1_ci_low <= test_f1 <= f1_ci_high", "section 4: the interval contains the point estimate (asserted)"),
        C("f1_ci_high - f1_ci_low > 0.02", "section 4: about a hundred spam messages in the test set: the interval is points of F1 wide"),
        C("runner_up_diff_ci_low <= runner_up_diff_ci_high", "section 4: an interval"),
        C("runner_up_significant == (runner_up_diff_ci_low > 0 or runner_up_diff_ci_high < 0)",
          "section 4: a winner whose interval crosses 0 is not one (asserted)"),
        C("0 <= mcnemar_p <= 1", "section 4: McNemar's exact p-value"),
        C("0.9 <= ndcg_at_10 <= 1", "section 3: at k = 10 the scores are at or near their maximum"),
        C("0.5 < map <= ndcg_at_10", "section 3: MAP is the stricter summary of the ranking"),
        C("bike_mae > 0 and 0 < bike_r2 <= 1", "section 2: a regression model that explains part of the variance"),
        C("ab_n_per_arm > 1000", "section 4: the A/B test needs several times our test set per arm"),
        C("0 <= dp_difference_after < dp_difference_before",
          "section 6: each mitigation narrows the demographic parity gap (asserted)"),
        C("0 <= behaviour_tests_failed <= 4", "section 5: four behaviour tests"),
        C("model_card_logged is True", "section 8: the card is attached to the champion's version (asserted)"),
    ],
    "04_deployment": [
        C("bluegreen_lost_requests == 0", "section 4: nothing is lost in the switch (asserted)"),
        C("canary_rolled_back is True", "section 6: the broken canary is rolled back (asserted)"),
        C("shadow_changed_responses == 0", "section 5: users never see the shadow's answer (asserted)"),
        C("shadow_disagreements >= 0", "section 5: a count; a small sample may show none"),
        C("requests_sent > 0 and requests_answered == requests_sent", "section 8: every request answered (asserted)"),
        C("p99_ms_direct > 0 and p99_ms_router > 0", "sections 2-3: measured latencies"),
        C("0 < router_throughput_ratio <= 1.5",
          "section 3: the router costs an extra hop (above 1 only by noise: 1.25 and 1.34 were seen on a "
          "loaded machine, where the two short load runs share the cores with other work)"),
        C("int8_speedup > 0", "section 7: measured before and after (whether it is faster depends on the CPU)"),
        C("champion_version != challenger_version", "section 1: blue and green serve two versions"),
        C("canary_rolled_back_on_business_metric is True",
          "section 6, a canary judged on what users do: green, fast and error-free but inverting 5 % of its "
          "answers, is rolled back on not-spam clicks per 1,000 messages (asserted)"),
        C("canary_errors_and_latency_ok is True",
          "section 6: when the business metric rolled green back, its error rate and p99 met the SLO (asserted)"),
        C("0 < liveness_p99_ms_off_loop < liveness_p99_ms_on_loop",
          "section 9: with the model off the event loop, /health/live stays quick under the largest batches "
          "(asserted)"),
    ],
    "05_monitoring": [
        C("prometheus_used == prometheus_installed", "section 2: the real Prometheus whenever it is installed"),
        C("p99_ms_from_buckets > 0 and p99_ms_measured > 0", "section 1: p99 from the buckets and from the log"),
        C("p99_ms_client >= p99_ms_measured",
          "section 1: the client sees more (network, parsing, waiting) than the handler, on the same requests"),
        C("drift_winter_vs_summer >= 0.5", "section 5: winter against summer is dataset drift (asserted)"),
        C("drift_within_month < 0.5", "section 5: odd against even days of July should not differ (asserted)"),
        C("0 <= false_alarm_rate_ks <= 0.05", "section 5: KS raises no more false alarms than its 5% level"),
        C("0.1 < false_alarm_rate_psi <= 1 and false_alarm_rate_psi > false_alarm_rate_ks",
          "section 5: PSI at 0.1 cries wolf on a large share of drift-free weeks"),
        C("latency_alert_fired is True and error_alert_fired is True", "section 3: each fault fires its alert (asserted)"),
        C("healthy_alerts_fired == 0", "section 3: healthy traffic fires none (asserted)"),
        C("prediction_drift_share == 1",
          "section 6: the campaign moves the inputs and the predictions: every watched column drifts"),
        C("log_records > 0", "section 4: one record per request"),
        C("min(p99_ms_serving_alone, p99_ms_training_beside, p99_ms_training_limited) > 0",
          "section 9: p99 measured in each of the three phases"),
        C("system_metrics_in_prometheus == prometheus_installed",
          "section 9: Prometheus scraped process_cpu_seconds_total of the server and the trainer (asserted)"),
        C("trace_spans >= 4", "section 10: one trace from the notebook through the router to featurize and predict"),
        C("slow_span_found == 'featurize'", "section 10: the slowest exemplar's trace names the slowed step (asserted)"),
    ],
    "06_retraining": [
        C("min(mae_drift_triggered, mae_performance_triggered) < mae_never",
          "section 2: the better trigger beats never retraining (asserted)"),
        C("max(mae_scheduled, mae_drift_triggered, mae_performance_triggered) < 0.75 * mae_never",
          "section 2: every retraining policy clearly beats never (issue 14: 78 against about 40)"),
        C("1 <= retrains_drift_triggered < 52", "section 2: the drift trigger retrains, less often than weekly (asserted)"),
        C("worse_challenger_promoted is False", "section 3: the gate blocks the stale challenger (asserted)"),
        C("rollback_restored_previous is True", "section 5: the rollback restores the version it replaced (asserted)"),
        C("lineage_complete is True", "section 5: every version's lineage is complete (asserted)"),
        C("failures_survived == 3", "section 4: a broken export, a training error and a failing canary (asserted)"),
        C("isinstance(dag_runs_succeeded, int) and 1 <= dag_runs_succeeded <= backfilled_weeks + 1",
          "section 6: the weekly DAG's runs succeed under dag.test (asserted), at most one per logical date"),
        C("dag_task_retries >= 1", "section 6: the injected transient failure is retried (asserted)"),
        C("backfilled_weeks >= 3", "section 6: the backfill covers weeks 24-26 (asserted)"),
        C("push_rejected_degraded is True",
          "section 7: the pre-receive hook refuses the push of alpha 10; main and the champion stay (asserted)"),
        C("push_accepted_improved is True",
          "section 7: the push of alpha 0.1 is accepted, main moves and the champion is promoted (asserted)"),
        C("workflow_schema_valid is True", "section 7: ci.yml validates against GitHub's workflow schema (asserted)"),
        C("isinstance(lesson06_prose_words, int) and lesson06_prose_words >= 1200",
          "the lesson's prose has at least 1,200 words (issue 27)"),
    ],
    "07_capstone_spam": [
        C("0.9 <= spam_f1 <= 1", "section 2: F1 on held-out data is at least 0.9 (asserted)"),
        C("0 < precision_at_required_recall <= 1", "section 3: the precision at the required recall of 0.9"),
        C("0 < p99_ms_router < 250", "section 4: p99 through the router within the fast-mode budget (asserted)"),
        C("campaign_drift_detected is True", "section 5: the campaign is detected as drift (asserted)"),
        C("0 <= campaign_recall_before and campaign_recall_before + 0.1 <= campaign_recall_after <= 1",
          "section 6: recall on the campaign recovers by at least 0.1 (asserted)"),
        C("isinstance(promoted_version, int) and promoted_version >= 2",
          "section 6: the retrained version is promoted through the canary (asserted)"),
    ],
    "instructor_grading": [
        C("notebooks_graded == 4 and learners == 4", "fast mode: a solved, an untouched, a wrong and a broken notebook"),
        C("ran_to_end == 3", "the broken one is not a notebook; the other three run to the end"),
        C("abs(q1_pass_rate - 1 / 3) < 0.01", "of the three that ran, only the solved one passes q1"),
        C("sandbox == sandbox_on_this_machine", "the sandbox says how strongly this machine can fence a notebook in"),
    ],
}
del C


def _names(expr: str) -> set[str]:
    return set(compile(expr, "<claim>", "eval").co_names)


def reported_names(lesson: str) -> set[str]:
    """Every result name some claim of ``lesson`` reads (its helpers and machine facts left out)."""
    return {n for c in CLAIMS.get(lesson, []) for n in _names(c.expr)} - set(_HELPERS) - set(MACHINE)


def problems(lesson: str, results: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(failures, notes) for one lesson's reported ``results``: a failed claim, a name the
    lesson owes without saying so, a reported name no claim bounds; notes list owed names."""
    if lesson not in CLAIMS:
        return [f"{lesson} has no claims in tests/key_results.py: add what its prose says of each key result"], []
    failures, notes, machine = [], [], {}
    for claim in CLAIMS[lesson]:
        names = _names(claim.expr) - set(_HELPERS)
        for fact in names & set(MACHINE):
            machine.setdefault(fact, MACHINE[fact]())
        missing = sorted(names - set(MACHINE) - set(results))
        if missing:
            if claim.owed:
                notes.append(f"{lesson} owes {', '.join(missing)} ({claim.owed}); not checked yet: {claim.expr}")
            else:
                failures.append(f"{lesson} does not report {', '.join(missing)}, needed by: {claim.expr} ({claim.why})")
            continue
        values = {n: results[n] for n in names if n in results}
        try:
            ok = eval(claim.expr, {"__builtins__": {}}, {**_HELPERS, **machine, **values})  # our own table, our own names
        except Exception as exc:  # noqa: BLE001 - a value of the wrong kind ("nan", None) fails the claim
            ok, values = False, {**values, "error": f"{type(exc).__name__}: {exc}"}
        if ok is not True:
            shown = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
            failures.append(f"{lesson}: {claim.expr} does not hold ({shown}); the lesson says: {claim.why}")
    unbounded = sorted(set(results) - reported_names(lesson))
    if unbounded:
        failures.append(f"{lesson} reports {', '.join(unbounded)}, which no claim bounds: add what the lesson "
                        "says of each to CLAIMS in tests/key_results.py")
    return failures, notes


def check(lesson: str, results: Mapping[str, Any]) -> list[str]:
    """Fail (AssertionError listing every failure) unless ``results`` meet ``lesson``'s claims;
    returns the notes on owed results, for the test to print."""
    failures, notes = problems(lesson, results)
    assert not failures, "key results do not match what the lesson claims:\n- " + "\n- ".join(failures)
    return notes
