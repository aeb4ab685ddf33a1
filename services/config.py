"""The one place settings are read (environment `LIENTHONG_*` and `.env`)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SigningKeyRef(BaseModel):
    """Where one signer's key lives in production: a PKCS#12 file, or a PKCS#11 token key."""

    p12_path: Path | None = None
    pkcs11_module: Path | None = Field(None, description="Default: Settings.pkcs11_module.")
    token_label: str | None = None
    key_label: str | None = None
    cert_label: str | None = Field(None, description="Default: same as key_label.")


class ExchangePartner(BaseModel):
    """A system outside this installation that exchanges edXML packages with it."""

    organ_id: str = Field(description="Its electronic identifier (Decision 20/2020/QĐ-TTg).")
    name: str = Field(description="Its name as our outgoing documents list it among the recipients.")
    drop: Path = Field(description="The folder its gateway reads (our packages and statuses are written there).")


class Settings(BaseSettings):
    """Liên Thông settings; every field maps to `LIENTHONG_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="LIENTHONG_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the SQLite files, blobs, keys and PKI live.")
    database_url: str | None = Field(None, description="SQLAlchemy async URL; default: SQLite file in the data dir.")
    blob_url: str | None = Field(
        None,
        description="Where files live when web and worker processes run on several hosts: an S3-compatible bucket, "
        "`s3://bucket[/prefix]?endpoint=https://…&region=…` (credentials from AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY); the data dir then only caches them. Default: files in the data dir.",
    )
    temporal_address: str | None = Field(None, description="host:port of the Temporal frontend; unset in `dev` = embedded dev server.")
    db_lock_timeout_seconds: float = Field(
        15.0, description="Longest wait for a database lock; past it the user is told the system is busy (503)."
    )
    db_statement_timeout_seconds: float = Field(120.0, description="Longest PostgreSQL statement.")
    temporal_namespace: str = "default"
    task_queue: str = "lienthong"
    workflow_id_prefix: str | None = Field(
        None,
        description="Prefix of every workflow ID; default: this database's own (made when it was created), so a "
        "fresh database beside an older Temporal never collides. '' for none.",
    )
    secret_key: str | None = Field(
        None, description="Signs cookies and tokens; generated in the data dir by `dev`, required in production."
    )
    payload_keys: SecretStr | None = Field(
        None,
        description="Keys that encrypt Temporal payloads, `kid1:base64key,kid2:base64key` (32-byte keys); the first "
        "encrypts, all decrypt. Generated in the data dir by `dev`, required in production.",
    )
    temporal_ui_origins: list[str] = Field(
        default_factory=list,
        description="Origins of Temporal UIs allowed to call the codec endpoint /temporal-codec "
        '(JSON list, e.g. ["https://temporal.example.vn"]); `dev` adds its own UI.',
    )
    production: bool = Field(False, description="Refuse to start without explicit secrets.")
    password_hashing: Literal["standard", "cheap-for-tests"] = Field(
        "standard",
        description="argon2id cost of password hashes: `standard` (RFC 9106 low-memory profile). `cheap-for-tests` "
        "is the test suite's (tests/conftest.py), the same format at the lowest cost; ignored in production.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token a Prometheus scraper presents to GET /metrics; unset: only scrapers on this host (loopback)."
    )
    metrics_port: int | None = Field(
        None, description="`lienthong worker`: serve its Prometheus metrics (signing, conversion) on this port (all interfaces)."
    )
    temporal_metrics_port: int | None = Field(
        None, description="Serve the Temporal SDK's Prometheus metrics (workflow and activity latencies, polls) on this port."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line, with the request ID and the workflow ID when there is one."
    )
    upload_max_bytes: int = Field(25 * 1024 * 1024, description="Largest accepted upload.")
    office_max_unpacked_bytes: int = Field(
        100 * 1024 * 1024, description="Largest total uncompressed size of an uploaded DOCX/XLSX (zip bombs are refused)."
    )
    office_max_compression_ratio: float = Field(
        100.0, description="Largest uncompressed/compressed size ratio of an uploaded DOCX/XLSX over 1 MB unpacked."
    )
    office_memory_mb: int = Field(4096, description="Address-space limit of each LibreOffice process converting uploaded documents (MB).")
    register_print_part_rows: int = Field(
        500, ge=1, description="Rows of a register book converted at a time when it is printed in the background (a part each)."
    )
    preview_memory_mb: int = Field(1024, description="Memory limit of poppler rendering a page preview (MB).")
    preview_timeout_seconds: float = Field(30, description="Time limit of rendering one page preview.")
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "lienthong@localhost"
    smtp_starttls: bool = False
    audit_checkpoint_minutes: int = Field(60, description="How often the audit checkpoint workflow runs.")
    exchange_partners: list[ExchangePartner] = Field(
        default_factory=list, description="Partners reached by drop folder: JSON list of {organ_id, name, drop}."
    )
    exchange_inbox: Path | None = Field(
        None, description="The folder the worker imports packages and statuses from (default <data dir>/exchange/inbox)."
    )
    exchange_poll_seconds: float = Field(5, description="How often the worker looks into the exchange inbox.")
    archive_every_days: int = Field(7, description="How often the archive pass stamps and refreshes final documents (PAdES B-LTA).")
    archive_margin_days: int = Field(
        90, description="Refresh a document's archive time stamp this long before the authority's certificate expires."
    )
    archive_retry_days: int = Field(
        30, description="Least time between two refreshes of one document (while the authority's certificate is still expiring)."
    )
    # Sign-in throttling: after the free failures, each further attempt waits twice as long as the
    # last (from the base up to the cap); failures older than the window are forgotten.
    login_free_failures_per_account: int = Field(
        3, description="Failed sign-ins to one account from one address before attempts are delayed."
    )
    login_free_failures_per_address: int = Field(
        20, description="Failed sign-ins from one address (any account) before attempts are delayed."
    )
    login_delay_base_seconds: int = 2
    login_delay_max_seconds: int = 15 * 60
    login_failure_window_minutes: int = 60
    session_hours: int = 12
    api_token_requests_per_minute: int = Field(
        600, ge=1, description="Requests one API token may send per minute (per web process); beyond, 429 with Retry-After."
    )
    cookie_secure: bool | None = Field(None, description="Force the Secure cookie flag; by default it follows the request scheme.")

    # --- signing ---
    trust_profile: Literal["vn", "none"] = Field(
        "vn",
        description="Shipped trust anchors (signing/anchors): `vn` = RootCA chuyên dùng Chính phủ G2 with its "
        "issuing CA and the Vietnam National Root CA; `none` = only the files below.",
    )
    trust_roots: list[Path] = Field(
        default_factory=list,
        description="More PEM/DER root CA files trusted for signatures, besides the profile's; outside "
        "production the dev PKI in the data dir is trusted too, when it exists.",
    )
    trust_intermediates: list[Path] = Field(default_factory=list, description="PEM/DER intermediate CA files that help build chains.")
    tsa_url: str | None = Field(None, description="RFC 3161 time-stamping URL; default: the dev TSA.")
    pades_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = Field("B-LT", description="PAdES level of signatures we apply.")
    revocation_mode: Literal["soft-fail", "hard-fail", "require"] = Field("hard-fail", description="pyHanko revocation mode when signing.")
    trust_services_host: str = Field("127.0.0.1", description="Where the dev CRL/OCSP/TSA service listens.")
    trust_services_port: int = Field(8765, description="Port of the dev CRL/OCSP/TSA service.")
    pkcs11_module: Path | None = Field(None, description="PKCS#11 module for HSM/token keys, e.g. /usr/lib/softhsm/libsofthsm2.so.")
    signing_keys: dict[str, SigningKeyRef] = Field(
        default_factory=dict,
        description='Per-signer key overrides, keyed "person:<username>" or "org:<code>" (JSON).',
    )
    pin_max_failures: int = Field(
        5, description="Wrong PINs in a row after which a key (a person's or the seal) is locked until an administrator unlocks it."
    )
    pin_delay_seconds: float = Field(
        2.0, description="After the n-th wrong PIN in a row (n ≥ 2; one typo is free) the key refuses attempts for this × 2^(n-2) seconds."
    )
    pin_delay_max_seconds: float = Field(900.0, description="Longest wait between two PIN attempts on one key.")
    # --- end signing ---

    # --- incoming documents ---
    incoming_reminder_working_days: int = Field(
        2, description="Remind the lead handler this many working days before an incoming document's due date."
    )
    incoming_escalate_after_working_days: int = Field(
        1, description="Escalate an overdue incoming document to the leader after this many working days."
    )
    incoming_default_due_working_days: int = Field(10, description="Due date proposed on the direction form.")
    # --- end incoming documents ---

    # --- outgoing documents ---
    outgoing_dispatch_timeout_seconds: int = Field(60, description="How long one delivery to a recipient may take before it is retried.")
    outgoing_review_reminder_hours: int = Field(
        24, description="Remind the reviewers whose turn it is this many hours before the review deadline."
    )
    # --- end outgoing documents ---

    # --- meetings ---
    # No bridge until one is configured: a public server would carry the union's meetings off-site.
    meeting_video_provider: Literal["jitsi", "bbb", "none"] = Field(
        "none", description="Video bridge for online meetings: Jitsi Meet, BigBlueButton or none (the default)."
    )
    meeting_jitsi_base: str | None = Field(
        None, description="Jitsi Meet base URL (the organisation's own server); rooms are <base>/<room>."
    )
    meeting_jitsi_app_id: str | None = Field(None, description="Jitsi JWT `iss` (app id) when tokens are used.")
    meeting_jitsi_secret: str | None = Field(None, description="Jitsi JWT HS256 secret; set = signed join links.")
    meeting_bbb_url: str | None = Field(None, description="BigBlueButton API base, e.g. https://bbb.example.vn/bigbluebutton/")
    meeting_bbb_secret: str | None = Field(None, description="BigBlueButton shared secret (checksums).")
    meeting_room_prefix: str = Field("lienthong", description="Prefix of the derived video room names.")
    meeting_quorum_ratio: float = Field(0.5, description="Quorum: more than this share of voting members present.")
    meeting_reminder_minutes: list[int] = Field(
        default_factory=lambda: [24 * 60, 60], description="Reminders this many minutes before the start."
    )
    # --- end meetings ---

    # --- minutes and tasks ---
    minutes_secretary_sign_working_days: int = Field(1, description="The secretary signs the closed minutes within this many working days.")
    minutes_chair_sign_working_days: int = Field(2, description="The chair signs within this many working days after the secretary.")
    task_reminder_working_days: int = Field(2, description="Remind a task's owner this many working days before its due date.")
    task_escalate_after_working_days: int = Field(
        1, description="Escalate an overdue task to the owner's leader after this many working days."
    )
    task_default_due_working_days: int = Field(10, description="Due date proposed when a task is assigned.")
    # --- end minutes and tasks ---

    # --- report requests ---
    report_reminder_hours: int = Field(48, description="Remind a target this many hours before its report deadline.")
    report_escalate_after_hours: int = Field(
        24, description="Escalate a missing report to the target's leader this many hours after the deadline."
    )
    report_fanout_batch: int = Field(100, description="Targets the report fan-out delivers per batch (one activity each).")
    # --- end report requests ---

    # --- webhooks ---
    webhook_allow_http_localhost: bool = Field(
        False, description="Accept webhook endpoints on http://127.0.0.1 or http://localhost (tests, a receiver on this host)."
    )
    webhook_timeout_seconds: float = Field(10.0, description="Longest wait for a webhook endpoint's answer.")
    webhook_max_attempts: int = Field(8, ge=1, description="Attempts of one delivery before it is marked failed.")
    webhook_backoff_seconds: float = Field(30.0, description="Wait after a delivery's first failed attempt; doubled after each next one.")
    webhook_backoff_max_seconds: float = Field(3600.0, description="Longest wait between two attempts of one delivery.")
    # --- end webhooks ---

    @property
    def inbox_dir(self) -> Path:
        return self.exchange_inbox or self.data_dir / "exchange" / "inbox"

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'lienthong.db'}"

    def ensure_secret_key(self) -> str:
        """Return the secret key, generating one in the data dir outside production."""
        if self.secret_key:
            return self.secret_key
        if self.production:
            raise RuntimeError("LIENTHONG_SECRET_KEY is required in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key

    def ensure_payload_keys(self) -> str:
        """The Temporal payload key ring, generating one in the data dir outside production.

        The file is the key: back it up with the data dir, or histories cannot be read again."""
        if self.payload_keys is not None and self.payload_keys.get_secret_value().strip():
            return self.payload_keys.get_secret_value()
        if self.production:
            raise RuntimeError("LIENTHONG_PAYLOAD_KEYS is required in production")
        from services.codec import new_key_entry

        path = self.data_dir / "payload_keys"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Created 0600 from the start: the key is never readable by others, not even briefly.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key_entry() + "\n")
        self.payload_keys = SecretStr(path.read_text().strip())
        return self.payload_keys.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and `dev` change the environment before use)."""
    get_settings.cache_clear()
