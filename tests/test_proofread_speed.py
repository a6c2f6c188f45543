"""The proof-reader runs on every save: one rule that backtracks over a long
run of text held the server for half a minute (a field of 20,000 letters and
a dot, 50,000 dashes, 25,000 "a."). Each rule takes time in proportion to
its text; these are the texts that once made a rule quadratic, and their
relatives, at a field's length limit. The bounds are generous (a loaded
2-core machine); a quadratic rule takes seconds to minutes here."""
import time
from itertools import islice

import pytest

from pbforms.db import db
from pbforms.forms import builtin_type
from pbforms.text import proofread

from .fillpage import FillPage, report_of

LIMIT = 50000  # a text field's default length limit (pbforms/forms/kinds.py)


def repeated(unit, length=LIMIT):
    return (unit * (length // len(unit) + 1))[:length]


PATTERNS = {
    "letters and a dot": "a" * (LIMIT - 1) + ".",
    "letters and an at sign": "a" * (LIMIT - 1) + "@",
    "dashes": "-" * LIMIT,
    "dashes and a letter": "-" * (LIMIT - 1) + "a",
    "a.": repeated("a."),
    "a.b": repeated("a.b"),
    "a-": repeated("a-"),
    "a@": repeated("a@"),
    "digits": "1" * LIMIT,
    "digits and dots": repeated("1."),
    "spaces": " " * LIMIT,
    "spaces after a character": "中" + " " * (LIMIT - 1),
    "Chinese marks": repeated("，。、；：！？“”（）《》【】"),
    "opening quotes": "“" * LIMIT,
    "straight quotes": '"' * LIMIT,
    "straight quote and character": repeated("'中"),
    "parentheses": repeated(")("),
    "parenthesis and character": repeated("(中"),
    "www.": repeated("www."),
    "http://": repeated("http://"),
    "URL-like words": repeated("abc.gov"),
    "stars": "*" * LIMIT,
    "X": "X" * LIMIT,
    "braces": "{" * LIMIT,
    "reference brackets": "⟦" * LIMIT,
    "ellipses": "…" * LIMIT,
    "dash after character": repeated("中—"),
    "year-like": repeated("1年"),
    "dates": repeated("2022年03月"),
    "full-width digits": "１" * LIMIT,
    "figures": repeated("党员总数12名"),
    "line breaks": "\n" * LIMIT,
    "mixed": repeated("中文,abc.123 “测试”（括号）—— www.x.cn/ab 2022年03月05日 ** "),
}
TYPE = builtin_type("village_report")
FIGURES = {f.key: 3 for f in TYPE.counts}


@pytest.mark.parametrize("rule", proofread.RULES, ids=lambda rule: rule.id)
@pytest.mark.parametrize("text", PATTERNS.values(), ids=PATTERNS.keys())
def test_each_rule_reads_a_full_field_of_any_text_quickly(rule, text):
    ctx = proofread.Context(TYPE, FIGURES)

    started = time.perf_counter()
    list(islice(rule.find(text, ctx), proofread.MAX_PER_RULE))

    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("name", ["letters and a dot", "dashes", "a.", "straight quotes", "Chinese marks", "mixed"])
def test_report_check_of_a_full_field_of_any_text_takes_under_two_seconds(app, name):
    report = report_of("河西村")
    field = next(f for f in report.report_type.fields if f.kind == "paragraphs")
    text = PATTERNS[name][:field.max_length]
    with db.connection_context():
        report.save_data({**report.data, field.key: text}, None, report.version)
    proofread.rule_hits.cache_clear()  # as a new process would: nothing read before

    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["report", "check", "--report", str(report.id)])
    took = time.perf_counter() - started

    assert result.exit_code in (0, 1), result.output
    assert took < 2


@pytest.mark.parametrize("name", ["letters and a dot", "dashes", "a.", "parentheses", "opening quotes"])
def test_a_save_of_a_full_field_of_any_text_answers_within_two_seconds(client, auth, name):
    """The save checks the text it stores: one such save once held the server for 28 s."""
    auth.login("hexicun")
    page = FillPage(client, report_of("河西村").id)
    proofread.rule_hits.cache_clear()

    started = time.perf_counter()
    response = page.post({"intro": PATTERNS[name]})
    took = time.perf_counter() - started

    assert response.status_code == 200
    assert took < 2
