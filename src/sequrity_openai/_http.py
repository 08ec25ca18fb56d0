"""Which HTTP library the installed SDK runs on, the clients it accepts, and TLS contexts.

openai 3.x is built on httpx2 and also accepts ``httpx`` clients; openai 2.x is built on
httpx. This is the one place that knows.
"""

from __future__ import annotations

import functools
import importlib
import os
import ssl
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import openai

#: The HTTP library of the SDK's own default client ("httpx2" on openai 3.x, "httpx" on 2.x).
SDK_HTTP: str = openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0]
# The libraries whose clients the stock client accepts as http_client.
_ACCEPTED = (SDK_HTTP, "httpx") if SDK_HTTP == "httpx2" else (SDK_HTTP,)


def sdk_module() -> ModuleType:
    return importlib.import_module(SDK_HTTP)


_LIBRARIES = ("httpx2", "httpx")


def module_of(obj: object) -> ModuleType:
    """The HTTP library ``obj`` (a client, possibly a subclass such as the SDK's) belongs to."""
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".")[0]
        if root in _LIBRARIES:
            return sys.modules[root]
    raise TypeError(f"{type(obj).__name__} is not an httpx or httpx2 object")


def accepted_clients(is_async: bool) -> tuple[type, ...]:
    """The client classes the stock (async) client accepts as ``http_client``.

    A library that is not imported cannot have made the client, so it is not imported here.
    """
    name = "AsyncClient" if is_async else "Client"
    return tuple(getattr(sys.modules[m], name) for m in _ACCEPTED if m in sys.modules)


def _stat(path: str | None) -> tuple[int, int, int] | None:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def default_ssl_context(environ: Mapping[str, str] | None, library: str = SDK_HTTP) -> ssl.SSLContext:
    """The TLS context a stock default client of ``library`` (httpx2 or httpx; the openai
    SDK's by default) built now would use.

    The stock client reads ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (its "trust_env") each time one
    is built, and building a context (loading a CA bundle) takes tens of milliseconds: contexts
    are cached on exactly those inputs (the variables, and the identity, size and mtime of what
    they name), so a changed variable or file gives a new context and clients built before keep
    theirs. With ``environ`` given (not ``os.environ``) no variable is read at all.
    """
    if environ is None:
        cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        return _context(library, True, cafile, _stat(cafile), capath, _stat(capath))
    return _context(library, False, None, None, None, None)


@functools.lru_cache(maxsize=16)
def _context(
    library: str, trust_env: bool, cafile: Any, file_stat: Any, capath: Any, dir_stat: Any
) -> ssl.SSLContext:
    context: ssl.SSLContext = importlib.import_module(library).create_ssl_context(trust_env=trust_env)
    return context
