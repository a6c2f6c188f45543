"""Fuzzed input (hypothesis): no text breaks a .docx, no value breaks a count.

Most properties run on the report type and the document pipeline directly
(fast, so hypothesis can try many inputs, lone surrogates included); a few
go through the fill page over HTTP, as a browser would send them.
"""
import io

import pytest
from docx import Document
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pbforms.documents import render, type_document
from pbforms.forms import builtin_type
from pbforms.forms.kinds import XML_FORBIDDEN, Invalid, split_paragraphs
from pbforms.models import Report

from tests.fillpage import FillPage, report_of

REPORT_TYPE = builtin_type("annual_report")
VILLAGE_TYPE = builtin_type("village_report")  # 青泥村's, whose page the HTTP tests fill
META = {"year": 2022, "unit_name": "青泥村", "secretary_title": "党支部书记"}
TEXT_FIELDS = [f for f in REPORT_TYPE.fields if f.kind in ("text", "paragraphs")]
ITEM_FIELDS = [f for f in REPORT_TYPE.fields if f.kind == "items"]
COUNTS = REPORT_TYPE.counts
FUZZ = settings(max_examples=50, deadline=None)
HTTP_FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Every character, lone surrogates and XML's forbidden ones included; only
# the brackets of a figure reference are left out (references are tested
# in test_fill.py: they are meant to change the text).
ANY_CHARACTER = st.characters(exclude_categories=(), exclude_characters="⟦⟧")
ANY_TEXT = st.text(ANY_CHARACTER, max_size=200)
# What a browser can send: UTF-8, so no lone surrogates.
TYPED_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="⟦⟧"), max_size=200)


def docx_text(data):
    """Every paragraph of the report's .docx, tables included, as python-docx reads it."""
    document = Document(io.BytesIO(render(*type_document(REPORT_TYPE, data, META))))
    paragraphs = [p.text for p in document.paragraphs]
    paragraphs += [p.text for table in document.tables for row in table.rows
                   for cell in row.cells for p in cell.paragraphs]
    return "\n".join(paragraphs)


def expected_lines(text):
    """The text as the document must show it: forbidden characters gone, one paragraph a line."""
    return split_paragraphs(XML_FORBIDDEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


# --- text into the .docx ------------------------------------------------------

@FUZZ
@given(field=st.sampled_from(TEXT_FIELDS), text=ANY_TEXT)
def test_any_text_gives_a_docx_containing_it(field, text):
    try:
        value = field.clean(text)
    except Invalid:
        assume(False)  # longer than the field allows: refused with a message, tested in test_hostile.py
    data = {**REPORT_TYPE.initial_data(META), field.key: value}

    printed = docx_text(data)

    lines = expected_lines(text)
    if field.kind == "text":
        lines = [" ".join(lines)] if lines else []
    for line in lines:
        assert line in printed
    if not lines:  # nothing to see: the document is the one of the field left empty
        assert field.is_empty(value)
        assert printed == docx_text({**REPORT_TYPE.initial_data(META), field.key: field.clean("")})


@FUZZ
@given(field=st.sampled_from(ITEM_FIELDS),
       items=st.lists(st.fixed_dictionaries({"heading": st.text(ANY_CHARACTER, max_size=60), "text": ANY_TEXT}),
                      max_size=4))
def test_any_items_give_a_docx_containing_them(field, items):
    data = {**REPORT_TYPE.initial_data(META), field.key: field.clean(items)}

    printed = docx_text(data)

    for item in items:
        # A heading prints on one line: its lines joined by single spaces.
        for line in [" ".join(expected_lines(item["heading"]))] + expected_lines(item["text"]):
            assert line in printed
    # An item with nothing to print still takes its place: the document is
    # the one of the same items with the blank ones written as nothing at all.
    blank = [not (expected_lines(" ".join(i["heading"].split("\n"))) or expected_lines(i["text"])) for i in items]
    if any(blank):
        plain = [{"heading": "", "text": ""} if b else i for i, b in zip(items, blank)]
        assert printed == docx_text({**data, field.key: field.clean(plain)})


# --- counts -------------------------------------------------------------------

def count_messages(field):
    return {"请填写整数，如 12", "请填写整数，不能有小数", "请填写数字，如 12", "不能为负数",
            f"不能小于 {field.minimum}", f"不能超过 {field.maximum}"}


ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT,
                      st.from_regex(r"\A[ +\-]?[0-9０-９,，.]{0,25}\s*\Z"),
                      st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def assert_stored_or_refused(field, before, data, errors):
    """Either a whole number in range (or empty) is stored, or the field's message
    is given and nothing at all changed."""
    if field.key in errors:
        assert errors[field.key] in count_messages(field)
        assert data == before
    else:
        value = data[field.key]
        assert value is None or (type(value) is int and field.minimum <= value <= field.maximum)
        assert {k: v for k, v in data.items() if k != field.key} == {
            k: v for k, v in before.items() if k != field.key}


@FUZZ
@given(field=st.sampled_from(COUNTS), value=ANY_VALUE)
def test_any_json_value_in_a_count_is_stored_in_range_or_refused(field, value):
    before = REPORT_TYPE.initial_data(META)
    data, errors = REPORT_TYPE.parse_json({field.key: value}, before)
    assert_stored_or_refused(field, before, data, errors)


@FUZZ
@given(field=st.sampled_from(COUNTS), value=st.one_of(ANY_TEXT, st.from_regex(r"\A[ +\-]?[0-9０-９,.]{0,25}\Z")))
def test_any_typed_count_is_stored_in_range_or_refused(field, value):
    before = REPORT_TYPE.initial_data(META)
    data, errors = REPORT_TYPE.parse_form({field.key: value}, before)
    assert_stored_or_refused(field, before, data, errors)


AMOUNT = VILLAGE_TYPE.by_key["collective_income"]


@FUZZ
@given(value=st.one_of(ANY_VALUE, st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)))
def test_any_value_in_an_amount_is_stored_with_its_places_or_refused(value):
    before = VILLAGE_TYPE.initial_data(META)
    data, errors = VILLAGE_TYPE.parse_json({AMOUNT.key: value}, before)
    if AMOUNT.key in errors:
        assert errors[AMOUNT.key] in {"请填写数字，如 12.5", "最多保留 1 位小数", "不能为负数",
                                      f"不能超过 {AMOUNT.maximum}"}
        assert data == before
    else:
        stored = data[AMOUNT.key]
        assert stored is None or (type(stored) is float and 0 <= stored <= AMOUNT.maximum
                                  and AMOUNT.as_text(stored) == f"{stored:.1f}")


# --- the same over HTTP -------------------------------------------------------

@pytest.fixture
def page(client, auth):
    auth.login("qingnicun")
    return FillPage(client, report_of("青泥村").id)


@HTTP_FUZZ
@given(field=st.sampled_from([f for f in TEXT_FIELDS if f.kind == "paragraphs"]), text=TYPED_TEXT)
def test_typed_paragraph_is_saved_and_printed(page, field, text):
    response = page.post({field.key: text})
    assert response.status_code == 200, response.text

    printed = "\n".join(p.text for p in Document(io.BytesIO(page.docx())).paragraphs)
    lines = expected_lines(text)
    for line in lines:
        assert line in printed
    stored = Report.get_by_id(page.report_id).data[field.key]
    if lines:
        assert expected_lines(stored) == lines
    else:  # nothing but spaces and control characters: stored as nothing to print
        assert expected_lines(stored) == []


@HTTP_FUZZ
@given(field=st.sampled_from([f for f in VILLAGE_TYPE.counts if f.kind == "count"]),
       value=st.one_of(TYPED_TEXT, st.from_regex(r"\A[ +\-]?[0-9０-９,.]{0,25}\Z")))
def test_typed_count_over_http_is_stored_in_range_or_refused(page, field, value):
    before = Report.get_by_id(page.report_id)

    response = page.post({field.key: value})

    assert response.status_code == 200, response.text
    after = Report.get_by_id(page.report_id)
    message = VILLAGE_TYPE.parse_form({field.key: value}, before.data)[1].get(field.key)
    if message:
        assert message in count_messages(field) and message in response.text
        assert after.data == before.data
    else:
        stored = after.data[field.key]
        assert stored is None or (type(stored) is int and field.minimum <= stored <= field.maximum)
        assert {k: v for k, v in after.data.items() if k != field.key} == {
            k: v for k, v in before.data.items() if k != field.key}
