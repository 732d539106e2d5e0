"""mlkit.deployment.business and the router's held ramp: the business gate holds until enough
matured evidence, rolls back a canary whose users rescue more messages from the spam folder
(though it is fast and error-free), passes an equal one given enough evidence; the simulated
clicks follow the real labels; a real router holds, advances and rolls back with a reason."""

from __future__ import annotations

import math
import statistics

import orjson
import pytest

from mlkit.course import http
from mlkit.deployment import business, launch, loadgen, rollout
from mlkit.deployment.business import Counts, Rule

RULE = Rule(min_messages=300, alpha=0.01, tolerance_per_1000=2.0)


def evidence(canary: tuple[int, int], blue: tuple[int, int]) -> dict[str, Counts]:
    """Counts with (clicks, matured) per version (messages = matured; flags do not matter here)."""
    return {"1": Counts(blue[1], 0, blue[1], blue[0], blue[0]), "2": Counts(canary[1], 0, canary[1], canary[0], canary[0])}


# ---------------------------------------------------------------------- the decision
def test_holds_until_the_canary_has_enough_matured_messages():
    v = business.judge(evidence((40, 299), (10, 9000)), blue="1", canary="2", rule=RULE)
    assert v.decision == "hold" and "299 of 300" in v.reason  # 134 per 1,000 but too few to judge
    assert math.isnan(v.diff_low)
    assert business.judge({}, blue="1", canary="2", rule=RULE).decision == "hold"  # nothing arrived yet


def test_rolls_back_a_canary_whose_users_click_not_spam_more():
    v = business.judge(evidence((12, 320), (10, 8000)), blue="1", canary="2", rule=RULE)
    assert v.decision == "rollback", v
    assert v.diff_low > 0 and v.canary_per_1000 == pytest.approx(37.5) and v.blue_per_1000 == pytest.approx(1.25)
    assert "320 canary messages" in v.reason and "99% CI" in v.reason


def test_holds_when_the_interval_straddles_zero():
    v = business.judge(evidence((2, 320), (10, 8000)), blue="1", canary="2", rule=RULE)  # 6.3 vs 1.3 per 1,000
    assert v.decision == "hold" and v.reason.startswith("undecided")
    assert v.diff_low < 0 < v.diff_high


def test_passes_a_canary_as_good_as_blue_only_with_much_evidence():
    few = business.judge(evidence((1, 1000), (19, 19000)), blue="1", canary="2", rule=RULE)
    many = business.judge(evidence((10, 10000), (190, 190000)), blue="1", canary="2", rule=RULE)
    assert few.decision == "hold" and many.decision == "pass", (few, many)
    assert many.diff_high < RULE.tolerance_per_1000


def test_messages_to_pass_is_the_smallest_count_that_passes():
    n = business.messages_to_pass(1.0, RULE)
    assert 1000 < n < 20000
    def judged(m: int) -> str:
        return business.judge(evidence((round(m / 1000), m), (round(19 * m / 1000), 19 * m)),
                              blue="1", canary="2", rule=RULE).decision
    assert judged(n) == "pass" and judged(int(n * 0.8)) == "hold"
    assert business.messages_to_pass(1.0, Rule(tolerance_per_1000=4.0)) < n  # a looser tolerance needs fewer
    with pytest.raises(ValueError):
        business.messages_to_pass(1.0, Rule(tolerance_per_1000=0))


def test_rate_interval_is_wilsons_per_1000():
    z = statistics.NormalDist().inv_cdf(1 - 0.01 / 2)
    low, high = business.rate_interval(0, 400, alpha=0.01)
    assert low == pytest.approx(0, abs=1e-9) and high == pytest.approx(1000 * z**2 / (400 + z**2))  # Wilson at 0
    p, n = 12 / 320, 320  # the textbook formula
    centre, half = (p + z**2 / (2 * n)) / (1 + z**2 / n), z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert business.rate_interval(12, 320) == pytest.approx((1000 * (centre - half), 1000 * (centre + half)))


# ---------------------------------------------------------------------- the simulated users
def answer(stream: business.Mailstream, i: int, labels: list[str], version: str = "2", status: int = 200) -> None:
    body = orjson.dumps({"predictions": [{"label": label} for label in labels]})
    stream.on_answer(i, loadgen.Sample(0.0, 1.0, status, version, f"user-{i}"), body)


def test_clicks_come_only_for_legitimate_messages_in_spam_within_the_window():
    texts, ham = ["a", "b", "c", "d"], [True, False, True, False]
    stream = business.Mailstream(texts, ham, batch=8, click_prob=0.5, mean_delay_s=0.2, window_s=0.4,
                                 bodies=300, seed=3)
    for i in range(300):
        answer(stream, i, ["spam"] * 8)  # everything flagged
    answer(stream, 0, ["spam"] * 8, status=500)  # a failed request delivers nothing
    rows = stream.deliveries
    assert len(rows) == 300 * 8
    clicked = [r for r in rows if r[4] != math.inf]
    assert clicked and all(r[2] for r in clicked)  # only legitimate messages are rescued
    assert all(0 <= r[4] - r[0] <= 0.4 for r in clicked)  # within the attribution window
    share = len(clicked) / sum(r[2] for r in rows)
    assert share == pytest.approx(0.5 * (1 - math.exp(-0.4 / 0.2)), abs=0.04)  # click_prob x P(delay <= window)
    t_last = max(r[0] for r in rows)
    early, final = stream.counts(now=t_last), stream.counts(now=t_last + 0.4)["2"]
    assert early["2"].matured < final.matured == 2400 and final.messages == final.flagged == 2400
    assert final.clicks == final.arrived == len(clicked)


def test_flagged_and_clicks_depend_on_what_was_served():
    stream = business.Mailstream(["a", "b"], [True, True], batch=4, bodies=10, seed=0)
    for i in range(10):
        answer(stream, i, ["ham"] * 4, version="1")
    counts = stream.counts(now=math.inf)["1"]
    assert counts.flagged == counts.clicks == 0 and counts.messages == 40
    table = business.table({"1": counts, "2": Counts(40, 8, 40, 2, 2)}, blue="1")
    assert table.loc["2", "flagged %"] == 20 and table.loc["2", "per 1,000"] == 50
    assert table.loc["2", "pp low"] < 20 < table.loc["2", "pp high"]


def test_mailstream_refuses_labels_that_do_not_match():
    with pytest.raises(ValueError, match="one label per message"):
        business.Mailstream(["a", "b"], [True])
    with pytest.raises(ValueError):
        business.Mailstream(["a"], [True], click_prob=0)


# ---------------------------------------------------------------------- a real router, held
@pytest.fixture(scope="module")
def router(servers):
    r = launch.start_router({"blue": servers["blue"].url, "green": servers["green"].url}, "blue")
    yield r
    r.stop()


@pytest.fixture(scope="module")
def sms():
    from mlkit.course import datasets

    return datasets.load_sms_spam().sample(800, random_state=0)


def test_a_held_ramp_waits_for_its_verdict_then_advances(router, messages):
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=10_000, min_requests=5)
    with pytest.raises(http.HttpError, match="no ramp is waiting"):
        http.call(router.url, "/admin/advance", {})
    with pytest.raises(http.HttpError, match="hold_s"):
        http.call(router.url, "/admin/ramp", {"backend": "green", "hold": True, "hold_s": 0})
    run = loadgen.start(router.url, messages, concurrency=2, duration=60)
    try:
        http.call(router.url, "/admin/ramp", {"backend": "green", "stage_s": 0.2, "slo": slo.to_dict(),
                                              "stages": [0.25, 1.0], "hold": True})
        ramp = wait_for(router, lambda r: r["status"] == "holding")
        assert ramp["stage"] == 0.25 and ramp["history"] == []  # the SLO passed; the ramp waits
        http.call(router.url, "/admin/advance", {})
        ramp = wait_for(router, lambda r: r["stage"] == 1.0)
        http.call(router.url, "/admin/rollback", {"reason": "users unhappy"})
    finally:
        run.stop()
    status = http.call(router.url, "/admin/status")
    assert status["ramp"]["status"] == "rolled_back" and status["primary"] == "blue" and status["canary"] is None
    assert status["ramp"]["reason"] == "stage 100%: users unhappy"
    assert [h["passed"] for h in status["ramp"]["history"]] == [True, False]


def test_a_held_ramp_without_a_verdict_rolls_back(router, messages):
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=10_000, min_requests=5)
    run = loadgen.start(router.url, messages, concurrency=2, duration=60)
    try:
        http.call(router.url, "/admin/ramp", {"backend": "green", "stage_s": 0.2, "slo": slo.to_dict(),
                                              "stages": [0.5, 1.0], "hold": True, "hold_s": 0.5})
        ramp = wait_for(router, lambda r: r["status"] == "rolled_back")
    finally:
        run.stop()
    assert ramp["reason"] == "stage 50%: no verdict within 0.5 s of holding", ramp
    assert http.call(router.url, "/admin/status")["primary"] == "blue"


def wait_for(router, condition, timeout: float = 30.0) -> dict:
    import time

    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        ramp = http.call(router.url, "/admin/status")["ramp"]
        if condition(ramp):
            return ramp
        time.sleep(0.05)
    raise AssertionError(f"the ramp never got there: {ramp}")


def test_a_fast_error_free_canary_is_rolled_back_on_the_business_metric(router, servers, sms):
    green = servers["green"]
    launch.admin(green, fault_bad_output_rate=0.3)  # 30 % of green's answers inverted, no error, no delay
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=10_000, min_requests=10)
    stream = business.Mailstream(sms.text, sms.label == "ham", batch=16, window_s=0.3, mean_delay_s=0.1, seed=1)
    run = loadgen.start(router.url, [], bodies=stream.bodies, path="/predict/batch", on_answer=stream.on_answer,
                        concurrency=4, duration=120)
    try:
        http.call(router.url, "/admin/ramp", {"backend": "green", "stage_s": 0.2, "slo": slo.to_dict(),
                                              "stages": [0.25, 1.0], "hold": True})
        verdict, looks = business.watch(router.url, stream, blue="1", canary="2",
                                        rule=Rule(min_messages=160), every_s=0.1, timeout_s=60)
    finally:
        result = run.stop()
        launch.admin(green, fault_bad_output_rate=0.0)
    ramp = http.call(router.url, "/admin/status")["ramp"]
    assert verdict.decision == "rollback" and ramp["status"] == "rolled_back", (verdict, ramp)
    assert ramp["reason"].startswith("stage 25%: business metric: not-spam clicks")
    assert (looks.decision.iloc[:-1] == "hold").all() and looks["canary matured"].iloc[-1] >= 160
    stage = ramp["history"][-1]
    assert stage["requests"] >= slo.min_requests  # the router had judged green: 160 matured messages are 10 requests
    assert rollout.breach(rollout.Window(stage["requests"], stage["errors"], stage["p99_ms"]), slo) is None
    assert result.failed == 0 and stage["errors"] == 0  # nothing a status code or latency gate could see
    counts = stream.counts()
    assert counts["2"].flagged / counts["2"].messages > counts["1"].flagged / counts["1"].messages
