"""Snapshot workers are forked while other threads run (a stream has one per collection): a
lock some thread held at the fork must not stay held in the worker. Each case forks while a
thread holds the lock in question, and the child must finish (it hung before the fix)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

from etl.engine.values.lazy import cached_attribute


def forked_child_finishes(
    while_held: Callable[[threading.Event, threading.Event], None], in_child: Callable[[], Any]
) -> int | None:
    """Start `while_held` in a thread (it sets `holding`, then waits for `release`), fork a
    child running `in_child`, and return the child's exit code (None: it hung)."""
    holding, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=while_held, args=(holding, release), daemon=True)
    thread.start()
    assert holding.wait(10)
    child = multiprocessing.get_context("fork").Process(target=in_child)
    child.start()
    child.join(15)
    release.set()
    thread.join(10)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


class Context:
    gate: threading.Event | None = None
    entered: threading.Event | None = None

    @cached_attribute
    def connection(self) -> str:
        if self.entered and self.gate:  # the parent's thread: computing slowly
            self.entered.set()
            self.gate.wait(20)
        return "connected"


def test_a_cached_attribute_being_computed_in_another_thread_does_not_block_a_worker() -> None:
    def compute_slowly(holding: threading.Event, release: threading.Event) -> None:
        context = Context()
        context.entered, context.gate = holding, release
        assert context.connection == "connected"

    def in_child() -> None:
        assert Context().connection == "connected"

    assert forked_child_finishes(compute_slowly, in_child) == 0


def test_the_mongo_client_registry_is_usable_in_a_worker_forked_while_it_was_locked(
    mongo_url: str,
) -> None:
    from etl.services import mongo

    def hold(holding: threading.Event, release: threading.Event) -> None:
        with mongo._lock:  # as a thread connecting (and authenticating) at the fork would
            holding.set()
            release.wait(20)

    def in_child() -> None:
        mongo.mongo_client().admin.command("ping")

    assert forked_child_finishes(hold, in_child) == 0
