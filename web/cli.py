"""The `lienthong` command: run the system, migrate, manage the directory, verify the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from services.config import Settings, get_settings, reset_settings


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "data_dir", None):
        os.environ["LIENTHONG_DATA_DIR"] = str(args.data_dir)
    reset_settings()
    return get_settings()


def _serving(args: argparse.Namespace) -> Settings:
    """Settings of a long-running process (dev, web, worker), its logging configured."""
    from services.logs import configure

    settings = _settings(args)
    configure(settings.log_format)
    return settings


def cmd_dev(args: argparse.Namespace) -> int:
    from web.runtime import run_dev

    settings = _serving(args)
    asyncio.run(run_dev(settings, host=args.host, port=args.port, temporal_port=args.temporal_port, ui_port=args.temporal_ui_port))
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from web.runtime import WEBSOCKETS, web_app

    settings = _serving(args)
    # log_config=None: uvicorn's loggers go through the handler _serving installed.
    uvicorn.run(web_app(settings), host=args.host, port=args.port, proxy_headers=True, log_config=None, **WEBSOCKETS)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from web.runtime import install_stop_signals, run_worker

    settings = _serving(args)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_worker(settings, stop=stop)

    asyncio.run(main())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.story import main

    return main(args.base_url, wait_seconds=args.wait)


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.sqlalchemy_url)
    print("Đã cập nhật cơ sở dữ liệu — database is up to date.")
    return 0


def _run_in_session(args: argparse.Namespace, work, *, read_only: bool = False):
    from services.db import get_database
    from services.errors import DomainError

    _settings(args)

    async def main():
        try:
            database = get_database()
            async with database.read() if read_only else database.session() as session:
                return await work(session)
        finally:
            await get_database().dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        print(f"Lỗi: {exc.message} — {exc.message_en}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from demo.directory import seed_demo

    created = _run_in_session(args, lambda session: seed_demo(session))
    print("Đã tạo dữ liệu mẫu." if created else "Dữ liệu mẫu đã có sẵn — demo data already present.")
    return 0


def cmd_create_org(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from services.audit.service import Actor
    from services.directory import service as directory
    from services.directory.models import Level, Organization

    async def work(session):
        parent_id = None
        if args.parent:
            parent_id = await session.scalar(select(Organization.id).where(Organization.code == args.parent))
            if parent_id is None:
                print(f"Không có cơ quan mã {args.parent}", file=sys.stderr)
                raise SystemExit(2)
        org = await directory.create_org(
            session,
            actor=Actor.system("cli"),
            code=args.code,
            name=args.name,
            abbreviation=args.abbreviation,
            level=Level(args.level),
            parent_id=parent_id,
            place=args.place,
            parent_body=args.parent_body,
        )
        return org.id

    print(f"Đã tạo cơ quan #{_run_in_session(args, work)}")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    import getpass

    from sqlalchemy import select

    from services.audit.service import Actor
    from services.directory import service as directory
    from services.directory.models import Organization, Role

    password = args.password or os.environ.get("LIENTHONG_NEW_PASSWORD") or getpass.getpass("Mật khẩu / password: ")

    async def work(session):
        org_id = await session.scalar(select(Organization.id).where(Organization.code == args.org))
        if org_id is None:
            print(f"Không có cơ quan mã {args.org}", file=sys.stderr)
            raise SystemExit(2)
        user = await directory.create_user(
            session,
            actor=Actor.system("cli"),
            username=args.username,
            password=password,
            full_name=args.full_name,
            organization_id=org_id,
            position=args.position,
            email=args.email,
            phone=args.phone,
            roles=[Role(r) for r in args.role],
        )
        return user.id

    print(f"Đã tạo người dùng #{_run_in_session(args, work)}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from services.audit import service as audit

    if args.file:
        trusted = None
        if args.public_key:
            from services.audit.keys import key_id, load_public_key_pem

            key = load_public_key_pem(Path(args.public_key).read_text())
            trusted = {key_id(key): key}
        with open(args.file, encoding="utf-8") as handle:
            result = audit.verify_export(handle, trusted_keys=trusted)
    else:
        settings = _settings(args)
        # A read-only snapshot: verifying a long trail never holds up the writers.
        result = _run_in_session(args, lambda session: audit.verify_database(session, data_dir=settings.data_dir), read_only=True)
    if result.ok:
        print(f"Nhật ký nguyên vẹn — trail intact: {result.entries_checked} entries, {result.checkpoints_checked} checkpoints.")
        return 0
    print(f"NHẬT KÝ BỊ THAY ĐỔI — TRAIL ALTERED. First bad sequence number: {result.first_bad_seq}", file=sys.stderr)
    for problem in result.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from services.audit import service as audit

    settings = _settings(args)

    async def work(session):
        count = 0
        with open(args.out, "w", encoding="utf-8") as handle:
            async for line in audit.export_lines(session, data_dir=settings.data_dir):
                handle.write(line + "\n")
                count += 1
        return count

    print(f"Đã ghi {_run_in_session(args, work)} dòng vào {args.out}")
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from services.audit import service as audit

    settings = _settings(args)
    checkpoint = _run_in_session(args, lambda session: audit.create_checkpoint(session, data_dir=settings.data_dir))
    print(json.dumps({"created": checkpoint is not None, "last_seq": getattr(checkpoint, "last_seq", None)}))
    return 0


def cmd_audit_new_key(args: argparse.Namespace) -> int:
    """A new checkpoint key after the old one is lost for good; never over an existing key."""
    from services.audit import keys

    settings = _settings(args)
    if keys.load_system_key(settings.data_dir) is not None:
        print(f"The checkpoint key {keys.key_path(settings.data_dir)} exists: nothing done.", file=sys.stderr)
        return 1
    key = keys.create_system_key(settings.data_dir)
    print(
        f"New checkpoint key {keys.key_id(key.public_key())} in {keys.key_path(settings.data_dir)}. Checkpoints signed by the lost "
        "key verify again once its public key is saved as keys/audit-retired-<id>.pub.pem (from an export or a backup)."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lienthong", description="Liên Thông — văn bản điện tử và họp không giấy")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", type=Path, help="data directory (default: $LIENTHONG_DATA_DIR or ./var)")
        return p

    dev = with_data_dir(sub.add_parser("dev", help="the whole system, embedded: Temporal dev server, SQLite, worker, web"))
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--temporal-port", type=int, default=7233)
    dev.add_argument("--temporal-ui-port", type=int, default=8233)
    dev.set_defaults(func=cmd_dev)

    web = with_data_dir(sub.add_parser("web", help="the web app (production: configured DB and Temporal)"))
    web.add_argument("--host", default="0.0.0.0")
    web.add_argument("--port", type=int, default=8000)
    web.set_defaults(func=cmd_web)

    demo = sub.add_parser("demo", help="the whole story through the public API, against a running instance with the demo data")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000")
    demo.add_argument("--wait", type=float, default=180.0, help="seconds to wait for each workflow step")
    demo.set_defaults(func=cmd_demo)

    with_data_dir(sub.add_parser("worker", help="the Temporal worker")).set_defaults(func=cmd_worker)
    with_data_dir(sub.add_parser("migrate", help="apply database migrations")).set_defaults(func=cmd_migrate)
    with_data_dir(sub.add_parser("seed-demo", help="create the demo organisations and users")).set_defaults(func=cmd_seed_demo)

    org = with_data_dir(sub.add_parser("create-org", help="create an organisation"))
    org.add_argument("--code", required=True)
    org.add_argument("--name", required=True)
    org.add_argument("--abbreviation", required=True)
    org.add_argument("--level", required=True, choices=["province", "district", "commune", "branch"])
    org.add_argument("--parent", help="parent organisation code")
    org.add_argument("--place")
    org.add_argument("--parent-body")
    org.set_defaults(func=cmd_create_org)

    user = with_data_dir(sub.add_parser("create-user", help="create a user"))
    user.add_argument("--username", required=True)
    user.add_argument("--full-name", required=True)
    user.add_argument("--org", required=True, help="organisation code")
    user.add_argument("--role", action="append", default=[], help="admin, clerk, leader, deputy_leader, officer, secretary, auditor")
    user.add_argument("--position")
    user.add_argument("--email")
    user.add_argument("--phone")
    user.add_argument("--password", help="prefer the prompt or $LIENTHONG_NEW_PASSWORD: arguments show in `ps`")
    user.set_defaults(func=cmd_create_user)

    audit = sub.add_parser("audit", help="verify or export the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = with_data_dir(audit_sub.add_parser("verify", help="recompute the chain and checkpoints"))
    verify.add_argument("--file", help="verify an exported trail offline instead of the database")
    verify.add_argument("--public-key", help="PEM of the checkpoint key obtained out of band")
    verify.set_defaults(func=cmd_audit_verify)
    export = with_data_dir(audit_sub.add_parser("export", help="write entries and checkpoints as JSON lines"))
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_audit_export)
    checkpoint = with_data_dir(audit_sub.add_parser("checkpoint", help="sign a checkpoint now"))
    checkpoint.set_defaults(func=cmd_audit_checkpoint)
    new_key = with_data_dir(audit_sub.add_parser("new-key", help="start a new checkpoint key when the old one is lost"))
    new_key.set_defaults(func=cmd_audit_new_key)

    from signing.cli import add_signing_commands
    from signing.pki_cli import add_pki_commands

    add_signing_commands(sub)
    add_pki_commands(sub, people_provider=_directory_people)
    return parser


def _directory_people(args: argparse.Namespace):
    """`pki init` covers the directory's signers and organisations, with the demo PIN. On a fresh
    data dir the database is created first (an empty directory: the PKI has only its CAs)."""
    from demo.directory import DEMO_PIN
    from services.migrate import upgrade
    from signing.service import directory_specs

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    return _run_in_session(args, lambda session: directory_specs(session, pin=DEMO_PIN))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
