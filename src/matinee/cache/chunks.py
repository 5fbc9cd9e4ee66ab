"""Values over the chunk size are stored as a manifest plus chunks, each an item of its own.

The manifest sits under the value's own key and records the total length, the number of chunks,
a random write id and a BLAKE2b digest of the whole value. Chunk ``i`` sits under
``<key>#<write id>:<i>``, so the chunks of two writes of one key never mix, and ketama spreads
them over the zone's servers like any key. A reader fetches the manifest, then every chunk from
the same zone, and checks count, length and digest: anything missing or different is a miss,
never a corrupt value. Chunks of a replaced or deleted value are not read again and age out by
their TTL or by LRU eviction.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass

from matinee.cache.server import Item

FLAG_PLAIN = 0
FLAG_MANIFEST = 1
FLAG_CHUNK = 2
CHUNK_SIZE = 1_000_000  # values over 1 MB are chunked; a chunk item stays under memcached's 1 MiB
_MAGIC = b"mtc1"
_FORMAT = struct.Struct(">4sQI8s16s")  # magic, total length, chunk count, write id, digest
CHUNK_SUFFIX_BYTES = 1 + 16 + 1 + 10  # "#", write id in hex, ":", chunk number


def _digest(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=16).digest()


@dataclass(frozen=True)
class Manifest:
    length: int
    count: int
    write_id: bytes
    digest: bytes

    def chunk_keys(self, key: bytes) -> list[bytes]:
        prefix = key + b"#" + self.write_id.hex().encode() + b":"
        return [prefix + str(i).encode() for i in range(self.count)]

    def encode(self) -> bytes:
        return _FORMAT.pack(_MAGIC, self.length, self.count, self.write_id, self.digest)


def split(
    key: bytes, value: bytes, chunk_size: int = CHUNK_SIZE
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The manifest of ``value`` and its chunks as ``(chunk key, chunk bytes)`` pairs."""
    count = -(-len(value) // chunk_size)
    manifest = Manifest(len(value), count, secrets.token_bytes(8), _digest(value))
    pieces = [value[i * chunk_size : (i + 1) * chunk_size] for i in range(count)]
    return manifest.encode(), list(zip(manifest.chunk_keys(key), pieces, strict=True))


def parse_manifest(data: bytes) -> Manifest | None:
    """The manifest stored in ``data``, or None when it is not one."""
    if len(data) != _FORMAT.size:
        return None
    magic, length, count, write_id, digest = _FORMAT.unpack(data)
    if magic != _MAGIC or count == 0:
        return None
    return Manifest(length, count, write_id, digest)


def assemble(manifest: Manifest, keys: list[bytes], found: dict[bytes, Item]) -> bytes | None:
    """The value rebuilt from its chunks, or None when one is missing or the digest differs."""
    parts: list[bytes] = []
    for key in keys:
        item = found.get(key)
        if item is None or item[1] != FLAG_CHUNK:
            return None
        parts.append(item[0])
    value = b"".join(parts)
    if len(value) != manifest.length or _digest(value) != manifest.digest:
        return None
    return value
