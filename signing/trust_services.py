"""Loopback trust services of the development PKI: CRLs, OCSP and RFC 3161 time-stamping.

One small stdlib HTTP server (no extra dependency, runs in a background thread of the `dev`
command or of a test session, or as its own process with `python -m signing.trust_services`):

| route                         | what                                                        |
|-------------------------------|-------------------------------------------------------------|
| `GET  /crl/issuing-ca.crl`    | DER CRL of the issuing CA (people, organisations, TSA)      |
| `GET  /crl/root-ca.crl`       | DER CRL of the root (the issuing CA)                        |
| `GET  /ca/<issuing-ca,root-ca>.crt` | DER CA certificates (AIA caIssuers)                   |
| `POST /ocsp`, `GET /ocsp/<b64>` | OCSP, signed by the delegated responder certificate       |
| `POST /tsa`                   | RFC 3161 time-stamp tokens signed by the TSA certificate    |
| `GET  /health`                | `ok`                                                        |

Revocations are visible at once: the index is re-read whenever it changes (another process,
e.g. `lienthong pki revoke`, may have written it), and OCSP answers come from the index itself.

Time-stamping reuses pyHanko's `DummyTimeStamper` fed with our own TSA certificate and key rather
than certomancer's animator: certomancer would bring its own YAML-defined CA hierarchy, while
here the TSA must chain to the same dev CA as everything else and share its revocation data.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import logging
import signal
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.pki import CRL_LIFETIME, DevPKI
from signing.trust import asn1_cert

if TYPE_CHECKING:
    from services.config import Settings
    from signing.pki import OrgSpec, PersonSpec

log = logging.getLogger(__name__)

# OCSP answers are short-lived so that a validator holding one re-asks soon after a revocation.
OCSP_LIFETIME = timedelta(minutes=10)
# A cached CRL is rebuilt when the index changes or after this long, whichever comes first.
_CRL_REBUILD_AFTER = CRL_LIFETIME / 2
_MAX_BODY = 64 * 1024

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _Services:
    """State shared by request handlers: the PKI, the service keys and a CRL cache."""

    def __init__(self, pki: DevPKI) -> None:
        self.pki = pki
        self.base_path = urllib.parse.urlparse(pki.base_url).path.rstrip("/")
        self.issuing = pki.issuing_cert()
        self.root = pki.root_cert()
        self.ocsp_cert = pki.ocsp_cert()
        self.ocsp_key = pki.service_key("ocsp")
        tsa_key_der = pki.service_key("tsa").private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.timestamper = DummyTimeStamper(
            tsa_cert=asn1_cert(pki.tsa_cert()),
            tsa_key=asn1_keys.PrivateKeyInfo.load(tsa_key_der),
            certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(self.issuing)]),
        )
        self._lock = threading.Lock()
        self._crl_cache: dict[str, tuple[int, datetime, bytes]] = {}
        self._index_cache: tuple[int, dict[str, Any]] | None = None

    def _index_mtime(self) -> int:
        return self.pki.index_path.stat().st_mtime_ns

    def index(self) -> dict[str, Any]:
        """The index, re-read only when the file changed."""
        mtime = self._index_mtime()
        with self._lock:
            if self._index_cache is None or self._index_cache[0] != mtime:
                self._index_cache = (mtime, self.pki.read_index())
            return self._index_cache[1]

    def crl(self, issuer: Literal["issuing-ca", "root-ca"]) -> bytes:
        mtime = self._index_mtime()
        now = datetime.now(UTC)
        with self._lock:
            cached = self._crl_cache.get(issuer)
            if cached and cached[0] == mtime and now - cached[1] < _CRL_REBUILD_AFTER:
                return cached[2]
            der = self.pki.build_crl(issuer)
            self._crl_cache[issuer] = (mtime, now, der)
            return der

    # -- OCSP -------------------------------------------------------------------------------------

    def ocsp_response(self, body: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return _ocsp_error(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        algorithm = request.hash_algorithm
        if not self._issued_by_us(request, algorithm):
            return _ocsp_error(ocsp.OCSPResponseStatus.UNAUTHORIZED)

        raw = self.index()["certificates"].get(format(request.serial_number, "x"))
        now = datetime.now(UTC).replace(microsecond=0)
        revocation_time: datetime | None = None
        reason: x509.ReasonFlags | None = None
        if raw is None or raw["issuer"] != "issuing-ca":
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif raw["revoked"]:
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = datetime.fromisoformat(raw["revoked_at"])
            reason_name = raw.get("revocation_reason") or "unspecified"
            reason = x509.ReasonFlags[reason_name] if reason_name != "unspecified" else None
        else:
            status = ocsp.OCSPCertStatus.GOOD

        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=algorithm,
                cert_status=status,
                this_update=now,
                next_update=now + OCSP_LIFETIME,
                revocation_time=revocation_time,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.ocsp_cert)
            .certificates([self.ocsp_cert])
        )
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            nonce = None
        if nonce is not None:
            # Echoing the nonce proves freshness; pyHanko sends one and checks it.
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self.ocsp_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def _issued_by_us(self, request: ocsp.OCSPRequest, algorithm: hashes.HashAlgorithm) -> bool:
        name = algorithm.name.replace("-", "")
        if name not in _HASHES:
            return False
        cert = asn1_cert(self.issuing)
        name_hash = hashlib.new(name, cert.subject.dump()).digest()
        key_hash = hashlib.new(name, cert.public_key["public_key"].contents[1:]).digest()
        return request.issuer_name_hash == name_hash and request.issuer_key_hash == key_hash

    # -- TSA --------------------------------------------------------------------------------------

    def tsa_response(self, body: bytes) -> bytes:
        try:
            request = tsp.TimeStampReq.load(body)
            algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        except (ValueError, TypeError, KeyError):
            return _tsa_rejection("bad_data_format")
        if algorithm not in ("sha256", "sha384", "sha512"):
            return _tsa_rejection("bad_alg")
        response: tsp.TimeStampResp = self.timestamper.request_tsa_response(request)
        return bytes(response.dump())


def _ocsp_error(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _tsa_rejection(failure: str) -> bytes:
    # asn1crypto's TimeStampResp insists on a token; a rejection carries only the status, so
    # the outer SEQUENCE is written by hand (the status is always shorter than 128 bytes).
    status = tsp.PKIStatusInfo({"status": "rejection", "fail_info": tsp.PKIFailureInfo({failure})}).dump()
    return bytes([0x30, len(status)]) + status


class _Handler(BaseHTTPRequestHandler):
    services: ClassVar[_Services]
    server_version = "LienThongTrust/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("trust services: " + format, *args)

    def _route(self) -> str:
        path = urllib.parse.urlparse(self.path).path
        base = self.services.base_path
        if base and path.startswith(base + "/"):
            path = path[len(base) :]
        return path

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *, cache_seconds: int = 0) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", f"max-age={cache_seconds}" if cache_seconds else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def do_GET(self) -> None:
        path = self._route()
        services = self.services
        if path == "/health":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain")
        elif path in ("/crl/issuing-ca.crl", "/crl/root-ca.crl"):
            issuer: Literal["issuing-ca", "root-ca"] = "issuing-ca" if path == "/crl/issuing-ca.crl" else "root-ca"
            self._send(HTTPStatus.OK, services.crl(issuer), "application/pkix-crl")
        elif path in ("/ca/issuing-ca.crt", "/ca/root-ca.crt"):
            cert = services.issuing if path == "/ca/issuing-ca.crt" else services.root
            self._send(HTTPStatus.OK, cert.public_bytes(serialization.Encoding.DER), "application/pkix-cert", cache_seconds=86400)
        elif path.startswith("/ocsp/"):
            # RFC 6960 appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}
            encoded = urllib.parse.unquote(path.removeprefix("/ocsp/"))
            try:
                body = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_" if "-" in encoded or "_" in encoded else None)
            except (binascii.Error, ValueError):
                body = b""
            self._send(HTTPStatus.OK, services.ocsp_response(body), "application/ocsp-response")
        else:
            self._not_found()

    def do_POST(self) -> None:
        path = self._route()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large\n", "text/plain")
            return
        body = self.rfile.read(length)
        if path == "/ocsp":
            self._send(HTTPStatus.OK, self.services.ocsp_response(body), "application/ocsp-response")
        elif path == "/tsa":
            self._send(HTTPStatus.OK, self.services.tsa_response(body), "application/timestamp-reply")
        else:
            self._not_found()


@dataclass
class TrustServicesHandle:
    """A running trust-services server; `stop()` shuts it down and joins its thread."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> TrustServicesHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_server(data_dir: Path, host: str, port: int | None) -> tuple[ThreadingHTTPServer, DevPKI]:
    pki = DevPKI.load(Path(data_dir))
    baked = urllib.parse.urlparse(pki.base_url)
    if port is None:
        port = baked.port or 80
    handler = type("_BoundHandler", (_Handler,), {"services": _Services(pki)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    actual_port = server.server_address[1]
    if baked.port != actual_port:
        log.warning(
            "trust services listen on port %s but certificates point to %s: validators will not reach this OCSP/CRL",
            actual_port,
            pki.base_url,
        )
    return server, pki


def start_trust_services(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> TrustServicesHandle:
    """Serve CRL, OCSP and TSA for the dev PKI in `data_dir` from a daemon thread.

    `port=None` uses the port baked into the PKI's certificates; `port=0` picks a free one
    (only useful when the PKI was initialised with that same URL).
    """
    server, _ = _make_server(data_dir, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="trust-services", daemon=True)
    thread.start()
    actual_host, actual_port = server.server_address[:2]
    log.info("trust services on http://%s:%s", actual_host, actual_port)
    return TrustServicesHandle(server=server, thread=thread, host=str(actual_host), port=int(actual_port))


def start_for_dev(
    *,
    settings: Settings,
    people: list[PersonSpec] | None = None,
    orgs: list[OrgSpec] | None = None,
) -> TrustServicesHandle:
    """What `lienthong dev` needs: make sure the dev PKI exists (and covers `people`/`orgs`),
    then serve it on `settings.trust_services_host:trust_services_port` in a daemon thread."""
    from signing.pki import init_dev_pki

    host, port = settings.trust_services_host, settings.trust_services_port
    init_dev_pki(data_dir=settings.data_dir, people=people or [], orgs=orgs or [], base_url=f"http://{host}:{port}")
    return start_trust_services(settings.data_dir, host=host, port=port)


def serve_forever(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the trust services in the foreground until SIGINT/SIGTERM."""
    server, pki = _make_server(data_dir, host, port)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("trust services for %s on %s:%s", pki.dir, host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    """`python -m signing.trust_services --data-dir var [--host H] [--port P]`."""
    parser = argparse.ArgumentParser(description="Dev PKI trust services (CRL, OCSP, TSA)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from services.config import get_settings

    settings = get_settings()
    serve_forever(
        args.data_dir or settings.data_dir,
        host=args.host or settings.trust_services_host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
