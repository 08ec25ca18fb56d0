"""Values with metadata (tags, producers, consumers) and the sets SQRT computes with.

``{"*"}`` is the universal set. Removing names from it (``@consumers -= {"public"}``) gives
"everyone except public", so a set is either finite (``items``) or universal minus
``excluded``. Sets may also hold patterns and type domains (``{str matching r".*@corp\\.com"}``),
which match values instead of equalling them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import ConfigurationError
from ._domains import Domain

__all__ = ["EMPTY", "UNIVERSAL", "MetaSet", "Metadata", "TaggedValue", "meta_of"]


def _unsupported(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"SQRT: {what} mixes patterns or type domains in a way the offline checker cannot compute"
    )


class MetaSet:
    """An immutable set of names (or values) that may be universal, with optional patterns."""

    __slots__ = ("_hash", "excluded", "items", "patterns", "universal")

    universal: bool
    items: frozenset[Hashable]
    patterns: tuple[Domain, ...]
    excluded: frozenset[Hashable]
    _hash: int | None

    def __init__(
        self,
        items: Iterable[Hashable] = (),
        *,
        patterns: Iterable[Domain] = (),
        universal: bool = False,
        excluded: Iterable[Hashable] = (),
    ) -> None:
        found = frozenset(items)
        if "*" in found:
            universal = True
        patterns = () if universal else tuple(dict.fromkeys(patterns))
        # Exclusions only matter where something else could match them.
        excl = frozenset(excluded) if universal or patterns else frozenset()
        object.__setattr__(self, "universal", universal)
        object.__setattr__(self, "items", frozenset() if universal else found - excl)
        object.__setattr__(self, "patterns", patterns)
        object.__setattr__(self, "excluded", excl)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MetaSet is immutable")

    @classmethod
    def of(cls, value: MetaSet | Iterable[str], *, field: str = "set") -> MetaSet:
        """A MetaSet from an iterable of names (``"*"`` means everyone)."""
        if isinstance(value, MetaSet):
            return value
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise ConfigurationError(
                f"{field}: expected a set of names such as {{'pii'}}, got {type(value).__name__}",
                setting=field,
            )
        names = list(value)
        for name in names:
            if not isinstance(name, str):
                raise ConfigurationError(f"{field}: names must be strings, got {type(name).__name__}")
        return cls(names)

    # ------------------------------------------------------------------ membership

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a member: equal to an item, or matched by a pattern."""
        try:
            if value in self.excluded:
                return False
            if self.universal:
                return True
            # True == 1 in Python; a SQRT number literal never matches a boolean.
            if not isinstance(value, bool) and value in self.items:
                return True
        except TypeError:  # unhashable values (dicts, lists) equal no literal
            if self.universal:
                return True
        return any(p.contains(value) for p in self.patterns)

    __contains__ = contains

    @property
    def is_empty(self) -> bool:
        return not self.universal and not self.items and not self.patterns

    @property
    def is_universal(self) -> bool:
        return self.universal and not self.excluded

    def _exact(self) -> bool:
        return not self.universal and not self.patterns

    # ------------------------------------------------------------------ algebra

    def __or__(self, other: MetaSet) -> MetaSet:
        if self.universal and other.universal:
            return MetaSet(universal=True, excluded=self.excluded & other.excluded)
        if self.universal or other.universal:
            big, small = (self, other) if self.universal else (other, self)
            return MetaSet(universal=True, excluded=[e for e in big.excluded if not small.contains(e)])
        excl = {e for e in self.excluded | other.excluded if not (self.contains(e) or other.contains(e))}
        return MetaSet(self.items | other.items, patterns=self.patterns + other.patterns, excluded=excl)

    def __and__(self, other: MetaSet) -> MetaSet:
        if self.universal and other.universal:
            return MetaSet(universal=True, excluded=self.excluded | other.excluded)
        if self.universal or other.universal:
            big, small = (self, other) if self.universal else (other, self)
            return MetaSet(small.items, patterns=small.patterns, excluded=small.excluded | big.excluded)
        if self.patterns and other.patterns:
            raise _unsupported("an intersection of two pattern sets")
        items = {i for i in self.items | other.items if self.contains(i) and other.contains(i)}
        return MetaSet(items)

    def __sub__(self, other: MetaSet) -> MetaSet:
        if other.universal:
            return MetaSet(e for e in other.excluded if self.contains(e))
        if not other.patterns:
            return MetaSet(
                self.items - other.items,
                patterns=self.patterns,
                universal=self.universal,
                excluded=self.excluded | other.items,
            )
        if self._exact():
            return MetaSet(i for i in self.items if not other.contains(i))
        raise _unsupported("a difference with a pattern set")

    def __xor__(self, other: MetaSet) -> MetaSet:
        return (self - other) | (other - self)

    # ------------------------------------------------------------------ comparisons

    def overlaps(self, other: MetaSet) -> bool:
        if self.universal or other.universal:
            big, small = (self, other) if self.universal else (other, self)
            if small.universal or small.patterns:
                return True
            return any(big.contains(i) for i in small.items)
        if any(other.contains(i) for i in self.items) or any(self.contains(i) for i in other.items):
            return True
        if self.patterns and other.patterns:
            raise _unsupported("an overlap test between two pattern sets")
        return False

    def issubset(self, other: MetaSet) -> bool:
        if other.universal:
            if self.universal:
                return other.excluded <= self.excluded
            if self.patterns and other.excluded:
                raise _unsupported("a subset test of a pattern set")
            return all(other.contains(i) for i in self.items)
        if self.universal:
            return False
        if self.patterns:
            if set(self.patterns) <= set(other.patterns):
                return all(other.contains(i) for i in self.items)
            raise _unsupported("a subset test of a pattern set")
        return all(other.contains(i) for i in self.items)

    def issuperset(self, other: MetaSet) -> bool:
        return other.issubset(self)

    def same(self, other: MetaSet) -> bool:
        return self.issubset(other) and other.issubset(self)

    # ------------------------------------------------------------------ Python protocol

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset)):
            try:
                other = MetaSet(other)
            except TypeError:
                return NotImplemented
        if not isinstance(other, MetaSet):
            return NotImplemented
        return (self.universal, self.items, set(self.patterns), self.excluded) == (
            other.universal,
            other.items,
            set(other.patterns),
            other.excluded,
        )

    def __hash__(self) -> int:
        if self._hash is None:
            value = hash((self.universal, self.items, frozenset(self.patterns), self.excluded))
            object.__setattr__(self, "_hash", value)
            return value
        return self._hash

    def __iter__(self) -> Iterator[Hashable]:
        """The members of a finite set of names; everyone (``{"*"}``) cannot be listed."""
        if not self._exact():
            raise TypeError("a universal set or a set with patterns cannot be iterated; use to_list()")
        return iter(self.items)

    def __len__(self) -> int:
        if not self._exact():
            raise TypeError("a universal set or a set with patterns has no length; use to_list()")
        return len(self.items)

    def __bool__(self) -> bool:
        return not self.is_empty

    def to_list(self) -> list[str]:
        """Sorted names as the service shows them: ``["*"]`` for everyone.

        Exclusions from the universal set have no wire form; they are listed as ``"-name"``.
        """
        if self.universal:
            return ["*", *sorted(f"-{e}" for e in self.excluded)]
        names = sorted(str(i) for i in self.items)
        return names + [repr(p) for p in self.patterns]

    def __repr__(self) -> str:
        return "{" + ", ".join(repr(n) for n in self.to_list()) + "}"


EMPTY = MetaSet()
UNIVERSAL = MetaSet(universal=True)

SetInput = MetaSet | Iterable[str]


@dataclass(frozen=True)
class Metadata:
    """Tags, producers and consumers without a value (a session's metadata)."""

    tags: MetaSet = EMPTY
    producers: MetaSet = EMPTY
    consumers: MetaSet = UNIVERSAL

    def to_dict(self) -> dict[str, list[str]]:
        """The service's ``meta`` object (key order as in its denial contexts)."""
        return {
            "tags": self.tags.to_list(),
            "consumers": self.consumers.to_list(),
            "producers": self.producers.to_list(),
        }

    def replace(self, field: str, value: MetaSet) -> Metadata:
        parts = {"tags": self.tags, "producers": self.producers, "consumers": self.consumers}
        parts[field] = value
        return Metadata(**parts)


PLAIN = Metadata()


class TaggedValue:
    """A value with the metadata Sequrity tracks for it.

    ``TaggedValue(value, tags=..., producers=..., consumers=...)``; a plain value has no tags,
    no producers and every consumer (``{"*"}``).
    """

    __slots__ = ("meta", "value")

    value: Any
    meta: Metadata

    def __init__(
        self,
        value: Any,
        *,
        tags: SetInput = (),
        producers: SetInput = (),
        consumers: SetInput = ("*",),
    ) -> None:
        meta = Metadata(
            MetaSet.of(tags, field="tags"),
            MetaSet.of(producers, field="producers"),
            MetaSet.of(consumers, field="consumers"),
        )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "meta", meta)

    @classmethod
    def _with_meta(cls, value: Any, meta: Metadata) -> TaggedValue:
        inst = cls.__new__(cls)
        object.__setattr__(inst, "value", value)
        object.__setattr__(inst, "meta", meta)
        return inst

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TaggedValue is immutable")

    @property
    def tags(self) -> MetaSet:
        return self.meta.tags

    @property
    def producers(self) -> MetaSet:
        return self.meta.producers

    @property
    def consumers(self) -> MetaSet:
        return self.meta.consumers

    @classmethod
    def derived(cls, value: Any, *sources: Any) -> TaggedValue:
        """A value computed from ``sources``, with the metadata the program would give it.

        Tags and producers are the union of the sources', consumers their intersection (the
        service's propagation rules): ``body = TaggedValue.derived("Hi " + doc.value, doc)``.
        """
        return cls._with_meta(value, combine(meta_of(s) for s in sources))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaggedValue):
            return NotImplemented
        return self.value == other.value and self.meta == other.meta

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"TaggedValue({self.value!r}, tags={m.tags!r}, producers={m.producers!r}, "
            f"consumers={m.consumers!r})"
        )


def meta_of(value: Any) -> Metadata:
    """The metadata of an argument: its own for a TaggedValue, the plain defaults otherwise."""
    return value.meta if isinstance(value, TaggedValue) else PLAIN


def combine(metas: Iterable[Metadata]) -> Metadata:
    """Union of tags and producers, intersection of consumers (everyone when there is none)."""
    tags, producers, consumers = EMPTY, EMPTY, UNIVERSAL
    for meta in metas:
        tags = tags | meta.tags
        producers = producers | meta.producers
        consumers = consumers & meta.consumers
    return Metadata(tags, producers, consumers)


def value_of(value: Any) -> Any:
    return value.value if isinstance(value, TaggedValue) else value


def tag_args(args: Mapping[str, Any]) -> dict[str, TaggedValue]:
    """Arguments as TaggedValues (plain values get the plain defaults)."""
    return {
        name: v if isinstance(v, TaggedValue) else TaggedValue._with_meta(v, PLAIN)
        for name, v in args.items()
    }
