"""Audit trail at scale: `audit verify` against a bare hashlib loop, and concurrent appends.

Builds a fresh database with N entries (1,000,000 by default) by bulk insert, hashed with the
chain's own reference encoding and with a signed checkpoint every --checkpoint-every entries
(the last stretch stays uncovered, as between two checkpoint runs). Then, each measurement in
a subprocess of its own so that peak memories are separate:

- bare: the bare hashlib loop the goal is measured against: the same stored canonical bytes
  read the same way as verification reads them (same snapshot, same batches, same statement
  shape minus the stored hashes, the next batch read while this one is hashed),
  one `hashlib.sha256(...).digest()` per entry, nothing else;
- in memory: SHA-256 over the same bytes already in memory, in the tightest loop (and plus the
  Merkle hashing the checkpoints need), for scale;
- verify: `services.audit.service.verify_database` in `Database.read()`, what `lienthong audit
  verify` runs;
- verify again while this process appends an entry every 50 ms through the real service:
  the write latencies show whether verification blocks writers.

With --postgres it also runs K concurrent writers (--writers 1,4,16,32), each appending
through `services.audit.service.record` in its own `database.session()`, and prints entries/s
with where a transaction's time goes (waiting for the audit head row, holding it, commit).
Figures only, never assertions.

    .venv/bin/python bench/bench_audit.py              # SQLite, 1,000,000 entries
    .venv/bin/python bench/bench_audit.py --postgres   # PostgreSQL on 127.0.0.1:5432
    .venv/bin/python bench/bench_audit.py -n 100000 --postgres --writers 1,4
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from services.audit import chain, keys
from services.audit import service as audit
from services.db import Database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2025, 1, 1, tzinfo=UTC)


def _entries(n: int):
    """(row for the table, canonical bytes) for entries 1..n, linked by the reference encoding."""
    prev = chain.GENESIS_HASH
    for seq in range(1, n + 1):
        at = START + timedelta(seconds=seq // 7, microseconds=(seq * 7919) % 1_000_000)
        row = {
            "seq": seq,
            "at": at,
            "actor_id": None,
            "actor_name": f"Nguyễn Thị {seq % 97}",
            "organization_id": None,
            "action": ("document.view", "document.sign", "meeting.vote")[seq % 3],
            "object_type": "incoming_document",
            "object_id": str(seq // 5),
            "details": chain.canonical_json({"i": seq, "ghi chú": 'Đã ký số "khẩn"'}),
            "ip": f"10.0.{seq % 256}.7",
            "prev_hash": prev,
        }
        payload = {name: row[name] for name in chain.HASHED_FIELDS}
        payload["at"] = chain.canonical_time(at)
        payload["prev_hash"] = prev
        canonical = chain.canonical_json(payload).encode("utf-8")
        row["entry_hash"] = prev = hashlib.sha256(canonical).hexdigest()
        yield row, canonical


async def build(url: str, data_dir: Path, n: int, checkpoint_every: int, canonical_path: Path, tree: int) -> dict[str, float]:
    """Migrate, bulk-insert n entries and the checkpoints; write the canonical bytes for the baseline."""
    from services.migrate import upgrade_async  # the migrations import every model: not in the measurements

    began = time.perf_counter()
    await upgrade_async(url)
    private = keys.signing_key(data_dir, first_checkpoint=True)
    key_id = keys.key_id(private.public_key())
    checkpoints, leaves, last_hash = [], [], chain.GENESIS_HASH
    columns = ["seq", "entry_hash", "canonical"]  # the readable columns are computed from canonical
    sqlite = url.startswith("sqlite")
    if sqlite:
        connection = sqlite3.connect(url.split(":///", 1)[1])
    else:
        import asyncpg

        pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))

    async def flush(rows: list[tuple]) -> None:
        if sqlite:
            connection.executemany(f"INSERT INTO audit_entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        else:
            await pg.copy_records_to_table("audit_entries", records=rows, columns=columns)

    with open(canonical_path, "wb") as out:
        rows: list[tuple] = []
        for row, canonical in _entries(n):
            out.write(canonical + b"\n")
            row["canonical"] = canonical
            rows.append(tuple(row[c] for c in columns))
            leaves.append(row["entry_hash"])
            last_hash = row["entry_hash"]
            if checkpoint_every and len(leaves) == checkpoint_every:
                checkpoints.append((row["seq"] - len(leaves) + 1, row["seq"], chain.merkle_root(leaves, tree=tree)))
                leaves = []
            if len(rows) == 50_000:
                await flush(rows)
                rows = []
        if rows:
            await flush(rows)
    created = START + timedelta(days=400)
    cp_rows = []
    for first, last, root in checkpoints:
        message = chain.checkpoint_message(
            first_seq=first, last_seq=last, merkle_root=root, created_at=chain.canonical_time(created), tree=tree
        )
        cp_rows.append((first, last, root, tree, created, key_id, private.sign(message).hex()))
    if sqlite:
        connection.executemany(
            "INSERT INTO audit_checkpoints (first_seq, last_seq, merkle_root, tree, created_at, key_id, signature) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*r[:4], r[4].strftime("%Y-%m-%d %H:%M:%S.%f"), *r[5:]) for r in cp_rows],
        )
        connection.execute("UPDATE audit_head SET seq = ?, entry_hash = ? WHERE id = 1", (n, last_hash))
        connection.commit()
        connection.close()
    else:
        await pg.executemany(
            "INSERT INTO audit_checkpoints (first_seq, last_seq, merkle_root, tree, created_at, key_id, signature) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            cp_rows,
        )
        await pg.execute("UPDATE audit_head SET seq = $1, entry_hash = $2 WHERE id = 1", n, last_hash)
        await pg.execute("VACUUM ANALYZE audit_entries")
        await pg.close()
    (canonical_path.parent / "checkpoints.json").write_text(json.dumps({"tree": tree, "ranges": [c[:2] for c in checkpoints]}))
    return {"seconds": time.perf_counter() - began, "checkpoints": len(checkpoints)}


# --- measurements, each run in a subprocess: `bench_audit.py --measure KIND ...` ----------------


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries the parent's peak over into ru_maxrss across fork+exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_baseline(work_dir: Path) -> dict[str, float]:
    """SHA-256 over the canonical bytes already in memory; then the checkpoints' Merkle hashing."""
    lines = (work_dir / "canonical.bin").read_bytes().split(b"\n")[:-1]
    checkpoints = json.loads((work_dir / "checkpoints.json").read_text())
    sha256 = hashlib.sha256
    began = time.perf_counter()
    digests = [sha256(line).digest() for line in lines]
    entries_only = time.perf_counter() - began
    for first, last in checkpoints["ranges"]:
        accumulator = chain.merkle_accumulator(checkpoints["tree"])
        accumulator.add(digests[first - 1 : last])
        accumulator.root()
    with_merkle = time.perf_counter() - began
    peak = _peak_mb()
    # For scale: the chain's reference path (canonical JSON from Python values, then SHA-256),
    # timed on a sample of 100,000 entries already decoded into dicts.
    sample = [json.loads(line) for line in lines[:100_000]]
    began = time.perf_counter()
    for entry in sample:
        chain.entry_hash(entry, entry["prev_hash"])
    reference_per_entry = (time.perf_counter() - began) / len(sample)
    return {
        "seconds": entries_only,
        "with_merkle": with_merkle,
        "entries": len(lines),
        "peak_mb": peak,
        "reference": reference_per_entry * len(lines),
    }


_BARE_SQL = {  # verification's batch statement (services.audit.service._BATCH_SQL) with the bytes only
    "sqlite": "SELECT count(*), max(seq), CAST(group_concat(canonical, char(10)) AS BLOB) FROM "
    "(SELECT seq, canonical FROM audit_entries WHERE seq > :after ORDER BY seq LIMIT :limit)",
    "postgresql": "SELECT count(*), max(seq), string_agg(canonical, '\\x0a'::bytea) FROM "
    "(SELECT seq, canonical FROM audit_entries WHERE seq > :after ORDER BY seq LIMIT :limit) AS batch",
}


async def measure_bare(url: str, prefetch: bool = True) -> dict[str, float]:
    """One SHA-256 per entry over the stored canonical bytes, read as `verify_database` reads them
    (with `prefetch`, the next batch is read while this one is hashed, as verification does;
    without, the plain loop: read a batch, hash it)."""
    from sqlalchemy import text

    database = Database(url)
    sha256 = hashlib.sha256
    entries = 0
    cpu = time.process_time()
    began = time.perf_counter()
    async with database.read() as session:
        sql = text(_BARE_SQL[(await session.connection()).dialect.name])

        def fetch(after: int) -> asyncio.Future:
            return asyncio.ensure_future(session.execute(sql, {"after": after, "limit": audit.VERIFY_BATCH}))

        pending = fetch(0)
        while True:
            count, last, canonical = (await pending).one()
            if not count:
                break
            pending = fetch(last)
            if prefetch:
                await asyncio.sleep(0.001)  # as verify_database: let the driver take the next statement
            else:
                await asyncio.wait({pending})
            digests = [sha256(line).digest() for line in canonical.split(b"\n")]
            entries += len(digests)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    await database.dispose()
    return {"seconds": seconds, "entries": entries, "peak_mb": _peak_mb(), "cpu": cpu}


async def measure_verify(url: str, data_dir: Path) -> dict[str, float]:
    database = Database(url)
    start_mb = _peak_mb()
    cpu = time.process_time()
    began = time.perf_counter()
    async with database.read() as session:
        result = await audit.verify_database(session, data_dir=data_dir)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    await database.dispose()
    return {
        "seconds": seconds,
        "ok": result.ok,
        "entries": result.entries_checked,
        "checkpoints": result.checkpoints_checked,
        "rechecked": result.entries_rechecked,
        "peak_mb": _peak_mb(),
        "start_mb": start_mb,
        "cpu": cpu,
    }


def _subprocess(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--measure", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _append_one(database: Database, name: str) -> None:
    async with database.session() as session:
        await audit.record(
            session, actor=audit.Actor.system(name), action="bench.append", object_type="bench", object_id=1, details={"by": name}
        )


async def writer_latency_during_verify(url: str, work_dir: Path, data_dir: Path) -> dict[str, float]:
    """Append an entry every 50 ms through the real service while a verify subprocess runs."""
    database = Database(url, lock_timeout=30.0)
    idle = []
    for _ in range(20):
        began = time.perf_counter()
        await _append_one(database, "idle")
        idle.append(time.perf_counter() - began)
        await asyncio.sleep(0.02)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--measure", "verify", url, str(data_dir), stdout=asyncio.subprocess.PIPE
    )
    reading = asyncio.ensure_future(process.stdout.read())  # type: ignore[union-attr]  # started with stdout=PIPE
    await asyncio.sleep(1.0)  # past the subprocess's imports, into the verification
    during = []
    while not reading.done():
        began = time.perf_counter()
        await _append_one(database, "during-verify")
        during.append(time.perf_counter() - began)
        await asyncio.sleep(0.05)
    await process.wait()
    await database.dispose()
    verify = json.loads((await reading).decode().strip().splitlines()[-1])
    return {
        "idle_median_ms": statistics.median(idle) * 1000,
        "median_ms": statistics.median(during) * 1000,
        "max_ms": max(during) * 1000,
        "writes": len(during),
        "verify_seconds": verify["seconds"],
        "verify_ok": verify["ok"],
    }


# --- concurrent writers on PostgreSQL ------------------------------------------------------------


class _TxnTimer:
    """Per transaction: how long the head UPDATE waited, how long the row lock was then held."""

    def __init__(self, database: Database) -> None:
        self.wait: list[float] = []
        self.hold: list[float] = []
        self.total: list[float] = []
        self._started: dict[int, float] = {}
        self._locked: dict[int, float] = {}
        engine = database.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, params, context, executemany):
            if statement.startswith("UPDATE audit_head SET seq"):
                self._started[id(conn)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, params, context, executemany):
            if statement.startswith("UPDATE audit_head SET seq"):
                now = time.perf_counter()
                self.wait.append(now - self._started[id(conn)])
                self._locked[id(conn)] = now

        @event.listens_for(engine, "commit")
        def commit(conn):
            locked = self._locked.pop(id(conn), None)
            if locked is not None:
                self.hold.append(time.perf_counter() - locked)


async def concurrent_writers(url: str, k: int, seconds: float) -> dict[str, float]:
    database = Database(url, lock_timeout=60.0)
    timer = _TxnTimer(database)
    for _ in range(k):  # open the pool's connections before the clock starts
        await _append_one(database, "warm-up")
    timer.wait.clear(), timer.hold.clear()
    done = 0
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def writer(i: int) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            await _append_one(database, f"w{i}")
            latencies.append(time.perf_counter() - began)
            done += 1

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(k)))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    await database.dispose()
    return {
        "k": k,
        "entries_per_s": done / wall,
        "txn_ms": statistics.mean(latencies) * 1000,
        "head_wait_ms": statistics.mean(timer.wait) * 1000,
        "head_hold_ms": statistics.mean(timer.hold) * 1000,
        "client_cpu": cpu / wall,
    }


# --- main ----------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    work_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-audit-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = work_dir / "data"
    data_dir.mkdir()
    name = None
    if args.postgres:
        name = f"lt_bench_audit_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {name}"], check=True)
        url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite+aiosqlite:///{work_dir / 'audit.db'}"
    backend = "PostgreSQL" if args.postgres else "SQLite"
    try:
        built = await build(url, data_dir, args.n, args.checkpoint_every, work_dir / "canonical.bin", args.tree)
        print(
            f"{backend}: {args.n:,} entries, {built['checkpoints']} checkpoints (tree {args.tree}), built in {built['seconds']:.1f} s ({os.cpu_count()} cores)"
        )
        base = _subprocess("baseline", str(work_dir))
        # Side by side, alternating, each in a fresh process; the best of --repeat runs of each
        # (the machine is shared: the least disturbed run is the closest to the real cost).
        bares, plains, verifies = [], [], []
        for _ in range(args.repeat):
            bares.append(_subprocess("bare", url))
            plains.append(_subprocess("bare-plain", url))
            verifies.append(_subprocess("verify", url, str(data_dir)))
        for verify in verifies:
            assert verify["ok"] and verify["entries"] == args.n, verify
        for bare in bares + plains:
            assert bare["entries"] == args.n, bare
        bare = min(bares, key=lambda r: r["seconds"])
        plain = min(plains, key=lambda r: r["seconds"])
        verify = min(verifies, key=lambda r: r["seconds"])
        print(f"{'':38}{'seconds':>9}{'µs/entry':>10}{'peak RSS MB':>13}")
        for label, seconds, peak in (
            ("bare hashlib loop, read as verify", bare["seconds"], bare["peak_mb"]),
            ("  the same without reading ahead", plain["seconds"], plain["peak_mb"]),
            ("audit verify (verify_database)", verify["seconds"], verify["peak_mb"]),
            ("in memory: sha256 over the bytes", base["seconds"], base["peak_mb"]),
            ("in memory:  + checkpoints' Merkle", base["with_merkle"], base["peak_mb"]),
            ("ref. encode+sha256 (extrapolated)", base["reference"], base["peak_mb"]),
        ):
            print(f"{label:38}{seconds:9.2f}{seconds / args.n * 1e6:10.2f}{peak:13.0f}")
        print(
            "runs (s): bare "
            + ", ".join(f"{r['seconds']:.2f}" for r in bares)
            + "; without reading ahead "
            + ", ".join(f"{r['seconds']:.2f}" for r in plains)
            + "; verify "
            + ", ".join(f"{r['seconds']:.2f}" for r in verifies)
        )
        median = statistics.median
        print(
            f"ratio verify / bare hashlib loop: {verify['seconds'] / bare['seconds']:.2f}x "
            f"(medians: {median(r['seconds'] for r in verifies) / median(r['seconds'] for r in bares):.2f}x); "
            f"verify / bare loop without reading ahead: {verify['seconds'] / plain['seconds']:.2f}x "
            f"(medians: {median(r['seconds'] for r in verifies) / median(r['seconds'] for r in plains):.2f}x); "
            f"verify / in-memory sha256: {verify['seconds'] / base['seconds']:.2f}x\n"
            f"CPU of the whole process (its database thread included): verify {verify['cpu']:.2f} s, "
            f"bare loop {bare['cpu']:.2f} s; verify peak RSS {verify['peak_mb']:.0f} MB ({verify['start_mb']:.0f} MB after imports); "
            f"entries re-checked slowly: {verify['rechecked']}"
        )
        during = await writer_latency_during_verify(url, work_dir, data_dir)
        print(
            f"writer during verify: {during['writes']} appends, median {during['median_ms']:.1f} ms, "
            f"max {during['max_ms']:.1f} ms (idle median {during['idle_median_ms']:.1f} ms); "
            f"that verify took {during['verify_seconds']:.2f} s, ok={during['verify_ok']}"
        )
        if args.postgres and args.writers:
            print(f"concurrent writers, {args.writer_seconds:.0f} s each, record() in database.session():")
            print(f"{'K':>4}{'entries/s':>11}{'txn ms':>9}{'head wait ms':>14}{'head held ms':>14}{'client CPU':>12}")
            for k in (int(x) for x in args.writers.split(",")):
                r = await concurrent_writers(url, k, args.writer_seconds)
                print(
                    f"{k:>4}{r['entries_per_s']:11.0f}{r['txn_ms']:9.2f}{r['head_wait_ms']:14.2f}"
                    f"{r['head_hold_ms']:14.2f}{r['client_cpu']:11.0%}"
                )
    finally:
        if args.keep:
            print(f"kept: {url} (data dir {data_dir})")
        else:
            if name:
                subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE {name} WITH (FORCE)"], check=False)
            subprocess.run(["rm", "-rf", str(work_dir)], check=False)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        kind = sys.argv[2]
        if kind == "baseline":
            outcome = measure_baseline(Path(sys.argv[3]))
        elif kind in ("bare", "bare-plain"):
            outcome = asyncio.run(measure_bare(sys.argv[3], prefetch=kind == "bare"))
        else:
            outcome = asyncio.run(measure_verify(sys.argv[3], Path(sys.argv[4])))
        print(json.dumps(outcome))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="entries (default 1,000,000)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--checkpoint-every", type=int, default=100_000, help="a signed checkpoint per this many entries (0: none)")
    parser.add_argument(
        "--tree",
        type=int,
        default=chain.CHECKPOINT_TREE,
        choices=(chain.BINARY_TREE, chain.WIDE_TREE),
        help="the checkpoints' Merkle tree format",
    )
    parser.add_argument("--writers", default="1,4,16,32", help="concurrent writer counts (PostgreSQL)")
    parser.add_argument("--writer-seconds", type=float, default=5.0)
    parser.add_argument("--keep", type=Path, help="build the database in this directory and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the bare loop and of verify, alternating")
    asyncio.run(main(parser.parse_args()))
