"""Lesson 01, labeling: how far two labelers agree, and a widget where you are the second one.

:func:`agreement` compares two sets of labels for the same messages: raw percent
agreement and Cohen's kappa (``sklearn.metrics.cohen_kappa_score``), which discounts the
agreement two labelers would reach by chance. On the SMS data (13% spam) a labeler who
says "ham" to everything agrees about 87% of the time and has a kappa of 0.

:class:`LabelingPanel` shows a sample of messages one at a time with **spam** / **ham**
buttons; your labels are compared with the data set's own labels (its original
annotators) after every click. It keeps the callback contract of
:class:`mlkit.course.widgets.MainWidget` (errors shown in the widget, never raised) but is
not the lesson's main widget (the fault injector is).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlkit.course.widgets import MainWidget

if TYPE_CHECKING:
    import pandas as pd

LABELS = ("spam", "ham")


@dataclass(frozen=True)
class Agreement:
    """Two labelers on the same ``n`` items: how many labels match, the share, and Cohen's kappa.

    ``kappa`` is NaN where it is undefined (fewer than two items, or both labelers used
    one and the same class only: then chance agreement is 100%).
    """

    n: int
    agree: int
    percent: float
    kappa: float

    def describe(self) -> str:
        """One line for people: "9 of 10 agree (90.0%), Cohen's kappa 0.74"."""
        kappa = "undefined (one class only so far)" if self.kappa != self.kappa else f"{self.kappa:.2f}"
        return f"{self.agree} of {self.n} agree ({self.percent:.1f}%), Cohen's kappa {kappa}"


def agreement(labels_a: Sequence[str], labels_b: Sequence[str]) -> Agreement:
    """Percent agreement and Cohen's kappa of two labelers (lesson 01, "Labels").

    Args:
        labels_a, labels_b: the two labelers' labels for the same items, in the same order.

    Raises:
        ValueError: if the two have different lengths.
    """
    import warnings

    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    a, b = list(labels_a), list(labels_b)
    if len(a) != len(b):
        raise ValueError(f"the two labelers must label the same items: got {len(a)} and {len(b)} labels")
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    classes = sorted(set(a) | set(b))
    if len(classes) < 2:  # one class only: chance agreement is 100%, kappa is 0/0
        kappa = float("nan")
    else:
        with warnings.catch_warnings():  # should kappa still be 0/0, sklearn warns and returns NaN
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            kappa = float(cohen_kappa_score(a, b, labels=classes, replace_undefined_by=float("nan")))
    return Agreement(n=len(a), agree=agree, percent=100.0 * agree / len(a) if a else float("nan"), kappa=kappa)


def stratified_sample(messages: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` messages drawn at random with the same share of each label as ``messages``
    (at least one of each label present, where ``n`` allows), shuffled (lesson 01's labeling widget).

    A plain random sample of 20 messages at 13% spam holds no spam about one time in 17, and
    then kappa is undefined; a stratified one always holds some.
    """
    import pandas as pd

    counts = messages["label"].value_counts()
    want = (counts / counts.sum() * n).round().astype(int)
    want = want.clip(lower=1 if n >= len(counts) else 0, upper=counts)
    want[want.idxmax()] += n - want.sum()  # rounding: the largest class takes up the difference
    parts = [messages[messages["label"] == label].sample(n=int(k), random_state=seed) for label, k in want.items()]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


class LabelingPanel(MainWidget):
    """Label a sample of messages as spam or ham; see your agreement with the data set's labels.

    Attributes: ``spam`` and ``ham`` (Buttons: record a label and move on), ``restart``
    (Button), ``message`` (HTML: the message to label); ``labels`` holds your labels so
    far, ``sample`` the messages (columns ``text`` and ``label``, the reference labels).

    Args:
        messages: a frame with columns ``text`` and ``label`` ("spam" / "ham").
        n: how many messages to label (a random sample of ``messages`` with its share of spam,
            see :func:`stratified_sample`).
        seed: the sample's seed.
    """

    def __init__(self, messages: pd.DataFrame, n: int = 20, seed: int = 0) -> None:
        import ipywidgets as w

        missing = {"text", "label"} - set(messages.columns)
        if missing:
            raise ValueError(f"messages needs the columns 'text' and 'label'; missing: {sorted(missing)}")
        unknown = set(messages["label"].unique()) - set(LABELS)
        if unknown:
            raise ValueError(f"labels must be 'spam' or 'ham'; found {sorted(map(str, unknown))}")
        if not 1 <= n <= len(messages):
            raise ValueError(f"n must be between 1 and {len(messages)} (the number of messages); got {n}")
        self.sample = stratified_sample(messages[["text", "label"]], n, seed)
        self.labels: list[str] = []
        self.message = w.HTML()
        self.spam = w.Button(description="spam", button_style="danger", icon="ban")
        self.ham = w.Button(description="ham", button_style="success", icon="check")
        self.restart = w.Button(description="start over", icon="undo")
        super().__init__(self.message, w.HBox([self.spam, self.ham, self.restart]),
                         status="<i>Read the message, then press spam or ham.</i>", doing="record a label",
                         main=False)  # a second widget: the lesson's main one is the fault injector
        self.on_click(self.spam, lambda: self.record("spam"))
        self.on_click(self.ham, lambda: self.record("ham"))
        self.on_click(self.restart, self.start_over, doing="start over")
        self._show_message()

    @property
    def done(self) -> bool:
        """True once every message of the sample has a label."""
        return len(self.labels) >= len(self.sample)

    def agreement(self) -> Agreement:
        """Your labels so far against the data set's labels for the same messages."""
        return agreement(self.sample["label"].iloc[: len(self.labels)], self.labels)

    def record(self, label: str) -> None:
        """Record ``label`` ("spam" or "ham") for the current message and show the next one."""
        if label not in LABELS:
            raise ValueError(f"a label is 'spam' or 'ham'; got {label!r}")
        if self.done:
            self.show(f"<p>All {len(self.sample)} messages are labelled. Press <b>start over</b> "
                      "to label them again.</p>" + self._summary())
            return
        self.labels.append(label)
        self._show_message()
        self.show(self._summary())

    def start_over(self) -> None:
        """Forget your labels and show the first message again."""
        self.labels.clear()
        self._show_message()
        self.show("<i>Started over. Read the message, then press spam or ham.</i>")

    # ------------------------------------------------------------ display
    def _show_message(self) -> None:
        self.spam.disabled = self.ham.disabled = self.done
        if self.done:
            self.message.value = f"<p><b>Done: {len(self.sample)} of {len(self.sample)} labelled.</b></p>"
            return
        i = len(self.labels)
        text = html.escape(self.sample["text"].iloc[i])
        self.message.value = (f"<p>Message {i + 1} of {len(self.sample)}:</p>"
                              f"<blockquote style='font-size:1.1em'>{text}</blockquote>")

    def _summary(self) -> str:
        mine = self.agreement()
        reference = self.sample["label"].iloc[: len(self.labels)]
        lazy = agreement(reference, ["ham"] * len(reference))  # "ham" to everything, for scale
        rows = [f"<p>You and the data set's labelers: <b>{html.escape(mine.describe())}</b>.<br>"
                f"A labeler who says ham to all of them: {html.escape(lazy.describe())}.</p>"]
        queue = [(t, ref, you) for t, ref, you in zip(self.sample["text"], reference, self.labels, strict=False)
                 if ref != you]
        if queue:
            items = "".join(f"<li>data set: <b>{ref}</b>, you: <b>{you}</b>: {html.escape(t[:90])}</li>"
                            for t, ref, you in queue[-3:])
            rows.append(f"<p>To adjudicate ({len(queue)} so far, the last 3):</p><ul>{items}</ul>")
        return "".join(rows)


def labeling_panel(messages: pd.DataFrame, n: int = 20, seed: int = 0) -> LabelingPanel:
    """The labeling widget of lesson 01 (see :class:`LabelingPanel`)."""
    return LabelingPanel(messages, n=n, seed=seed)
