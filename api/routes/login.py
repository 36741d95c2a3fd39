"""OAuth2 password flow: a username and password for a signed access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import PasswordsDep, SessionDep, SettingsDep
from api.security import create_access_token

router = APIRouter(tags=["login"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/login/access-token", response_model=Token)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: SessionDep, settings: SettingsDep,
    passwords: PasswordsDep,
) -> Token:
    row = db.one("SELECT id, password_hash, active FROM users WHERE username = ?", (form.username,))
    if not passwords.verify(row["password_hash"] if row is not None else None, form.password):
        db.audit(form.username[:64], "login_failed", "login")
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "incorrect username or password")
    assert row is not None
    if not row["active"]:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "inactive user")
    return Token(access_token=create_access_token(settings, row["id"]), expires_in=settings.access_token_minutes * 60)
