"""pbforms: villages fill in the yearly party-building report; the township
collects them as official-format Word documents."""
import datetime
import os
import secrets
from pathlib import Path

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, cli, db as database, exports, fill, help, history, models, township
from .form_body import FastFormRequest
from .session_cookie import MinutelySessionInterface
from .rating import ballot as rating_ballot, views as rating_views
from .ledger import views as ledger_views
from .text import views as text_views

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()


def create_app(config=None):
    app = Flask(
        __name__,
        # The folder of this process's own files: the default SQLite
        # database with its backups, the generated secret key. A test's
        # server gets one of its own, not the project's; processes on
        # several machines (PostgreSQL) share nothing here (README).
        instance_path=os.path.abspath(os.environ.get("PBFORMS_INSTANCE") or ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.request_class = FastFormRequest  # autosaves post the whole page: pbforms/form_body.py
    app.session_interface = MinutelySessionInterface()
    app.config.update(
        DATABASE_URL=os.environ.get("PBFORMS_DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'pbforms.sqlite3'}",
        SECRET_KEY=os.environ.get("PBFORMS_SECRET_KEY"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("PBFORMS_HTTPS", "") not in ("", "0"),
        # Idle expiry: a request renews the signed cookie (at most once a
        # minute: pbforms/session_cookie.py), and one older than this is
        # refused even if a browser sends it again.
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(
            hours=float(os.environ.get("PBFORMS_SESSION_IDLE_HOURS") or 8)),
        # A village clerk may keep the form open all day: the token lives as
        # long as the session (renewed by each autosave), not for the default hour.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _stored_secret_key(Path(app.instance_path) / "secret_key")

    database.open_database(app.config["DATABASE_URL"])
    models.clear_type_cache()
    if not app.config.get("SKIP_MIGRATIONS"):
        database.migrate()
        with database.db.connection_context():
            models.load_builtin_types()
        database.close_pooled_connections()

    @app.before_request
    def connect_db():
        database.db.connect(reuse_if_open=True)

    @app.teardown_request
    def close_db(exc):
        if not database.db.is_closed():
            database.db.close()

    proxies = int(os.environ.get("PBFORMS_PROXIES") or 0)
    if proxies:
        # Behind nginx every request comes from the proxy: take the client's
        # address from X-Forwarded-For, or login throttling would count all
        # villages as one address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
    # Login first: a save from a page whose session has ended is told so
    # (401, 登录已过期) rather than failing the CSRF check of that session.
    auth.init_app(app)
    csrf.init_app(app)
    app.url_map.converters["int"] = database.DatabaseIntConverter  # before any route is added
    app.register_blueprint(auth.bp)
    app.register_blueprint(fill.bp)
    app.register_blueprint(history.bp)
    app.register_blueprint(township.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(text_views.bp)
    app.register_blueprint(help.bp)
    app.register_blueprint(rating_views.bp)
    app.register_blueprint(rating_ballot.bp)
    app.register_blueprint(ledger_views.bp)
    cli.init_app(app)
    _register_error_pages(app)
    app.after_request(_security_headers)
    return app


# Scripts, styles and everything else from this app only: no inline script
# or style (htmx's own indicator style is off in base.html), no eval, and
# no page of the app inside another site's frame.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"  # frame-ancestors for browsers that predate it
    return response


def _stored_secret_key(path):
    """Generated on first start and kept, so sessions survive a restart.

    Written whole to a file of its own and then linked into place, which
    fails if the key exists: processes starting together agree on one key.
    """
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _register_error_pages(app):
    """Chinese error pages; htmx requests get just the message, for the status line."""

    def page(status, title, message):
        template = "errors/_message.html" if request.headers.get("HX-Request") else "errors/page.html"
        return render_template(template, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return page(400, "请求已失效", "页面已过期或来源不明，请刷新页面后重试。已填写的内容请先复制保存。")

    @app.errorhandler(403)
    def forbidden(e):
        return page(403, "没有权限", "此页面仅供镇党建办（管理员）使用。")

    @app.errorhandler(405)
    def method_not_allowed(e):
        body, status = page(405, "请求方式不对", "此地址不能这样打开，请回到首页从页面上的按钮进入。")
        return body, status, {"Allow": ", ".join(e.valid_methods or ())}

    @app.errorhandler(404)
    def not_found(e):
        return page(404, "找不到页面", "您要找的页面不存在，或您没有查看它的权限。")

    @app.errorhandler(413)
    def too_large(e):
        return page(413, "内容过大", "提交的内容超过 2 MB，请删减后重试。")

    @app.errorhandler(500)
    def server_error(e):
        return page(500, "系统出错", "系统暂时出错，请稍后重试。已填写的内容仍在页面上，请勿关闭页面。")
