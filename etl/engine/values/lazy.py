"""`cached_attribute`: computed on first access, kept on the instance — without a lock.

`functools.cached_property` on Python 3.11 holds one lock per attribute, shared by every
instance of the class, while it computes. The engine forks snapshot workers, and a stream runs
a thread per collection: a worker forked while another thread was computing the attribute
(connecting to MongoDB, say) inherits the lock held and waits on it forever. Python 3.12 removed
that lock; this is the same descriptor without it. Two threads computing at once both compute,
and the last one's value stays (each value here is equivalent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

T = TypeVar("T")


class cached_attribute(Generic[T]):  # named like the decorator it replaces
    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | Self:
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.name] = value  # found first from now on (no __set__ here)
        return value
