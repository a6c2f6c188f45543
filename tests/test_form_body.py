"""The fast form reader (pbforms/form_body.py) reads every body as werkzeug's own does."""
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, strategies as st

from pbforms.form_body import parse_urlencoded
from tests.fillpage import FillPage, report_of


def werkzeugs(body):
    return parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")


@pytest.mark.parametrize("body", [
    "", "&", "a", "a=", "=b", "a=1&a=2", "a=1&&b=2", "a=b=c", "a+b=c+d", "x=%zz", "x=%4", "x=%",
    "x=%E4%B8%AD%E6%96%87", "x=%e4%b8%ad", "x=%E4%B8", "x=%E4a%B8", "x=%FF%FE", "x=%25E4", "x=%2B+%26",
    "x=%ED%A0%80", "k%3D=v%26", "reporter_name=%E5%A1%AB%E6%8A%A5%E5%91%98&version=3",
])
def test_the_same_pairs_as_werkzeug(body):
    assert parse_urlencoded(body) == werkzeugs(body)


@given(st.lists(st.tuples(st.text(), st.text())))
def test_any_form_a_browser_sends(pairs):
    assert parse_urlencoded(urlencode(pairs)) == werkzeugs(urlencode(pairs))


ascii_with_escapes = st.lists(st.one_of(
    st.text(alphabet="ab=&+%0123456789ABCDEFabcdefz ", max_size=4),
    st.sampled_from(["%E4", "%B8", "%AD", "%FF", "%C3", "%A9", "%2", "%%"]),
)).map("".join)


@given(ascii_with_escapes)
def test_any_body_at_all(body):
    assert parse_urlencoded(body) == werkzeugs(body)


@pytest.mark.parametrize("text", ["张三", "李 四+1", "100% & a=b", "%E4 是原文", "🙂 表情", "a+b%2Bc"])
def test_a_save_keeps_what_was_typed(client, auth, text):
    auth.login("qingnizhen")
    page = FillPage(client, report_of("青泥镇").id)
    assert page.post({"reporter_name": text}).status_code == 200
    assert report_of("青泥镇").data["reporter_name"] == text
