"""mlkit.deployment.router, a real process in front of two real model servers: blue-green loses
no request, a broken canary is rolled back, shadow traffic leaves responses unchanged, routing is sticky."""

from __future__ import annotations

import time

import pytest

from mlkit.course import http
from mlkit.deployment import launch, loadgen, rollout


@pytest.fixture(scope="module")
def router(servers):
    r = launch.start_router({"blue": servers["blue"].url, "green": servers["green"].url}, "blue")
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def reset(router, servers):
    http.call(router.url, "/admin/switch", {"to": "blue"})
    yield
    http.call(router.url, "/admin/shadow", {"backend": None})
    launch.admin(servers["green"], {"fault_error_rate": 0.0})
    status = http.call(router.url, "/admin/status")
    if status["canary"]:
        http.call(router.url, "/admin/rollback", {})


def test_bluegreen_switch_under_load_loses_nothing(router, messages):
    run = loadgen.start(router.url, messages, concurrency=4, duration=2.0)
    time.sleep(0.8)
    status = http.call(router.url, "/admin/switch", {"to": "green"})
    assert status["primary"] == "green" and status["previous"] == "blue"
    result = run.wait()
    assert result.sent > 0 and result.answered == result.sent
    assert set(result.by_version()) == {"1", "2"}
    assert http.call(router.url, "/admin/rollback", {})["primary"] == "blue"


def test_broken_canary_is_rolled_back(router, servers, messages):
    launch.admin(servers["green"], {"fault_error_rate": 0.5})
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=10_000, min_requests=10)
    http.call(router.url, "/admin/ramp", {"backend": "green", "stage_s": 0.3, "slo": slo.to_dict()})
    result = loadgen.run(router.url, messages, concurrency=4, requests=600)
    ramp = http.call(router.url, "/admin/status")["ramp"]
    assert ramp["status"] == "rolled_back", ramp
    assert ramp["history"][-1]["stage"] == 0.05 and "error rate" in ramp["reason"]
    assert http.call(router.url, "/admin/status")["primary"] == "blue"
    assert 0 < result.failed <= 0.05 * result.sent  # the users paid little for the broken build


def test_healthy_canary_is_promoted(router, messages):
    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=10_000, min_requests=5)
    run = loadgen.start(router.url, messages, concurrency=4, duration=60)
    t0 = time.monotonic()
    status = http.call(router.url, "/admin/ramp", {"backend": "green", "stage_s": 0.2, "slo": slo.to_dict(),
                                                   "stages": [0.25, 1.0], "wait": True}, timeout=120)
    result = run.stop()
    assert status["ramp"]["status"] == "promoted" and status["primary"] == "green"  # answered once decided
    assert time.monotonic() - t0 >= 0.4  # two stages of 0.2 s each
    assert [h["stage"] for h in status["ramp"]["history"]] == [0.25, 1.0]
    assert result.failed == 0


def test_shadow_leaves_responses_unchanged(router, servers, messages):
    http.call(router.url, "/admin/shadow", {"backend": "green"})
    sample = messages[:100]
    via = [http.call(router.url, "/predict", {"text": t}) for t in sample]
    stats = http.call(router.url, "/admin/shadow", {"backend": None})["shadow_stats"]  # waits for the copies
    alone = [http.call(servers["blue"].url, "/predict", {"text": t}) for t in sample]
    strip = lambda r: (r["label"], r["spam_probability"], r["model_version"])  # noqa: E731
    assert [strip(r) for r in via] == [strip(r) for r in alone]
    assert stats["requests"] == len(sample) and stats["errors"] == 0
    green = [http.call(servers["green"].url, "/predict", {"text": t})["label"] for t in sample]
    assert stats["disagreements"] == sum(a["label"] != g for a, g in zip(alone, green))


def test_sticky_weighted_canary(router, messages):
    http.call(router.url, "/admin/canary", {"backend": "green", "weight": 0.3})
    result = loadgen.run(router.url, messages, concurrency=4, requests=600, users=60)
    seen: dict[str, set] = {}
    for s in result.samples:
        seen.setdefault(s.user, set()).add(s.version)
    assert all(len(v) == 1 for v in seen.values())
    on_canary = {u for u, v in seen.items() if v == {"2"}}
    assert on_canary == {u for u in seen if rollout.goes_to_canary(u, 0.3)}


def test_admin_rejects_bad_settings(router):
    for path, body, says in [("/admin/switch", {"to": "purple"}, "must be one of"),
                             ("/admin/canary", {"backend": "green", "weight": 2}, "weight"),
                             ("/admin/canary", {"backend": "blue", "weight": 0.1}, "not the primary"),
                             ("/admin/ramp", {"backend": "green", "stages": [0, 2]}, "stages"),
                             ("/admin/ramp", {"backend": "green", "slo": {"nope": 1}}, "bad ramp settings"),
                             ("/admin/ramp", {"backend": "green", "wait": "yes"}, "'wait' must be true"),
                             ("/admin/promote", {}, "no canary")]:
        with pytest.raises(http.HttpError, match="400") as info:
            http.call(router.url, path, body)
        assert says in str(info.value)


def test_router_settings_from_the_environment(monkeypatch):
    from mlkit.deployment.router import RouterSettings

    monkeypatch.setenv("MLKIT_ROUTER_BACKENDS", '{"blue": "http://127.0.0.1:1", "green": "http://127.0.0.1:2"}')
    monkeypatch.setenv("MLKIT_ROUTER_PRIMARY", "green")
    got = RouterSettings.read()
    assert got.backends == {"blue": "http://127.0.0.1:1", "green": "http://127.0.0.1:2"} and got.primary == "green"
    for bad in ("{not json", "{}"):
        monkeypatch.setenv("MLKIT_ROUTER_BACKENDS", bad)
        with pytest.raises(SystemExit, match="Set MLKIT_ROUTER_BACKENDS to a JSON object"):
            RouterSettings.read()
