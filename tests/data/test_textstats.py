"""mlkit.data.textstats: the one definition of each message statistic, and its users agree with it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mlkit.data import textstats


def test_upper_share_is_the_share_of_letters():
    assert textstats.upper_share("FREE entry!!") == pytest.approx(4 / 9)  # 9 letters, 4 capitals
    assert textstats.upper_share("CALL 09061701461 NOW") == 1.0  # digits and spaces do not dilute shouting
    assert textstats.upper_share("09061701461") == 0.0 and textstats.upper_share("") == 0.0  # no letters
    assert textstats.upper_share("ÉTÉ été") == 0.5  # letters beyond A-Z count too


@pytest.mark.parametrize("text, expected", [
    ("visit 80488.biz", True),  # a bare domain, no http
    ("see lucozade.co.uk/wrc", True),
    ("WWW.WIN.COM", True),
    ("https://example.org/x", True),
    ("go to Nikiyu4.net", True),
    ("ok. see you at 6", False),
    ("Hello.World, the .com era", False),
])
def test_has_url(text, expected):
    assert textstats.has_url(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("Call 09061701461 now", True),
    ("call 0800 169 6031 between 10am-9pm", True),  # spaces between the digits
    ("Call 0871-872-9755 BOX95QU", True),  # dashes
    ("+44 7700 900123", True),
    ("text WIN to 80086", False),  # a five-digit short code is not a phone number
    ("face test ( 1 2 3 4 5 6 7 8 9 )", False),  # nine digits
    ("£2,000 prize", False),
])
def test_has_phone(text, expected):
    assert textstats.has_phone(text) is expected


def test_counts():
    assert textstats.n_chars("ok  see\tyou\n") == 12 and textstats.n_words("ok  see\tyou\n") == 3
    assert textstats.n_digits("call 0800 169 6031") == 11
    for text in ("x² ½", "٣ and 3", "no digits"):  # the same digits as regex \d (not str.isdigit)
        assert textstats.n_digits(text) == len(re.findall(r"\d", text))


def test_summary_holds_every_field():
    got = textstats.summary("FREE entry!! Call 09061701461 or see win.com")
    assert tuple(got) == textstats.FIELDS
    assert got == {"n_chars": 44, "n_words": 7, "n_digits": 11, "upper_share": round(5 / 24, 4),
                   "has_url": True, "has_phone": True}


def test_module_imports_neither_pandas_nor_numpy():
    code = "import sys, mlkit.data.textstats; print(sorted({'pandas', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_features_and_slices_use_these_definitions_on_the_sms_data():
    from mlkit.course import datasets
    from mlkit.data import prep
    from mlkit.evaluation import slices

    sms = prep.dedupe(prep.clean(datasets.load_sms_spam()))[0]
    feats = prep.add_features(sms)
    texts = sms.text.astype(str)
    for name in textstats.FIELDS:
        scalar = texts.map(getattr(textstats, name))
        if name == "upper_share":
            scalar = scalar.map(lambda v: round(v, 4))  # as summary() rounds it
        assert (feats[name] == scalar.astype(feats[name].dtype)).all(), name
    masks = slices.spam_slices(texts)
    assert (masks["has a URL"] == texts.map(textstats.has_url)).all()
    assert (masks["has a phone number"] == texts.map(textstats.has_phone)).all()
    assert feats.has_url.sum() > 100 and 300 < feats.has_phone.sum() < 400  # the real data has both
