"""Sign-in: browser sessions (CSRF-protected form) and bearer tokens for the JSON API; user admin."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from pydantic import BaseModel, Field

from blueprints._openapi import api_doc
from blueprints._web import api_user, parse_json, public, roles_required
from extensions import db, limiter
from models import User
from services import auth as auth_service
from services.errors import Unauthorized

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def _login_key() -> str:
    """A hard limit per client address: one address cannot spray passwords over many accounts. Each account is
    protected by a growing delay instead (services/login_throttle), so an attacker cannot lock its owner out."""
    return f"login:{request.remote_addr}"


class TokenRequest(BaseModel):
    email: str = Field(min_length=3, max_length=255)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field(default="api", max_length=100)


class NewUser(BaseModel):
    email: str = Field(max_length=255)
    password: str = Field(max_length=1024)
    role: str
    name: str = Field(default="", max_length=200)


class UserChange(BaseModel):
    role: str | None = None
    active: bool | None = None


class UserOut(BaseModel):
    """A user's public fields."""

    id: int
    email: str
    name: str | None
    role: str
    active: bool


class UserList(BaseModel):
    items: list[UserOut]


class TokenOut(BaseModel):
    """A new bearer token (shown once) and its user."""

    token: str
    token_type: Literal["Bearer"]
    user: UserOut
    expires_in_days: int


def user_dict(user: User) -> dict[str, object]:
    """Public fields of a user."""
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "active": user.active}


@bp.get("/login")
@public
def login_page() -> str:
    return render_template("login.html")


@bp.post("/login")
@public
@limiter.shared_limit(_login_limit, scope="sign-in", key_func=_login_key)
def login_submit() -> Response:
    user = auth_service.verify_credentials(request.form.get("email", ""), request.form.get("password", ""))
    if user is None:
        flash("Email or password is wrong.", "error")
        return redirect(url_for("auth.login_page"))  # type: ignore[return-value]
    db.session.commit()
    login_user(user)
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("pages.index"))  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("auth.login_page"))  # type: ignore[return-value]


@bp.post("/api/auth/token")
@api_doc(body=TokenRequest, response=TokenOut, status=201)
@public
@limiter.shared_limit(_login_limit, scope="sign-in", key_func=_login_key)
def issue_token() -> tuple[Response, int]:
    body = parse_json(TokenRequest)
    user = auth_service.verify_credentials(body.email, body.password)
    if user is None:
        raise Unauthorized("Email or password is wrong", code="invalid_credentials")
    token = auth_service.issue_token(user, current_app.config["API_TOKEN_TTL_DAYS"], body.name)
    db.session.commit()
    return jsonify(
        {
            "token": token,
            "token_type": "Bearer",
            "user": user_dict(user),
            "expires_in_days": current_app.config["API_TOKEN_TTL_DAYS"],
        }
    ), 201


@bp.delete("/api/auth/token")
@api_doc(status=204)
def revoke_token() -> tuple[str, int]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        auth_service.revoke_token(header[7:].strip())
        db.session.commit()
    return "", 204


@bp.get("/api/auth/me")
@api_doc(response=UserOut)
def me() -> Response:
    return jsonify(user_dict(api_user()))


@bp.get("/api/users")
@api_doc(response=UserList)
@roles_required("admin")
def list_users() -> Response:
    return jsonify({"items": [user_dict(u) for u in auth_service.list_users()]})


@bp.post("/api/users")
@api_doc(body=NewUser, response=UserOut, status=201)
@roles_required("admin")
def create_user() -> tuple[Response, int]:
    body = parse_json(NewUser)
    user = auth_service.create_user(body.email, body.password, body.role, body.name)
    db.session.commit()
    return jsonify(user_dict(user)), 201


@bp.patch("/api/users/<int:user_id>")
@api_doc(body=UserChange, response=UserOut)
@roles_required("admin")
def change_user(user_id: int) -> Response:
    body = parse_json(UserChange)
    user = auth_service.update_user(user_id, body.role, body.active, api_user().id)
    db.session.commit()
    return jsonify(user_dict(user))
