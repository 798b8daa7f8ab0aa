"""Staff sign-in: session login, hashed passwords, lockout with backoff, roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.models import Role, User
from app.security import safe_next
from intake.models import Event
from notices.db import get_session
from notices.ratelimit import limiter
from notices.timeutil import as_utc, utcnow

bp = Blueprint("auth", __name__)

# A fixed hash to compare against when the username does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名")),
                                                   Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码")),
                                                   Length(max=256)])


def hash_password(password: str) -> str:
    return generate_password_hash(password)


# Roles an account may be limited to one campaign for; admins and units work across them.
CAMPAIGN_SCOPED_ROLES = frozenset({Role.taskforce, Role.operator, Role.inspector})


def create_user(session: Session, *, username: str, password: str, role: Role | str,
                display_name: str = "", unit_id: int | None = None,
                campaign_id: int | None = None) -> User:
    role = Role(role)
    if role is Role.unit and unit_id is None:
        raise ValueError("a unit user must belong to a unit")
    user = User(username=username, display_name=display_name or username,
                password_hash=hash_password(password), role=role,
                unit_id=unit_id if role is Role.unit else None,
                campaign_id=campaign_id if role in CAMPAIGN_SCOPED_ROLES else None)
    session.add(user)
    return user


class LoginError(Exception):
    pass


def _failed() -> str:
    """One answer for an unknown name, a wrong password and a locked account, so that the
    login page does not tell which staff usernames exist."""
    return _("用户名或密码错误；连续多次输错后账号会暂时锁定，请稍后再试。")


def authenticate(session: Session, username: str, password: str) -> User:
    """Check credentials, counting failures; the account locks with doubling backoff.

    :raise LoginError: with a message for the person signing in.
    """
    user = session.exec(select(User).where(User.username == username)).first()
    now = utcnow()
    if user is None or not user.is_active:
        check_password_hash(_DUMMY_HASH, password)
        raise LoginError(_failed())
    if user.locked_until and as_utc(user.locked_until) > now:
        check_password_hash(_DUMMY_HASH, password)
        raise LoginError(_failed())
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        limit = current_app.config["LOGIN_MAX_FAILURES"]
        if user.failed_logins >= limit:
            minutes = 2 ** min(user.failed_logins - limit, 10)
            user.locked_until = now + timedelta(minutes=minutes)
        session.add(Event(kind="login_failed", actor_id=user.id, data={"count": user.failed_logins}))
        session.commit()
        raise LoginError(_failed())
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(Event(kind="login", actor_id=user.id))
    session.commit()
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(get_session(), form.username.data.strip(), form.password.data)
        except LoginError as exc:
            flash(str(exc), "error")
        else:
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            session["staff_id"] = user.id
            session["staff_key"] = _credential_key(user)
            session.permanent = True
            return redirect(safe_next(request.args.get("next"), url_for("staff.home")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("auth.login"))


def _load_staff() -> None:
    g.staff = None
    staff_id = session.get("staff_id")
    if staff_id is None:
        return
    user = get_session().get(User, staff_id)
    if user is None or not user.is_active or session.get("staff_key") != _credential_key(user):
        session.pop("staff_id", None)
        session.pop("staff_key", None)
        return
    g.staff = user


def _credential_key(user: User) -> str:
    """Ties a signed-in session to the password it was opened with: a password reset (the
    account may be compromised) ends every session of the account."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def init_app(app: Flask) -> None:
    app.permanent_session_lifetime = timedelta(hours=8)
    app.before_request(_load_staff)
    app.register_blueprint(bp)
