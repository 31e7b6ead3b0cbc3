"""All of Tollhouse's configuration: one settings class of nested sections.

Every value can be set from the environment with the ``TOLLHOUSE_`` prefix and
``__`` between section and field, e.g. ``TOLLHOUSE_DATABASE__URL``. The
embedded default needs no configuration at all: a SQLite file and a dev
issuer under ``home`` (``./.tollhouse``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseModel):
    # Empty means the embedded default: a SQLite file under ``home``.
    url: str = ""
    echo: bool = False


class AuthSettings(BaseModel):
    # Dev mode runs the built-in issuer whose keys live under ``home``; it is
    # for one machine only and is marked as dev wherever it shows.
    dev_mode: bool = True
    issuer: str = "tollhouse-dev"
    audience: str = "tollhouse"
    jwks_url: str = ""
    public_key_path: str = ""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    # Accepted values of the JOSE ``typ`` header; "" matches a token without one.
    accepted_typ: list[str] = Field(default_factory=lambda: ["at+jwt", "JWT"])
    max_token_bytes: int = 8192
    leeway_seconds: int = 30
    roles_claim: str = "roles"
    groups_claim: str = "groups"
    dev_token_ttl_seconds: int = 3600


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000


class RegistrySettings(BaseModel):
    # Sign-off kinds every version needs on top of the built-in rules.
    extra_signoff_kinds: list[str] = Field(default_factory=list)


class GatewaySettings(BaseModel):
    # The URL clients reach this gateway at; empty means http://{server.host}:{server.port}.
    # It is the issuer of delegated tokens and, with "/mcp", their audience.
    public_url: str = ""
    # PEM private key signing delegated and downstream tokens; empty means a
    # key generated under ``home/gateway`` on first start.
    signing_key_path: str = ""
    delegated_token_ttl_seconds: int = Field(default=900, ge=30, le=900)
    downstream_token_ttl_seconds: int = Field(default=60, ge=5, le=300)
    agent_assertion_max_age_seconds: int = Field(default=300, ge=30, le=3600)
    # How long an agent's status and grants are cached; a suspension bites within this.
    agent_cache_seconds: float = Field(default=2.0, ge=0)
    # How long the approved catalogue is trusted before it is re-read (other replicas' changes).
    catalogue_ttl_seconds: float = Field(default=5.0, ge=0)
    upstream_refresh_seconds: float = Field(default=60.0, ge=0)
    approval_ttl_seconds: int = Field(default=900, ge=30)
    # Empty: rate-limit counters in this process only.
    rate_limit_redis_url: str = ""
    mcp_stateless: bool = False
    mcp_json_response: bool = True
    # Host and Origin allow-lists of /mcp (DNS-rebinding protection); empty
    # means the public URL's host and loopback.
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)


class LlmModel(BaseModel):
    # The litellm model string, e.g. "openai/gpt-4o-mini" or "anthropic/claude-...".
    litellm_model: str
    api_base: str = ""
    # Name of the environment variable holding the provider key; the key itself is never stored.
    api_key_env: str = ""


class LlmSettings(BaseModel):
    # Models offered at /v1/chat/completions, by the name clients use.
    models: dict[str, LlmModel] = Field(default_factory=dict)
    # Agent client id -> model names it may use ("*" = any offered model). An agent not listed may use none.
    agent_models: dict[str, list[str]] = Field(default_factory=dict)
    # What of prompts and completions the audit record keeps: "redacted" (shape only), "full", or "none".
    record_bodies: Literal["redacted", "full", "none"] = "redacted"
    timeout_seconds: float = Field(default=60.0, gt=0)


class AuditSettings(BaseModel):
    # Signed checkpoints of the chain head live outside the database.
    checkpoint_dir: str = ""
    # Ed25519 private key signing checkpoints; never in the database.
    checkpoint_key_path: str = ""
    # 0: only on demand (tollhouse audit checkpoint) and by the scheduler.
    checkpoint_interval_seconds: float = Field(default=3600.0, ge=0)
    # Records written in one transaction at most, when concurrent calls are grouped.
    group_commit_max: int = Field(default=256, ge=1)


class JobSettings(BaseModel):
    # Empty: the embedded default, Celery's SQLAlchemy transport on a SQLite file under home.
    broker_url: str = ""
    result_backend: str = ""
    # Start a worker (with the schedule) beside the gateway in `tollhouse serve`.
    embedded_worker: bool = True
    worker_concurrency: int = Field(default=2, ge=1)
    # Redis/SQS: how long an unacknowledged message waits before it is delivered again.
    visibility_timeout_seconds: int = Field(default=3600, ge=1)
    # Redis: how often a worker sweeps for messages whose visibility timeout has passed.
    restore_interval_seconds: int = Field(default=10, ge=1)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A running job whose worker has been silent this long is re-enqueued.
    stale_after_seconds: float = Field(default=60.0, gt=0)
    reap_interval_seconds: float = Field(default=30.0, ge=0)
    max_retries: int = Field(default=3, ge=0)
    retry_backoff_seconds: float = Field(default=2.0, gt=0)
    # The schedule (0 switches an entry off).
    recsys_rebuild_seconds: float = Field(default=86400.0, ge=0)
    checkpoint_seconds: float = Field(default=3600.0, ge=0)


class TelemetrySettings(BaseModel):
    service_name: str = "tollhouse"
    # "none" keeps spans in-process only; "console" prints them; "otlp" needs an endpoint.
    exporter: str = "none"
    otlp_endpoint: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLHOUSE_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Path(".tollhouse")
    # Real data for the analytic tools; empty means ../shared/data when it exists.
    data_dir: str = ""
    seed_demo: bool = True
    # More in-process tools, as "module:ATTRIBUTE" naming a sequence of ToolSpecs.
    extra_tool_modules: list[str] = Field(default_factory=list)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Settings:
        if not self.auth.dev_mode and not (self.auth.jwks_url or self.auth.public_key_path):
            raise ValueError(
                "auth.dev_mode is off but neither auth.jwks_url nor auth.public_key_path is set"
            )
        return self

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{(self.home / 'tollhouse.db').resolve()}"

    @property
    def public_url(self) -> str:
        return (self.gateway.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

    @property
    def mcp_resource(self) -> str:
        """The resource identifier (and delegated-token audience) of /mcp."""
        return f"{self.public_url}/mcp"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.audit.checkpoint_dir) if self.audit.checkpoint_dir else self.home / "audit" / "checkpoints"

    @property
    def checkpoint_key_path(self) -> Path:
        return Path(self.audit.checkpoint_key_path) if self.audit.checkpoint_key_path else self.home / "audit" / "checkpoint-key.pem"

    @property
    def broker_url(self) -> str:
        return self.jobs.broker_url or f"sqla+sqlite:///{(self.home / 'broker.db').resolve()}"

    @property
    def result_backend(self) -> str:
        return self.jobs.result_backend or f"db+sqlite:///{(self.home / 'job-results.db').resolve()}"

    @property
    def data_path(self) -> Path | None:
        if self.data_dir:
            return Path(self.data_dir)
        default = Path("../shared/data")
        return default if default.is_dir() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
