"""Service settings, read once from the environment (or a local .env file) when the module is imported."""

from typing import Literal

from pydantic import Field, PostgresDsn, RedisDsn
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment; the first three have no default on purpose."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: PostgresDsn
    redis_url: RedisDsn
    jwt_secret: str = Field(min_length=32)

    environment: Literal["development", "staging", "production"] = "development"
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    token_ttl_seconds: int = Field(default=900, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    rate_limit_per_minute: int = Field(default=120, gt=0)


settings = Settings()
