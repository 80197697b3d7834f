"""Search filters: which chunks a search may return, said in the user's words, for every store to translate.

A filter is a conjunction of conditions, each written ``FIELD OP VALUE``
(``docmill search --where``, the API's ``where``): ``tags=invoice``,
``page>=2``, ``modified>=2024-01-01``, ``correspondent!=Acme``. Fields:

* ``source``: the named source (``archive``), the folder an ingest was
  given, or ``upload`` for documents sent to the HTTP API;
* ``doc``: the document's name as search shows it;
* ``page``: the 1-based page;
* ``modified``, ``created``: dates (``2024-05-01``) or times
  (``2024-05-01T12:00:00+00:00``), compared in time;
* ``tags``: ``=`` holds when the document has the tag, ``!=`` when it has not;
  a mail's ``to`` and ``cc`` likewise hold an address;
* any other key of the source's metadata (``correspondent``,
  ``document_type``, ``title``, ``filename``, ``size``...), compared as
  text, or as a number for ``size`` and ``paperless_id``.

Stores keep these fields as real metadata keys (``filterable``), so a
filter runs inside the store; ``matches`` is the same test in Python, for
stores that filter what they hold themselves.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LIST_FIELDS", "ONE_OF", "OPERATORS", "Condition", "Filter", "FilterError", "filterable", "matches",
           "parse", "source_label"]

#: Operators, as written.
OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
#: Fields holding dates: kept as seconds since the epoch under FIELD_ts, where a store compares numbers.
DATE_FIELDS = ("modified", "created")
#: Fields compared as numbers.
NUMBER_FIELDS = ("page", "size", "paperless_id")
#: Fields holding lists of names: ``=`` means "contains" (a document's tags, a mail's recipients).
LIST_FIELDS = ("tags", "to", "cc")
#: Keys every store writes for itself; a source's metadata under these names is not filterable.
RESERVED = frozenset({"doc", "doc_key", "seq", "version", "hash", "text", "meta", "page", "id"})

_EXPRESSION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$", re.DOTALL)


#: What docmill itself adds to a filter, never parsed from an expression: the field holds one of the values
#: (a tuple of names), as a caller's allow-list does (``core.access``).
ONE_OF = "in"


@dataclass(frozen=True)
class Condition:
    """One test of a chunk's field: ``key`` is the stored key, ``value`` already of the stored type (a tuple of
    names for :data:`ONE_OF`)."""

    field: str
    op: str
    value: str | int | float | tuple[str, ...]

    @property
    def key(self) -> str:
        """The metadata key a store compares."""
        return f"{self.field}_ts" if self.field in DATE_FIELDS else self.field

    @property
    def contains(self) -> bool:
        """Whether this tests membership in a list field (``tags=x``: has the tag x)."""
        return self.field in LIST_FIELDS


Filter = tuple[Condition, ...]


class FilterError(ValueError):
    """A ``FIELD OP VALUE`` expression that is not one, saying what is wrong with it (the caller's mistake)."""


def _timestamp(text: str) -> float:
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.timestamp()


def _typed(field: str, raw: str, op: str = "=") -> str | int | float:
    if field in DATE_FIELDS:
        try:
            return _timestamp(raw)
        except ValueError:
            raise FilterError(f"{field} takes a date (2024-05-01) or a time (2024-05-01T12:00:00+00:00), "
                              f"not {raw!r}") from None
    if field in NUMBER_FIELDS:
        try:
            number = float(raw)
        except ValueError:
            raise FilterError(f"{field} takes a number, not {raw!r}") from None
        return int(number) if number.is_integer() else number
    if op in ("=", "!="):
        return raw
    try:  # another field compared by size: a number the source gave (a year, a count)
        number = float(raw)
    except ValueError:
        raise FilterError(f"{field} is compared as text, with = or != only; > and < take a number or a date "
                          f"field") from None
    return int(number) if number.is_integer() else number


def parse(expressions: Iterable[str]) -> Filter:
    """Conditions from ``FIELD OP VALUE`` expressions; FilterError saying what is wrong with one."""
    conditions = []
    for expression in expressions:
        found = _EXPRESSION.match(expression)
        if found is None:
            raise FilterError(f"{expression!r} is not FIELD OP VALUE (OP one of {', '.join(OPERATORS)}): "
                              "tags=invoice, page>=2, modified>=2024-01-01")
        field, op, raw = found.groups()
        if field in RESERVED - {"doc", "page"}:
            raise FilterError(f"{field} is not a field a search can filter on")
        if field in LIST_FIELDS and op not in ("=", "!="):
            raise FilterError(f"{field} takes = (has it) or != (has it not), not {op}")
        if not raw:
            raise FilterError(f"{expression!r} has no value")
        conditions.append(Condition(field, op, _typed(field, raw, op)))
    return tuple(conditions)


def source_label(source_id: str) -> str:
    """What the ``source`` field holds for a source id: a named source's name (also for a job of some of its
    items, ``source:NAME@items-...``), an ingested folder's path, ``upload`` for the HTTP API's uploads."""
    kind, _, rest = source_id.partition(":")
    if kind == "source":
        return rest.partition("@")[0]
    if kind == "upload":
        return "upload"
    return rest or source_id


def filterable(metadata: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """The metadata a store keeps as its own keys, to filter on: scalars as they are, lists of names,
    dates also as seconds (``modified_ts``), and the document's ``source``; nothing under a reserved key."""
    kept: dict[str, Any] = {} if source is None else {"source": source}
    for key, value in metadata.items():
        if key in RESERVED or value is None:
            continue
        if isinstance(value, bool | int | float | str):
            kept[key] = value
        elif isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
            kept[key] = list(value)
        if key in DATE_FIELDS and isinstance(value, str) and value:
            with contextlib.suppress(ValueError):  # not a date after all: no time to compare by
                kept[f"{key}_ts"] = _timestamp(value)
    return kept


def _holds(condition: Condition, value: Any) -> bool:
    if condition.op == ONE_OF:
        return isinstance(value, str) and isinstance(condition.value, tuple) and value in condition.value
    if condition.contains:
        has = isinstance(value, list | tuple) and condition.value in value
        return has if condition.op == "=" else not has
    if condition.op == "!=":
        return bool(value != condition.value)  # a chunk without the field is not equal to anything
    if value is None:
        return False
    if condition.op == "=":
        return bool(value == condition.value)
    try:
        if condition.op == ">":
            return bool(value > condition.value)
        if condition.op == ">=":
            return bool(value >= condition.value)
        if condition.op == "<":
            return bool(value < condition.value)
        return bool(value <= condition.value)
    except TypeError:  # a number compared with text: no match
        return False


def matches(where: Filter, fields: Mapping[str, Any]) -> bool:
    """Whether a chunk whose filterable fields (with ``doc`` and ``page``) are ``fields`` passes the filter."""
    return all(_holds(condition, fields.get(condition.key)) for condition in where)
