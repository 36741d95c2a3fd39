"""Platform settings from the environment (``ICSSA_*``) or keyword arguments.

No settings object exists at import time: ``create_app(settings)`` takes one, and the
``get_settings`` dependency hands the app's object to routes (tests build their own).
Outside ``development`` the default secrets are refused, and so is a missing bootstrap
password when a bootstrap admin is named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the development secret: accepted only with environment=development
DEFAULT_SECRET = "changethis"

Tlp = Literal["clear", "green", "amber", "amber+strict", "red"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ICSSA_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    #: signs access tokens (HS256); at least 32 characters outside development
    secret_key: str = DEFAULT_SECRET
    access_token_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    #: argon2id cost (RFC 9106 low-memory profile by default; tests lower it)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=64)

    store_url: str = "sqlite:///icssa-store.db"
    db_path: Path = Path("icssa-platform.db")
    #: YAML organization tree loaded (upserted) at start-up
    orgs_file: Path | None = None
    workspace_dir: Path = Path("icssa-workspaces")
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    #: connections to an SQLite store (one per concurrent reader; Elasticsearch uses one client)
    store_connections: int = Field(default=4, ge=1, le=64)
    #: advisories and graph read at most this many store documents per request
    max_scan: int = Field(default=200_000, ge=100)

    #: first admin, created at start-up when absent (organization: the tree's root)
    first_admin: str | None = None
    first_admin_password: str | None = None

    #: name of this platform in STIX identities and TAXII discovery
    platform_name: str = "icssa"
    #: TLP of an alert that carries none (``marking.tlp``) and has no override
    default_tlp: Tlp = "amber"
    #: parent platform: the TAXII collection URL that accepts our objects
    upstream_url: str | None = None
    upstream_api_key: str | None = None
    upstream_user: str | None = None
    upstream_password: str | None = None
    #: TLP:AMBER goes upstream (the parent coordinates response: need to know)
    forward_amber: bool = True
    #: TLP:AMBER+STRICT stays in the organization unless policy says otherwise; RED never leaves
    forward_amber_strict: bool = False
    #: seconds between background sharing passes (alerts -> STIX, outbox -> upstream); 0 = off
    sync_interval: float = Field(default=5.0, ge=0)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    #: alerts older than the newest seen minus this are not rescanned for sharing
    sync_grace_seconds: int = Field(default=3600, ge=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
            raise ValueError(
                f"ICSSA_SECRET_KEY must be set to a random value of 32+ characters "
                f"(environment {self.environment}); the default is for development only"
            )
        if self.first_admin and (not self.first_admin_password or self.first_admin_password == DEFAULT_SECRET):
            raise ValueError("ICSSA_FIRST_ADMIN_PASSWORD must be set (not the default) outside development")
        return self
