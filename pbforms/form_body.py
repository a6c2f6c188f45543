"""Posted forms, read faster than the standard library reads them.

A fill page without scripts posts the whole form (an autosave posts only
the fields changed, but a long text is long too): about 27 KB, urlencoded,
most of it Chinese text, each character three %XX escapes. urllib's unquote turns
escapes into bytes one at a time in a Python loop, and under the load of
issue 10 (100 saves a second) that was a sixth of the server's time
(bench/RESULTS.md). Here a run of escapes becomes bytes in one call. The
result is the same as `urllib.parse.parse_qsl`'s, which werkzeug uses, for
any input (tests/test_form_body.py): '+' is a space, a pair without '='
has an empty value, an escape that is no hex pair stays as it is, and bytes
that are no UTF-8 are given back as escapes, as werkzeug does.
"""
import re

import werkzeug.urls  # noqa: F401  registers the "werkzeug.url_quote" error handler
from flask import Request
from werkzeug.formparser import FormDataParser

ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _text_of(match):
    return bytes.fromhex(match.group().replace("%", "")).decode("utf-8", "werkzeug.url_quote")


def unquote_plus(text):
    text = text.replace("+", " ")
    return ESCAPES.sub(_text_of, text) if "%" in text else text


def parse_urlencoded(body):
    """[(name, value)] in the order sent, blank values kept."""
    pairs = []
    for pair in body.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


class FastFormDataParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # As werkzeug's: the stream is already limited to MAX_CONTENT_LENGTH,
        # and a body that is no UTF-8 raises ValueError (an empty form).
        return stream, self.cls(parse_urlencoded(stream.read().decode())), self.cls()


class FastFormRequest(Request):
    form_data_parser_class = FastFormDataParser
