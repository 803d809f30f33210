"""Secrets every service reads from the environment; none has a default, none is in the repo."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Secrets(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    operator_api_key: SecretStr = Field(min_length=16)
    tracking_secret: SecretStr = Field(min_length=16)
