"""The one-BLAS-thread limit of requests: counted across threads, restored by the last one."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import ThreadpoolController

from core.serving import threads


def _blas_threads() -> list[int]:
    return [
        lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers
    ]


class _Pools:
    """Stands in for threadpoolctl: records when the one-thread limit is set and lifted."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def limit(self, limits: int, user_api: str) -> _Pools:
        self.events.append(f"limit {limits} {user_api}")
        return self

    def restore_original_limits(self) -> None:
        self.events.append("restore")


def test_limit_holds_until_the_last_request_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # BLAS's thread count is process-wide (other tests' threads may change it too), so the
    # counting is checked on a recording stand-in; the real libraries in the next test.
    pools = _Pools()
    monkeypatch.setattr(threads, "_blas", lambda: pools)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def first() -> None:
        with threads.request_threads():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with threads.request_threads():
            second_in.set()
            first_out.wait(10)
            # The first request has ended; a per-call restore would have put BLAS's former
            # thread count back under this still-running request.
            seen["events"] = list(pools.events)
            seen["active"] = threads.active_requests()

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert seen == {"events": ["limit 1 blas"], "active": 1}
    assert pools.events == ["limit 1 blas", "restore"]
    assert threads.active_requests() == 0


def test_decorator_nests_and_keeps_errors() -> None:
    @threads.one_blas_thread
    def inner() -> list[int]:
        return _blas_threads()

    @threads.one_blas_thread
    def outer() -> tuple[int, list[int]]:
        return threads.active_requests(), inner()

    active, counts = outer()
    assert active == 1 and all(n == 1 for n in counts)

    @threads.one_blas_thread
    def fails() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        fails()
    assert threads.active_requests() == 0
