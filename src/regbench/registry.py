"""A name -> object mapping whose lookups fail with one clear line (google/init2winit style)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from regbench.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Registered objects of one kind, e.g. `Registry[DatasetInfo]("dataset")`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} '{name}'; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
