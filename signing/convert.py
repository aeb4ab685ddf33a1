"""DOCX → PDF conversion with LibreOffice, reusing a running office process.

A cold ``soffice --convert-to pdf`` costs about a second per document, most of it starting
the office. This module keeps one (or a few) headless LibreOffice processes alive and drives
them over UNO. Debian's UNO binding (``python3-uno``) only loads into the system Python, not
into our venv's interpreter, so each office process is paired with a tiny *bridge* script run
by ``/usr/bin/python3``: it talks UNO to the office and a JSON line protocol (one request, one
answer per line) to us over its stdin/stdout.

If the persistent mode cannot start (no ``python3-uno``, office never answers), conversions
fall back to one cold ``soffice --convert-to pdf`` per document and the reason is logged.

Public API: :class:`Converter` (``to_pdf`` async, ``convert`` sync), :func:`get_converter`
(one shared converter per process, shut down at exit), :func:`convert_oneshot`.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import math
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Final

from services.errors import DomainError, InvalidInput
from services.i18n import _l
from services.metrics import CONVERSION_SECONDS
from services.processes import limit_memory

__all__ = [
    "ConversionFailed",
    "Converter",
    "ConverterUnavailable",
    "convert_oneshot",
    "get_converter",
]

log = logging.getLogger(__name__)

_BROKEN: Final = _l("Could not convert the DOCX file to PDF. Check the file and try again.")
_UNAVAILABLE: Final = _l("The server cannot convert files to PDF right now. Try again later.")

#: The system interpreter that can ``import uno`` (Debian package ``python3-uno``).
SYSTEM_PYTHON = "/usr/bin/python3"
#: After the persistent office fails to start, how long to convert one-shot before retrying.
FALLBACK_RETRY_SECONDS: Final = 300


class ConversionFailed(InvalidInput):
    """The DOCX could not be turned into a PDF: broken, not a DOCX, or it stalled the office."""

    def __init__(self, reason: str) -> None:
        super().__init__(_BROKEN, reason=reason)


class ConverterUnavailable(DomainError):
    """LibreOffice itself cannot run here (missing, or crashes at start)."""

    status_code = 503

    def __init__(self, reason: str) -> None:
        super().__init__(_UNAVAILABLE, reason=reason)


# The bridge runs under /usr/bin/python3, never imported by us. It is written next to the
# office profile at start so a traceback in the bridge log points at a real file.
_BRIDGE_SOURCE: Final = r'''
"""UNO bridge for Liên Thông: JSON lines on stdin/stdout, one conversion at a time."""
import json
import os
import signal
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException
from com.sun.star.io import IOException
from com.sun.star.lang import DisposedException, IllegalArgumentException


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def answer(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def connect(url, deadline):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    while True:
        try:
            ctx = resolver.resolve(url)
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except NoConnectException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def convert(desktop, src, dst):
    load = (
        prop("Hidden", True),
        prop("ReadOnly", True),
        # Forcing the Word filter stops LibreOffice from "rescuing" garbage as plain text.
        prop("FilterName", "MS Word 2007 XML"),
        # Documents come from outside: never run their macros or refresh their links.
        prop("MacroExecutionMode", 0),
        prop("UpdateDocMode", 0),
    )
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, load)
    if doc is None:
        raise IOException("document did not load", None)
    try:
        doc.storeToURL(uno.systemPathToFileUrl(dst), (prop("FilterName", "writer_pdf_Export"),))
    finally:
        try:
            doc.close(True)
        except Exception:
            doc.dispose()


def main():
    url, timeout, office_pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    try:
        serve(url, timeout)
    finally:
        # Our parent went away (stdin closed: even when it was killed with SIGKILL) or the office
        # failed: take the office (its own process group) with us rather than leave it running.
        try:
            os.killpg(office_pid, signal.SIGKILL)
        except OSError:
            pass


def serve(url, timeout):
    desktop = connect(url, time.monotonic() + timeout)
    answer(ready=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("cmd") == "quit":
            try:
                desktop.terminate()
            except Exception:
                pass
            return
        try:
            convert(desktop, request["src"], request["dst"])
        except (IOException, IllegalArgumentException) as exc:
            answer(ok=False, kind="document", error=str(exc.Message or type(exc).__name__))
        except DisposedException as exc:
            answer(ok=False, kind="office", error="office disposed: " + str(exc.Message))
            return
        except Exception as exc:  # a RuntimeException from a dead bridge lands here
            answer(ok=False, kind="office", error=type(exc).__name__ + ": " + str(exc))
            return
        else:
            answer(ok=True)


main()
'''


def _find_soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _child_env() -> dict[str, str]:
    """Environment for office and bridge: without our venv's Python settings, which would
    make the system interpreter load the wrong standard library."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
    env.setdefault("HOME", tempfile.gettempdir())
    env["SAL_USE_VCLPLUGIN"] = "svp"  # headless rendering backend; no display needed
    return env


def _kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Kill a child started in its own session and everything it spawned (oosplash starts
    soffice.bin), then reap it."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not exit after SIGKILL", proc.pid)


def _check_docx(docx: bytes) -> None:
    """Refuse what is obviously not a DOCX before it reaches the office."""
    if not docx:
        raise ConversionFailed("empty file")
    try:
        with zipfile.ZipFile(BytesIO(docx)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise ConversionFailed(f"not a zip archive: {exc}") from exc
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise ConversionFailed("zip archive without word/document.xml")


class _OfficeDied(Exception):
    """The office or its bridge went away during a request."""


class _OfficeWorker:
    """One headless office process, its own profile, and the bridge that drives it."""

    def __init__(self, *, soffice: str, home: Path, startup_timeout: float, memory_mb: int | None = None) -> None:
        self._soffice = soffice
        self._home = home
        self._startup_timeout = startup_timeout
        self._memory_mb = memory_mb
        self._office: subprocess.Popen[bytes] | None = None
        self._bridge: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._pipe: str | None = None

    @property
    def office_pid(self) -> int | None:
        return self._office.pid if self._office and self._office.poll() is None else None

    def alive(self) -> bool:
        return self._office is not None and self._bridge is not None and self._office.poll() is None and self._bridge.poll() is None

    def start(self) -> None:
        """Start office and bridge; raise ``_OfficeDied`` if they are not ready in time."""
        self.stop(graceful=False)
        profile = self._home / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        # A crash leaves the profile lock behind; this profile is ours alone, so it is stale.
        (profile / ".lock").unlink(missing_ok=True)
        script = self._home / "uno_bridge.py"
        script.write_text(_BRIDGE_SOURCE, encoding="utf-8")
        # A named pipe rather than a TCP port: no port clashes, nothing listening on the network.
        pipe = self._pipe = f"lienthong_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        env = _child_env()
        self._office = subprocess.Popen(
            [
                self._soffice,
                "--headless",
                "--invisible",
                "--nologo",
                "--nodefault",
                "--norestore",
                "--nolockcheck",
                f"-env:UserInstallation={profile.as_uri()}",
                f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        if self._memory_mb:
            # A document that would make the office grow past this fails its conversion (a clear
            # "cannot convert" for the user) instead of taking the server's memory.
            limit_memory(self._office.pid, self._memory_mb)
        with open(self._home / "bridge.log", "ab") as bridge_log:
            self._bridge = subprocess.Popen(
                [
                    SYSTEM_PYTHON,
                    str(script),
                    f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext",
                    str(self._startup_timeout),
                    str(self._office.pid),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=bridge_log,
                env=env,
                start_new_session=True,
            )
        self._buffer = b""
        try:
            reply = self._read_reply(time.monotonic() + self._startup_timeout + 2)
        except (_OfficeDied, TimeoutError) as exc:
            reason = f"{exc}; bridge log: {self._log_tail()}"
            self.stop(graceful=False)
            raise _OfficeDied(reason) from None
        if not reply.get("ready"):
            self.stop(graceful=False)
            raise _OfficeDied(f"unexpected bridge greeting {reply!r}")

    def convert(self, src: Path, dst: Path, timeout: float) -> dict[str, object]:
        """Ask the office to write ``dst`` from ``src``; return the bridge's answer."""
        assert self._bridge is not None and self._bridge.stdin is not None
        request = json.dumps({"src": str(src), "dst": str(dst)}) + "\n"
        try:
            self._bridge.stdin.write(request.encode())
            self._bridge.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _OfficeDied(f"bridge gone: {exc}") from None
        return self._read_reply(time.monotonic() + timeout)

    def stop(self, *, graceful: bool = True) -> None:
        """Ask the office to quit (when ``graceful``: it is idle, not stuck), then make sure
        office and bridge are gone."""
        bridge, office = self._bridge, self._office
        self._bridge = self._office = None
        if graceful and bridge is not None and bridge.poll() is None and bridge.stdin is not None:
            try:
                bridge.stdin.write(b'{"cmd": "quit"}\n')
                bridge.stdin.flush()
                bridge.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if graceful and office is not None and office.poll() is None:
            try:
                office.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(bridge)
        _kill_group(office)
        for proc in (bridge, office):
            if proc is not None:
                for stream in (proc.stdin, proc.stdout):
                    if stream is not None:
                        stream.close()
        if self._pipe is not None:
            # A killed office leaves its pipe's socket file in the temp directory.
            for leftover in Path(tempfile.gettempdir()).glob(f"OSL_PIPE_*_{self._pipe}"):
                leftover.unlink(missing_ok=True)
            self._pipe = None

    def _read_reply(self, deadline: float) -> dict[str, object]:
        assert self._bridge is not None and self._bridge.stdout is not None
        fd = self._bridge.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("office did not answer in time")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not ready:
                if self._office is not None and self._office.poll() is not None:
                    raise _OfficeDied(f"office exited with {self._office.returncode}")
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _OfficeDied("bridge closed its output")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _log_tail(self) -> str:
        try:
            return (self._home / "bridge.log").read_text(errors="replace")[-600:].strip() or "(empty)"
        except OSError:
            return "(no log)"


class Converter:
    """Converts DOCX to PDF with long-lived headless LibreOffice processes.

    ``workers`` office processes serve conversions one at a time each; callers beyond that
    wait their turn. A dead office is restarted on the next request (the request that found
    it dead is retried once). A request that runs past ``timeout`` seconds kills its office
    and fails with :class:`ConversionFailed`. Each office uses its own profile directory
    under a private temporary directory removed by :meth:`close`.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        timeout: float = 60.0,
        startup_timeout: float = 30.0,
        soffice: str | None = None,
        memory_mb: int | None = 4096,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.timeout = timeout
        self._startup_timeout = startup_timeout
        self._soffice = soffice or _find_soffice()
        self._base = Path(tempfile.mkdtemp(prefix="lienthong-office-"))
        self._jobs = self._base / "jobs"
        self._jobs.mkdir()
        self._workers = [
            _OfficeWorker(
                soffice=self._soffice or "soffice", home=self._base / f"office-{i}", startup_timeout=startup_timeout, memory_mb=memory_mb
            )
            for i in range(workers)
        ]
        self._idle: queue.Queue[_OfficeWorker] = queue.Queue()
        for worker in self._workers:
            self._idle.put(worker)
        self._oneshot_lock = threading.Lock()
        self._state_lock = threading.Lock()
        # Until this monotonic time conversions use one office per document; a failed start
        # is retried after a cool-down rather than never (it may have been a slow machine).
        self._fallback_until = 0.0
        self._closed = False

    # -- public -------------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        """False while the converter has fallen back to one cold office per document."""
        return time.monotonic() >= self._fallback_until

    @property
    def office_pids(self) -> list[int]:
        """Process-group ids of the running office processes (for monitoring and tests)."""
        return [pid for w in self._workers if (pid := w.office_pid) is not None]

    def start(self) -> None:
        """Start every office now instead of on first use (saves the first caller ~1–3 s)."""
        workers = [self._idle.get() for _ in self._workers]
        try:
            for worker in workers:
                if self.persistent and not worker.alive():
                    self._start_worker(worker)
        finally:
            for worker in workers:
                self._idle.put(worker)

    def convert(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        """Convert ``docx`` to PDF bytes, blocking. From async code use :meth:`to_pdf`.
        ``extra_seconds`` beyond the converter's timeout: for long documents of our own making."""
        if self._closed:
            raise RuntimeError("converter is closed")
        _check_docx(docx)
        with tempfile.TemporaryDirectory(dir=self._jobs) as job:
            src, dst = Path(job) / "document.docx", Path(job) / "document.pdf"
            src.write_bytes(docx)
            if self.persistent:
                worker = self._idle.get()
                try:
                    if self._convert_on(worker, src, dst, self.timeout + extra_seconds):
                        return dst.read_bytes()
                finally:
                    self._idle.put(worker)
            with self._oneshot_lock:
                return _oneshot(self._soffice, src, Path(job), self._base / "oneshot-profile", self.timeout + extra_seconds)

    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        """Convert ``docx`` to PDF bytes without blocking the event loop."""
        with CONVERSION_SECONDS.time():
            return await asyncio.to_thread(self.convert, docx, extra_seconds=extra_seconds)

    def close(self) -> None:
        """Stop every office process and remove profiles and temporary files."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.stop()
        shutil.rmtree(self._base, ignore_errors=True)

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _start_worker(self, worker: _OfficeWorker) -> bool:
        """Start ``worker``; on failure switch the converter to one-shot mode and say why."""
        if self._soffice is None:
            self._fallback_until = math.inf
            log.error("LibreOffice (soffice) is not installed; PDF conversion is unavailable")
            return False
        reason: str
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            reason = f"{SYSTEM_PYTHON} not found (needed for the UNO bridge)"
        else:
            try:
                worker.start()
                return True
            except (_OfficeDied, TimeoutError, OSError) as exc:
                reason = str(exc)
        with self._state_lock:
            if self.persistent:
                self._fallback_until = time.monotonic() + FALLBACK_RETRY_SECONDS
                log.warning(
                    "persistent LibreOffice converter could not start (%s); converting with one "
                    "office start per document for %d s (python3-uno must be installed)",
                    reason,
                    FALLBACK_RETRY_SECONDS,
                )
        return False

    def _convert_on(self, worker: _OfficeWorker, src: Path, dst: Path, timeout: float) -> bool:
        """Convert with a persistent office; False means: fall back to one-shot."""
        for attempt in (1, 2):
            if not worker.alive():
                log.info("starting LibreOffice for PDF conversion")
                if not self._start_worker(worker):
                    return False
            try:
                reply = worker.convert(src, dst, timeout)
            except TimeoutError:
                worker.stop(graceful=False)
                raise ConversionFailed(f"conversion took longer than {timeout} s") from None
            except _OfficeDied as exc:
                log.warning("LibreOffice died during a conversion (%s); restarting it", exc)
                worker.stop(graceful=False)
                continue
            if reply.get("ok") and dst.exists() and dst.stat().st_size > 0:
                return True
            if reply.get("kind") == "office":
                log.warning("LibreOffice failed (%s); restarting it", reply.get("error"))
                worker.stop(graceful=False)
                continue
            raise ConversionFailed(str(reply.get("error") or "no PDF written"))
        # The office died twice on the same document: the document is what kills it.
        raise ConversionFailed("office died twice while converting this document")


def _oneshot(soffice: str | None, src: Path, outdir: Path, profile: Path, timeout: float) -> bytes:
    """Convert ``src`` by starting one office just for it (the slow, always-available path)."""
    if soffice is None:
        raise ConverterUnavailable("LibreOffice (soffice) is not installed")
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            soffice,
            "--headless",
            "--invisible",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(outdir),
            str(src),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_child_env(),
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ConversionFailed(f"one-shot conversion took longer than {timeout} s") from None
    pdf = outdir / (src.stem + ".pdf")
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise ConversionFailed(f"soffice exited {proc.returncode}: {stderr.decode(errors='replace')[-300:].strip()}")
    return pdf.read_bytes()


def convert_oneshot(docx: bytes, *, timeout: float = 60.0, profile_dir: Path | None = None) -> bytes:
    """Convert with a fresh office process (what :class:`Converter` falls back to).

    Kept public for benchmarks and for tools that convert a single file and exit.
    ``profile_dir`` reuses an office profile between calls; by default a throwaway one is made.
    """
    _check_docx(docx)
    with tempfile.TemporaryDirectory(prefix="lienthong-oneshot-") as job:
        src = Path(job) / "document.docx"
        src.write_bytes(docx)
        profile = profile_dir or Path(job) / "profile"
        return _oneshot(_find_soffice(), src, Path(job), profile, timeout)


_shared: Converter | None = None
_shared_lock = threading.Lock()


def get_converter() -> Converter:
    """The converter shared by this process, created on first use and closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            from services.config import get_settings

            _shared = Converter(memory_mb=get_settings().office_memory_mb)
            atexit.register(_shared.close)
        return _shared
