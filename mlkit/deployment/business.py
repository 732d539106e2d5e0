"""A canary judged on what users do, not only on errors and latency (lesson 04).

A spam filter can answer every request fast and with a 200 and still hurt its users: each
legitimate message it puts in the spam folder is one a user may miss. Some users notice, open
the folder and click "not spam"; those clicks are the business signal, and they come late.

* :class:`Mailstream` delivers messages of the SMS data (their real labels known) to users in
  batches, through the router, as load (it gives :func:`mlkit.deployment.loadgen.start` the
  request ``bodies`` and reads each answer with ``on_answer``). For every legitimate message
  that the serving version flagged as spam, the user clicks "not spam" with probability
  ``click_prob``, after a random delay (exponential, mean ``mean_delay_s``); a click later than
  ``window_s`` after delivery never happens (the attribution window).
* :meth:`Mailstream.counts` is the evidence at one moment, per version: messages, flagged,
  and the clicks of the messages whose window has closed (*matured*): only for those is the
  count final. :func:`table` adds the intervals (statsmodels).
* :func:`judge` decides: hold until the canary has ``min_messages`` matured messages, then
  roll back when the canary's click rate is above blue's with confidence, pass when it is
  within ``tolerance_per_1000`` of blue's with confidence, else hold for more evidence.
* :func:`watch` looks at the evidence every ``every_s`` seconds while a held ramp runs
  (``POST /admin/ramp`` with ``"hold": true``, :mod:`mlkit.deployment.router`), and tells the
  router the verdict: ``/admin/advance`` or ``/admin/rollback`` with the reason.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.deployment.loadgen import Sample


@dataclass(frozen=True)
class Counts:
    """One version's evidence at one moment: messages delivered and flagged as spam; of the
    matured ones (click window closed), how many and their "not spam" clicks; and all clicks
    that have arrived so far, matured or not."""

    messages: int
    flagged: int
    matured: int
    clicks: int
    arrived: int


class Mailstream:
    """Messages delivered to users through a router, and the "not spam" clicks that follow.

    Args:
        texts: the messages (e.g. the test split of lesson 01's SMS release).
        ham: for each message, True when it is legitimate (its real label).
        batch: messages per request (a user's new mail, scored with ``/predict/batch``).
        click_prob: the chance that a user rescues a legitimate message put in spam.
        mean_delay_s: mean delay of a click after delivery (exponential).
        window_s: clicks later than this after delivery do not happen.
        bodies: how many different request bodies to draw (sent in turn).
        seed: seeds which messages each request carries and the clicks.
    """

    def __init__(self, texts: Sequence[str], ham: Sequence[bool], *, batch: int = 16, click_prob: float = 0.5,
                 mean_delay_s: float = 0.3, window_s: float = 1.0, bodies: int = 2000, seed: int = 0) -> None:
        import numpy as np
        import orjson

        texts, ham = list(texts), [bool(h) for h in ham]
        if not texts or len(texts) != len(ham):
            raise ValueError(f"give one label per message: {len(texts)} messages, {len(ham)} labels")
        if not 0 < click_prob <= 1 or mean_delay_s <= 0 or window_s <= 0 or batch < 1:
            raise ValueError("click_prob is a share in (0, 1]; mean_delay_s, window_s and batch are positive")
        self.ham, self.batch = ham, batch
        self.click_prob, self.mean_delay_s, self.window_s = click_prob, mean_delay_s, window_s
        rng = np.random.default_rng(seed)
        self.picks = rng.integers(0, len(texts), size=(bodies, batch))
        self.bodies = [orjson.dumps({"messages": [texts[j] for j in row]}) for row in self.picks]
        self._rng = np.random.default_rng([seed, 1])
        self._lock = threading.Lock()
        self.deliveries: list[tuple[float, str, bool, bool, float]] = []  # (t, version, ham, flagged, click_t)
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the stream was made (the clock of deliveries and clicks)."""
        return time.perf_counter() - self.t0

    def on_answer(self, i: int, sample: Sample, body: bytes) -> None:
        """Record the messages of one answered request (``loadgen``'s ``on_answer`` hook) and draw
        their users' clicks. Failed requests deliver nothing (the router's SLO counts them)."""
        import orjson

        if not 200 <= sample.status < 300:
            return
        t = self.elapsed()
        labels = [p["label"] for p in orjson.loads(body)["predictions"]]
        with self._lock:
            rows = []
            for j, label in zip(self.picks[i % len(self.picks)], labels):
                ham, flagged = self.ham[j], label == "spam"
                click_t = math.inf
                if ham and flagged and self._rng.random() < self.click_prob:
                    delay = self._rng.exponential(self.mean_delay_s)
                    if delay <= self.window_s:
                        click_t = t + delay
                rows.append((t, sample.version, ham, flagged, click_t))
            self.deliveries.extend(rows)

    def counts(self, now: float | None = None) -> dict[str, Counts]:
        """The evidence per version at ``now`` (seconds on :meth:`elapsed`'s clock; default: now)."""
        now = self.elapsed() if now is None else now
        with self._lock:
            rows = list(self.deliveries)
        out: dict[str, list[int]] = {}
        for t, version, _ham, flagged, click_t in rows:
            if t > now:
                continue
            c = out.setdefault(version, [0, 0, 0, 0, 0])
            clicked = click_t <= now and click_t != math.inf  # inf: this message gets no click
            c[0] += 1
            c[1] += flagged
            c[4] += clicked
            if t + self.window_s <= now:  # its window has closed: its click count is final
                c[2] += 1
                c[3] += clicked
        return {v: Counts(*c) for v, c in sorted(out.items())}


@dataclass(frozen=True)
class Rule:
    """When the business metric decides: after ``min_messages`` matured canary messages, with
    ``1 - alpha`` intervals; a canary at most ``tolerance_per_1000`` clicks per 1,000 messages
    above blue is as good as blue."""

    min_messages: int = 300
    alpha: float = 0.01
    tolerance_per_1000: float = 2.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` decided ("hold", "rollback" or "pass"), why, and on what numbers
    (rates and the difference in clicks per 1,000 messages, with the interval's bounds)."""

    decision: str
    reason: str
    canary_matured: int
    canary_per_1000: float
    blue_per_1000: float
    diff_low: float
    diff_high: float

    def row(self) -> dict[str, Any]:
        return asdict(self)


def rate_interval(count: int, n: int, alpha: float = 0.01) -> tuple[float, float]:
    """The Wilson interval of a proportion, per 1,000 (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(count, n, alpha=alpha, method="wilson")
    return 1000 * float(low), 1000 * float(high)


def diff_interval(count1: int, n1: int, count2: int, n2: int, alpha: float = 0.01) -> tuple[float, float]:
    """The interval of ``count1/n1 - count2/n2``, per 1,000 (Newcomb's, from two Wilson
    intervals; statsmodels ``confint_proportions_2indep``). It stays sensible with few or no events."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(count1, n1, count2, n2, method="newcomb", compare="diff", alpha=alpha)
    return 1000 * float(low), 1000 * float(high)


def table(counts: dict[str, Counts], blue: str, alpha: float = 0.01) -> pd.DataFrame:
    """Per version: (a) the prediction distribution, the share flagged as spam and its difference
    from blue's (percentage points, with its interval); (b) the business metric, "not spam"
    clicks per 1,000 matured messages, with its interval."""
    import pandas as pd

    b = counts.get(blue)
    rows = {}
    for version, c in counts.items():
        lo, hi = rate_interval(c.clicks, c.matured, alpha)
        nan = float("nan")
        row = {"messages": c.messages, "flagged %": 100 * c.flagged / c.messages if c.messages else nan,
               "vs blue, pp": nan, "pp low": nan, "pp high": nan}
        if b is not None and version != blue and c.messages and b.messages:
            f_lo, f_hi = diff_interval(c.flagged, c.messages, b.flagged, b.messages, alpha)
            row.update({"vs blue, pp": row["flagged %"] - 100 * b.flagged / b.messages,
                        "pp low": f_lo / 10, "pp high": f_hi / 10})
        row.update({"matured": c.matured, "clicks": c.clicks,
                    "per 1,000": 1000 * c.clicks / c.matured if c.matured else float("nan"),
                    "low": lo, "high": hi})
        rows[version] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "version"
    return df


def judge(counts: dict[str, Counts], *, blue: str, canary: str, rule: Rule = Rule()) -> Verdict:
    """The business gate of a canary, on "not spam" clicks per 1,000 matured messages.

    Hold until the canary has ``rule.min_messages`` matured messages (and blue has some); then
    take the interval of (canary - blue): entirely above 0 -> "rollback" (users of the canary
    rescue more messages); entirely below ``rule.tolerance_per_1000`` -> "pass"; otherwise
    "hold" (the evidence does not decide yet).
    """
    nothing = Counts(0, 0, 0, 0, 0)
    c, b = counts.get(canary, nothing), counts.get(blue, nothing)
    c_rate = 1000 * c.clicks / c.matured if c.matured else float("nan")
    b_rate = 1000 * b.clicks / b.matured if b.matured else float("nan")
    if c.matured < rule.min_messages or b.matured < rule.min_messages:
        why = (f"{c.matured} of {rule.min_messages} canary messages past their click window" if
               c.matured < rule.min_messages else f"blue has only {b.matured} matured messages")
        return Verdict("hold", why, c.matured, c_rate, b_rate, float("nan"), float("nan"))
    low, high = diff_interval(c.clicks, c.matured, b.clicks, b.matured, rule.alpha)
    level = f"{1 - rule.alpha:.0%}"
    numbers = (f"not-spam clicks {c_rate:.1f} per 1,000 messages on version {canary} against {b_rate:.1f} on {blue}, "
               f"a difference of {c_rate - b_rate:+.1f} ({level} CI {low:+.1f} to {high:+.1f}) "
               f"over {c.matured} canary messages")
    if low > 0:
        return Verdict("rollback", numbers, c.matured, c_rate, b_rate, low, high)
    if high < rule.tolerance_per_1000:
        return Verdict("pass", numbers, c.matured, c_rate, b_rate, low, high)
    return Verdict("hold", "undecided: " + numbers, c.matured, c_rate, b_rate, low, high)


def watch(router_url: str, stream: Mailstream, *, blue: str, canary: str, rule: Rule = Rule(),
          every_s: float = 0.25, timeout_s: float = 60.0) -> tuple[Verdict, pd.DataFrame]:
    """Judge a held ramp (``/admin/ramp`` with ``"hold": true``) every ``every_s`` seconds on the
    stream's evidence, and tell the router: ``/admin/advance`` on "pass", ``/admin/rollback``
    with the verdict's reason on "rollback". Stops when the ramp ends (rolled back, by either
    rule, or promoted) or after ``timeout_s``. Returns the last verdict and one row per look
    (seconds on the stream's clock, the ramp's status, the verdict and its numbers)."""
    import pandas as pd

    from mlkit.course import http

    looks, approved = [], None
    t_end = time.monotonic() + timeout_s
    while True:
        time.sleep(every_s)
        verdict = judge(stream.counts(), blue=blue, canary=canary, rule=rule)
        ramp = http.call(router_url, "/admin/status")["ramp"]
        looks.append({"s": stream.elapsed(), "ramp": ramp["status"], "decision": verdict.decision,
                      "canary matured": verdict.canary_matured, "canary per 1,000": verdict.canary_per_1000,
                      "blue per 1,000": verdict.blue_per_1000, "diff low": verdict.diff_low,
                      "diff high": verdict.diff_high})
        if ramp["status"] not in ("starting", "running", "holding") or time.monotonic() > t_end:
            break
        if verdict.decision == "rollback":
            http.call(router_url, "/admin/rollback", {"reason": "business metric: " + verdict.reason})
            looks[-1]["ramp"] = "rolled_back"
            break
        if verdict.decision == "pass" and approved != ramp.get("stage"):
            approved = ramp.get("stage")
            http.call(router_url, "/admin/advance", {})
    return verdict, pd.DataFrame(looks)


def messages_to_pass(per_1000: float, rule: Rule = Rule(), blue_per_canary: float = 19.0) -> int:
    """How many matured canary messages a canary exactly as good as blue needs before
    :func:`judge` can say "pass": both at ``per_1000`` clicks per 1,000 messages, blue with
    ``blue_per_canary`` times as many messages (19 at a 5 % canary). Doubling, then bisection."""
    if per_1000 < 0 or rule.tolerance_per_1000 <= 0:
        raise ValueError("per_1000 is a rate (>= 0) and the rule needs a positive tolerance to pass anything")

    def passes(n: int) -> bool:
        nb = round(n * blue_per_canary)
        return diff_interval(round(per_1000 * n / 1000), n, round(per_1000 * nb / 1000), nb,
                             rule.alpha)[1] < rule.tolerance_per_1000

    hi = 100
    while not passes(hi):
        hi *= 2
    lo = hi // 2
    while hi - lo > max(1, hi // 200):  # to half a percent
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return hi
