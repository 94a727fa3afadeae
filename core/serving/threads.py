"""One BLAS thread while requests run, safe when many requests run at once.

Per-request products are small (one user or one query against ~10k movies). With OpenBLAS's
worker threads on a 2-core machine that also runs the Streamlit server, thread wake-ups cost
more than the work (8 ms against 1.2 ms for one semantic score), and OpenBLAS serialises calls
from several Python threads on its one thread pool, so concurrent sessions queued behind each
other (docs/experiments/serving.md). Builds keep every core: the limit holds only while a
request runs.

BLAS's thread count is process-wide, so the limit is counted rather than nested per call: the
first request to start sets one thread, the last one to finish restores the former count.
(A per-call set-and-restore would let one session's request restore two threads while another
session's request is still computing.)
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")

_LOCK = threading.Lock()
_active = 0
_limiter: Any = None
_controller: ThreadpoolController | None = None
_modules_seen = -1


def _blas() -> ThreadpoolController:
    """The loaded thread pools, looked up again after new modules were imported (torch, scipy
    and others bring their own BLAS; a controller made earlier would not limit those)."""
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        _controller = ThreadpoolController()  # about 1 ms: not on every request
        _modules_seen = len(sys.modules)
    return _controller


@contextmanager
def request_threads() -> Iterator[None]:
    """One BLAS thread for the duration of the block, counted across threads."""
    global _active, _limiter
    with _LOCK:
        if _active == 0:
            _limiter = _blas().limit(limits=1, user_api="blas")
        _active += 1
    try:
        yield
    finally:
        with _LOCK:
            _active -= 1
            if _active == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None


def active_requests() -> int:
    """How many requests hold the one-thread limit now (for tests and diagnostics)."""
    return _active


def one_blas_thread(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator: run ``method`` under :func:`request_threads`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with request_threads():
            return method(*args, **kwargs)

    return wrapper
