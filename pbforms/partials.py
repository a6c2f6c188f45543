"""Answers to htmx: a part of a page instead of the whole.

htmx says so with the HX-Request header; an answer that depends on it
carries `Vary: HX-Request`, so that no cache hands the part out as the page
or the page as the part.
"""
from flask import Response, request


def is_htmx():
    return request.headers.get("HX-Request") == "true"


def wants_partial():
    """htmx asking for a part of the page (a history restore wants the whole page)."""
    return is_htmx() and not request.headers.get("HX-History-Restore-Request")


def partial_response(body, status=200, **headers):
    response = Response(body, status=status, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response
