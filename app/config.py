"""Configuration read from the environment (see README, "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_dir() -> Path:
    return Path(os.environ.get("KONTOR_INSTANCE", "instance")).resolve()


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into the instance folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


class Config:
    """Settings for one Kontor instance; every value can come from the environment."""

    def __init__(self) -> None:
        self.INSTANCE_DIR = _instance_dir()
        self.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = _secret_key(self.INSTANCE_DIR)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", f"sqlite:///{self.INSTANCE_DIR / 'kontor.db'}"
        )
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        # LIFO: the most recently used connection (with a warm page cache) serves next.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_use_lifo": True}
        limit = os.environ.get("KONTOR_CONTACT_LIMIT", "").strip()
        self.CONTACT_LIMIT = int(limit) if limit else None
        self.PHONE_REGION = os.environ.get("KONTOR_PHONE_REGION", "").upper() or None
        self.LOGIN_RATE_LIMIT = os.environ.get("KONTOR_LOGIN_RATE_LIMIT", "10 per minute")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None
        self.BABEL_DEFAULT_LOCALE = "en"
        self.LANGUAGES = ["en", "fr"]
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.PAGE_SIZE = int(os.environ.get("KONTOR_PAGE_SIZE", "50"))
        self.MAX_CONTENT_LENGTH = int(os.environ.get("KONTOR_MAX_UPLOAD_MB", "200")) * 1024 * 1024
        # Background jobs: "huey" sends them to workers; "manual" leaves them queued (tests).
        self.JOBS_QUEUE = os.environ.get("KONTOR_JOBS_QUEUE", "huey")
        self.JOBS_QUEUE_NAME = os.environ.get("KONTOR_QUEUE_NAME", "kontor")
        self.JOB_STALE_SECONDS = int(os.environ.get("KONTOR_JOB_STALE_SECONDS", "120"))
        # Imports: rows per committed batch (the checkpoint), and a second core for big files.
        self.IMPORT_BATCH_SIZE = int(os.environ.get("KONTOR_IMPORT_BATCH", "5000"))
        self.IMPORT_PARALLEL = os.environ.get("KONTOR_IMPORT_PARALLEL", "1") != "0"
        # Days an export job's file is kept for download (0: for ever).
        self.EXPORT_KEEP_DAYS = int(os.environ.get("KONTOR_EXPORT_KEEP_DAYS", "7") or 0)
        # worker processes of a big duplicate scan (0: one per core; 1: the scan's own)
        self.DEDUPE_PROCESSES = int(os.environ.get("KONTOR_DEDUPE_PROCESSES", "0") or 0)
        # Integrations: the key(s) that encrypt tokens (comma-separated, newest first;
        # derived from SECRET_KEY when unset), and each provider's client id, secret and
        # URLs as KONTOR_<NAME>_CLIENT_ID and so on (read by app.integrations.accounts).
        self.ENCRYPTION_KEY = os.environ.get("KONTOR_ENCRYPTION_KEY") or None
        self.INTEGRATIONS: dict[str, dict[str, str]] = {}
