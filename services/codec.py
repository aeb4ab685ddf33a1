"""Payloads leave this process encrypted: Temporal's histories (and its UI, its database and its
backups) hold only ciphertext.

AES-256-GCM with a key ring from `LIENTHONG_PAYLOAD_KEYS` ("kid1:base64key,kid2:base64key"): the
first key encrypts, every key decrypts, and each payload names the key that sealed it in its
metadata, so a new key can go first while older ones stay until no open history needs them.
Payloads without our marker (histories from before encryption) pass through unchanged.
Failure messages and stack traces are moved into an encoded payload too
(`DefaultFailureConverterWithEncodedAttributes`), so an error text never shows in clear.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class KeyRingError(ValueError):
    """The configured key ring cannot be used (said without ever showing a key)."""


def parse_key_ring(text: str) -> list[tuple[str, bytes]]:
    """`kid:base64key` entries separated by commas, the encrypting key first."""
    ring: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise KeyRingError("LIENTHONG_PAYLOAD_KEYS: each entry is `key-id:base64-key`")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise KeyRingError(f"LIENTHONG_PAYLOAD_KEYS: key {kid!r} is not valid base64") from None
        if len(key) != 32:
            raise KeyRingError(f"LIENTHONG_PAYLOAD_KEYS: key {kid!r} must be 32 bytes (AES-256), not {len(key)}")
        if any(kid == known for known, _ in ring):
            raise KeyRingError(f"LIENTHONG_PAYLOAD_KEYS: key id {kid!r} appears twice")
        ring.append((kid, key))
    if not ring:
        raise KeyRingError("LIENTHONG_PAYLOAD_KEYS holds no key")
    return ring


def new_key_entry() -> str:
    """A fresh `kid:base64key` entry (the key id says nothing about the key)."""
    return f"k{secrets.token_hex(4)}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: Sequence[tuple[str, bytes]]) -> None:
        if not ring:
            raise KeyRingError("no payload key")
        self._current = ring[0][0]
        self._keys = {kid: AESGCM(key) for kid, key in ring}

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            return payload  # already sealed (a payload the Temporal UI sends back to /encode)
        kid = self._current
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload cannot be relabelled to another key.
        sealed = self._keys[kid].encrypt(nonce, payload.SerializeToString(), kid.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption: left as it is
        kid = payload.metadata.get(KEY_ID, b"").decode()
        aes = self._keys.get(kid)
        if aes is None:
            raise KeyRingError(f"payload sealed with key {kid!r}, which LIENTHONG_PAYLOAD_KEYS no longer holds")
        try:
            plain = aes.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise KeyRingError(f"payload sealed with key {kid!r} does not authenticate (altered or wrong key)") from None
        return Payload.FromString(plain)


def encrypted_converter(ring: Sequence[tuple[str, bytes]]) -> DataConverter:
    """The app's pydantic converter with every payload and failure text encrypted."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
