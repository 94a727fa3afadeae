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


def test_limit_holds_until_the_last_request_ends() -> None:
    before = _blas_threads()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, list[int]] = {}

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
            seen["after first ended"] = _blas_threads()
            seen["active"] = [threads.active_requests()]

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert all(n == 1 for n in seen["after first ended"])
    assert seen["active"] == [1]
    assert threads.active_requests() == 0
    assert _blas_threads() == before


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
