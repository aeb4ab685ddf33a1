"""Password hashing with argon2id (parameters from argon2-cffi's defaults, RFC 9106 low-memory)
and the password policy."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from services.config import Settings, get_settings

# Every installation's: argon2-cffi's default, RFC 9106's low-memory profile (t=3, 64 MiB, p=4).
STANDARD = profiles.RFC_9106_LOW_MEMORY
# The test suite's (`password_hashing = "cheap-for-tests"`, set in tests/conftest.py): the same
# format at the lowest cost. Otherwise seeding the demo directory (35 users, ~6 s of CPU) in every
# test database template and stack, and every test's sign-ins, cost the suite minutes of CPU.
CHEAP_FOR_TESTS = dataclasses.replace(STANDARD, time_cost=1, memory_cost=8, parallelism=1)


def parameters(settings: Settings) -> Parameters:
    """The argon2id parameters for new hashes: STANDARD, unless a test run asks otherwise (never in production)."""
    cheap = settings.password_hashing == "cheap-for-tests" and not settings.production
    return CHEAP_FOR_TESTS if cheap else STANDARD


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(parameters(get_settings()))


@functools.cache
def _dummy() -> str:
    """A hash of a random password, verified when the account does not exist so that timing
    does not reveal which usernames exist. Made on first use, not at import: one hash costs
    ~150 ms of CPU, which every command and worker process would otherwise pay at start."""
    return _hasher().hash("not-a-real-password-7f3c")


# argon2 (~50 ms and 64 MB per call, by design) and zxcvbn run here, off the event loop, so a
# burst of sign-ins cannot stall every other request; two at a time bounds their memory.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="passwords")
T = TypeVar("T")


async def _off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, lambda: function(*args, **kwargs))


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher().hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await _off_loop(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# Password policy (OWASP ASVS 2.1): a minimum length and a strength estimate against offline
# dictionaries (zxcvbn: common passwords, names, keyboard patterns, repeats, dates), no
# composition rules. zxcvbn's dictionaries are English, so the Vietnamese words people here are
# most likely to build a password from are added to the user's own words.
MIN_PASSWORD = 10
MAX_PASSWORD = 128
MIN_STRENGTH = 3  # zxcvbn score 0–4; 3 ≈ 10^8 guesses, out of reach of online guessing
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters are what it scores
LOCAL_WORDS = (
    "matkhau",
    "matma",
    "mk",
    "hoilhpn",
    "lhpn",
    "hoiphunu",
    "phunu",
    "hoilienhiepphunu",
    "bentre",
    "vietnam",
    "quantri",
    "vanthu",
    "chutich",
    "chuyenvien",
    "xinchao",
    "anhyeuem",
    "emyeuanh",
)


def ascii_fold(text: str) -> str:
    """'Nguyễn Thị Lan' → 'nguyen thi lan' (how people type their name into a password)."""
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def _own_words(username: str | None, full_name: str | None) -> list[str]:
    words: list[str] = []
    for value in (username, full_name):
        folded = ascii_fold(value or "")
        parts = [p for p in re.split(r"[^a-z0-9]+", folded) if p]
        words += [folded, "".join(parts), "".join(reversed(parts)), *parts]
    return [w for w in words if len(w) >= 2]


async def check_password(password: str, *, username: str | None = None, full_name: str | None = None) -> tuple[str, str] | None:
    """`password_problem`, off the event loop (zxcvbn takes tens of milliseconds on long input)."""
    return await _off_loop(password_problem, password, username=username, full_name=full_name)


def password_problem(password: str, *, username: str | None = None, full_name: str | None = None) -> tuple[str, str] | None:
    """Why `password` is not acceptable, in Vietnamese and English, or None when it is."""
    if len(password) < MIN_PASSWORD:
        return (f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.", f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        return (f"Mật khẩu dài tối đa {MAX_PASSWORD} ký tự.", f"The password may have at most {MAX_PASSWORD} characters.")
    own = _own_words(username, full_name)
    own_name = (
        "Mật khẩu không được chứa tên hoặc tên đăng nhập của bạn. Hãy chọn mật khẩu khác.",
        "The password must not contain your name or username. Choose another one.",
    )
    # Letters that are only the person's names ("NguyenThiLan@1990", "lan.nguyen!!") are refused
    # even where zxcvbn counts the digits and symbols around them as strength.
    letters = rest = re.sub(r"[^a-z]", "", ascii_fold(password))
    for word in sorted({w for w in own if w.isalpha()}, key=len, reverse=True):
        rest = rest.replace(word, "")
    if rest != letters and len(rest) < 4:
        return own_name
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[*own, *LOCAL_WORDS])
    if result["score"] >= MIN_STRENGTH:
        return None
    own_set = set(own)
    if any(
        m.get("dictionary_name") == "user_inputs" and m.get("matched_word") in own_set and len(m["token"]) >= 3 for m in result["sequence"]
    ):
        return own_name
    return (
        "Mật khẩu quá dễ đoán (từ hoặc mật khẩu phổ biến, ký tự lặp lại, dãy số, ngày tháng…). "
        "Hãy dùng một cụm vài từ ít gặp ghép lại, ví dụ: “Ca-phe-sua-da-luc-6h”.",
        "The password is too easy to guess (a common word or password, repeats, sequences, dates…). "
        "Use a few uncommon words together, e.g. “Ca-phe-sua-da-luc-6h”.",
    )
