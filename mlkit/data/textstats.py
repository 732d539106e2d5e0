"""The course's ONE definition of each message statistic (lessons 01, 03, 04-07).

Lesson 01's features (:func:`mlkit.data.prep.add_features`, the DVC pipeline's featurize
stage), lesson 03's slices (:func:`mlkit.evaluation.slices.spam_slices`) and the model
server's inference log (lesson 04, read by lessons 05-07) all call these functions, so a
"shouting" message or "a message with a URL" means the same thing in every lesson.

* ``upper_share``: the share of the *letters* that are upper case (0 without letters). That
  is what shouting means, and it does not fall when a message holds many digits or spaces
  (a share of all characters would call "CALL 09061701461 NOW" half quiet).
* ``has_url``: :data:`URL`, a link with or without ``http``: ``http(s)://``, ``www.``, or a
  bare domain ending in .com, .net, .org, .co.uk or .biz ("visit 80488.biz", common in the
  SMS spam).
* ``has_phone``: :data:`PHONE`, a phone number: at least 10 digits, a single space or dash
  allowed between them ("0800 169 6031", "0871-872-9755", "+447700900123"). Five-digit
  premium short codes ("text WIN to 80086") are not phone numbers. Lesson 03's earlier
  pattern (10 characters of digits, spaces and dashes) also took "1 2 3 4 5 6 7 8 9" for
  one; requiring 10 digits does not.

Pure Python (``re`` only): the model server imports it.
"""

from __future__ import annotations

import re

URL = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:com|net|org|co\.uk|biz)\b", re.IGNORECASE)
PHONE = re.compile(r"\+?\d(?:[ -]?\d){9,}")  # 10 or more digits, one space or dash allowed between them
FIELDS = ("n_chars", "n_words", "n_digits", "upper_share", "has_url", "has_phone")


def n_chars(text: str) -> int:
    """Characters in the message (lessons 01, 04-07)."""
    return len(text)


def n_words(text: str) -> int:
    """Words, split on white space (lessons 01, 04-07)."""
    return len(text.split())


def n_digits(text: str) -> int:
    """Decimal digits, the characters regex ``\\d`` matches (lessons 01, 03, 04-07)."""
    return sum(c.isdecimal() for c in text)


def upper_share(text: str) -> float:
    """Share of the letters that are upper case, 0.0 without letters (lessons 01, 03, 04-07)."""
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0


def has_url(text: str) -> bool:
    """Does the message hold a link (:data:`URL`)? (lessons 01, 03, 04-07)"""
    return URL.search(text) is not None


def has_phone(text: str) -> bool:
    """Does the message hold a phone number (:data:`PHONE`)? (lessons 01, 03, 04-07)"""
    return PHONE.search(text) is not None


def summary(text: str) -> dict[str, int | float | bool]:
    """All the statistics of one message, keyed by :data:`FIELDS`; ``upper_share`` rounded to 4
    decimals. Lesson 01's features and the inference log of lessons 04-07 are this dict."""
    return {"n_chars": n_chars(text), "n_words": n_words(text), "n_digits": n_digits(text),
            "upper_share": round(upper_share(text), 4), "has_url": has_url(text), "has_phone": has_phone(text)}
