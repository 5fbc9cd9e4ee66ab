"""Plain relative paths: the only paths a signed URL may name.

A delivery path is checked after the server has percent-decoded it once. What is left must be
``/``-separated segments of ordinary characters: no empty, ``.`` or ``..`` segment (plain
traversal), no ``%`` (an encoding left over after one decode: double-encoded traversal such as
``%252e%252e``), no backslash (a Windows separator), no control characters. Such a path can be
joined to a root or an object-store prefix without ever leaving it.
"""

from __future__ import annotations

import re

from matinee.delivery.errors import UnsafePath

MAX_PATH = 1024
_FORBIDDEN = re.compile(r"[%\\\x00-\x1f\x7f]")


def safe_path(path: str) -> str:
    """``path`` if it is a plain relative path, else :class:`UnsafePath`."""
    if not path or len(path) > MAX_PATH:
        raise UnsafePath("The media path is empty or too long.")
    if _FORBIDDEN.search(path):
        raise UnsafePath("The media path has characters a media path never has.")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise UnsafePath("The media path must not be absolute, nor contain '.', '..' or '//'.")
    return path


def safe_prefix(prefix: str) -> str:
    """A path prefix a token can be bound to: a plain relative path ending with ``/``."""
    if not prefix.endswith("/"):
        raise UnsafePath("A signed prefix ends with '/', so it covers whole folders only.")
    safe_path(prefix[:-1])
    return prefix
