"""`lienthong pki init|revoke|serve|list`: argparse wiring for the development PKI.

`web/cli.py` calls `add_pki_commands(subparsers, people_provider=...)`; the provider
supplies the people and organisations (the demo directory, later the database) when
`--from-json` is not given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signing.pki import PeopleProvider


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    from services.config import get_settings

    return get_settings().data_dir


def _base_url(args: argparse.Namespace) -> str:
    if args.base_url:
        return str(args.base_url)
    from services.config import get_settings

    settings = get_settings()
    return f"http://{settings.trust_services_host}:{settings.trust_services_port}"


def _cmd_init(args: argparse.Namespace, provider: PeopleProvider | None) -> int:
    from signing.pki import init_dev_pki, load_specs_json

    if args.from_json is not None:
        people, orgs = load_specs_json(args.from_json)
    elif provider is not None:
        people, orgs = provider(args)
    else:
        people, orgs = [], []
        print("pki init: no people given (--from-json FILE); creating the CAs only", file=sys.stderr)
    pki = init_dev_pki(data_dir=_data_dir(args), people=people, orgs=orgs, base_url=_base_url(args))
    index = pki.read_index()
    print(f"PKI in {pki.dir}: {len(index['people'])} people, {len(index['orgs'])} organisations")
    print(f"trust services URL: {pki.base_url}")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from signing.pki import DevPKI

    pki = DevPKI.load(_data_dir(args))
    try:
        entry = pki.revoke(args.owner, args.reason)
    except KeyError:
        print(f"pki revoke: no certificate for {args.owner!r}", file=sys.stderr)
        return 2
    print(f"revoked {entry.owner} serial {entry.serial_hex} ({entry.revocation_reason})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from signing.pki import DevPKI

    pki = DevPKI.load(_data_dir(args))
    index = pki.read_index()
    rows = []
    for table in ("people", "orgs"):
        for name, row in sorted(index[table].items()):
            rows.append({"owner": name, "kind": table, **row})
    json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from signing.trust_services import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_forever(_data_dir(args), host=args.host, port=args.port)
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    people_provider: PeopleProvider | None = None,
) -> None:
    """Add the `pki` command group; each leaf sets `args.func(args) -> int`."""
    from signing.pki import _REASON_FLAGS

    pki = subparsers.add_parser("pki", help="development PKI: CA, certificates, CRL/OCSP/TSA")
    sub = pki.add_subparsers(dest="pki_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, default=None, help="default: LIENTHONG_DATA_DIR")

    p_init = sub.add_parser("init", help="create the CAs and missing certificates (idempotent)")
    common(p_init)
    p_init.add_argument("--from-json", type=Path, default=None, help='{"people": [...], "orgs": [...]}')
    p_init.add_argument("--base-url", default=None, help="URL of the trust services baked into certificates")
    p_init.set_defaults(func=lambda a: _cmd_init(a, people_provider))

    p_revoke = sub.add_parser("revoke", help="revoke the certificate of a username or organisation code")
    common(p_revoke)
    p_revoke.add_argument("owner", help="username, organisation code, or kind:name")
    p_revoke.add_argument("--reason", default="unspecified", choices=sorted(_REASON_FLAGS))
    p_revoke.set_defaults(func=_cmd_revoke)

    p_list = sub.add_parser("list", help="print people and organisations with their certificates")
    common(p_list)
    p_list.set_defaults(func=_cmd_list)

    p_serve = sub.add_parser("serve", help="serve CRL, OCSP and time-stamping in the foreground")
    common(p_serve)
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=None, help="default: the port baked into the certificates")
    p_serve.set_defaults(func=_cmd_serve)


def add_pki_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    people_provider: PeopleProvider | None = None,
) -> None:
    """Add `pki init|revoke|list|serve` to the `lienthong` command (see `register`)."""
    register(subparsers, people_provider=people_provider)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: `python -m signing.pki_cli pki init --from-json people.json`."""
    parser = argparse.ArgumentParser(prog="lienthong")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
