"""docker-compose.yml agrees with the code: every LIENTHONG_* it sets is a setting, every image is
pinned to an exact version, every long-running service has a health check, the proxy passes
WebSockets with the same rules as the test cluster (deploy/nginx-proxy.conf)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from services.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict] = COMPOSE["services"]


def test_every_lienthong_variable_it_sets_is_a_setting_and_production_secrets_are_required() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    seen: set[str] = set()
    for name, service in SERVICES.items():
        for key in service.get("environment") or {}:
            if key.startswith("LIENTHONG_"):
                assert key.removeprefix("LIENTHONG_") in fields, f"{name}: {key} is not a setting (services/config.py)"
                seen.add(key)
    env = SERVICES["web"]["environment"]
    for secret in ("LIENTHONG_SECRET_KEY", "LIENTHONG_PAYLOAD_KEYS", "LIENTHONG_METRICS_TOKEN"):
        assert ":?" in env[secret], f"{secret} must be required (${{VAR:?…}}), never defaulted"
    assert env["LIENTHONG_PRODUCTION"] == "true"
    assert env["LIENTHONG_BLOB_URL"].startswith("s3://"), "files must be shared by processes on every host"
    assert SERVICES["worker"]["environment"] == env and SERVICES["migrate"]["environment"] == env


def test_images_are_pinned_to_exact_versions() -> None:
    for name, service in SERVICES.items():
        if "build" in service:
            continue
        image = service["image"]
        repo, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d+\.\d+", tag) or re.fullmatch(r"RELEASE\.[\dT:-]+Z", tag), f"{name}: {image}: pin an exact version"


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no":  # one-shot jobs: migrate, schema set-up, bucket
            continue
        assert "healthcheck" in service, f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", f"{name} is not restarted after a crash or a reboot"
    assert SERVICES["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_proxy_uses_the_shared_rules_and_passes_websockets(tmp_path: Path) -> None:
    mounts = SERVICES["proxy"]["volumes"]
    assert "./deploy/nginx-proxy.conf:/etc/nginx/lienthong-proxy.conf:ro" in mounts
    main = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "include /etc/nginx/lienthong-proxy.conf;" in main and "$connection_upgrade" in main
    rules = (ROOT / "deploy" / "nginx-proxy.conf").read_text(encoding="utf-8")
    for directive in ("proxy_set_header Upgrade $http_upgrade;", "proxy_http_version 1.1;", "proxy_next_upstream error timeout;"):
        assert directive in rules
    from bench.stack import nginx_conf

    assert "include " + str(ROOT / "deploy" / "nginx-proxy.conf") in nginx_conf(tmp_path, 1, [2]).replace('"', "")


def test_temporal_and_its_ui_listen_on_the_host_s_loopback_only() -> None:
    for name in ("temporal", "temporal-ui"):
        assert all(str(p).startswith("127.0.0.1:") for p in SERVICES[name]["ports"]), f"{name} is published to every interface"
