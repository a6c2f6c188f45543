"""The session cookie: Flask's signed one, renewed at most once a minute.

The idle expiry (PERMANENT_SESSION_LIFETIME) counts from when the cookie
was last signed, and Flask signs it anew on every request. An autosave
comes every few seconds from every clerk typing, and re-signing the cookie
was a tenth of its cost in the server; renewed once a minute, the idle time
still counts from the last request, give or take that minute.
"""
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

RENEW_AFTER_SECONDS = 60


class MinutelySessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        # The same clock that signs, so the two always agree (and a test can move it).
        session.age = serializer.make_signer().get_timestamp() - signed_at.timestamp()
        return session

    def should_set_cookie(self, app, session):
        return session.modified or (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]
                                    and getattr(session, "age", RENEW_AFTER_SECONDS) >= RENEW_AFTER_SECONDS)
