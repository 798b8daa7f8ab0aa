"""Error pages in the visitor's language; API paths get JSON."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def _messages() -> dict[int, str]:
    return {
        400: _("请求无效，请返回检查后重试。"),
        401: _("请先登录。"),
        403: _("您没有权限访问此页面。"),
        404: _("页面不存在，或您要查找的记录不存在。"),
        405: _("不支持此操作。"),
        413: _("上传的内容过大，请压缩或减少附件后重试。"),
        429: _("操作过于频繁，请稍后再试。"),
        500: _("系统出现错误，您的操作没有完成，请稍后重试。"),
    }


def _render(code: int, message: str):
    if request.path.startswith(("/api/", "/open311/")):
        return jsonify([{"code": code, "description": message}]), code
    return render_template("error.html", code=code, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError):
        return _render(400, _("页面已过期或来源无法验证，请返回重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        return _render(code, _messages().get(code, exc.description or ""))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        _rollback_request_session(app)
        message = _messages()[500]
        try:
            return _render(500, message)
        except Exception:  # the page itself failed (say the database is down): plain text
            app.logger.exception("error page failed on %s", request.path)
            return message, 500, {"Content-Type": "text/plain; charset=utf-8"}


def _rollback_request_session(app: Flask) -> None:
    """Roll back the request's session (notices.db.get_session keeps it in g.db_session)
    after a failed flush or commit: otherwise every query the error page makes (the
    signed-in user, the navigation) raises PendingRollbackError."""
    session = g.get("db_session")
    if session is None:
        return
    try:
        session.rollback()
    except Exception:  # a broken connection: drop the session, the page opens a fresh one
        app.logger.exception("rollback after an error failed on %s", request.path)
        g.pop("db_session", None)
        try:
            session.close()
        except Exception:
            app.logger.exception("closing the session failed on %s", request.path)
