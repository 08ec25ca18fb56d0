"""JSON Schema for FakeSequrity: check a scripted value, or make a small instance that validates.

Checking uses ``jsonschema`` (the reference validator). Instances come from a small
deterministic generator: the least value each keyword allows (required properties only, the
first ``enum`` member or ``anyOf`` branch, ``minItems`` items, zero or the lower bound), so a
test sees the same answer on every run. What it cannot satisfy (a ``pattern``, say) is reported,
and the test scripts the value itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jsonschema

__all__ = ["SchemaError", "instance", "problem"]

_STRING_FORMATS: Final = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
}
_MAX_DEPTH: Final = 32


class SchemaError(ValueError):
    """No instance could be made (or the schema itself is invalid)."""


def problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not validate against ``schema`` (the best match), or ``None``."""
    try:
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator_class.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        return f"the schema itself is invalid: {exc.message}"
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def instance(schema: Mapping[str, Any]) -> Any:
    """A small deterministic value that validates against ``schema``; ``SchemaError`` if none is found."""
    value = _make(schema, schema, 0)
    found = problem(value, schema)
    if found is not None:
        raise SchemaError(f"FakeSequrity cannot make a value for this schema ({found}); script one")
    return value


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise SchemaError(f"FakeSequrity follows only local $ref, not {ref!r}; script the value")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        raise SchemaError(f"$ref {ref!r} names nothing in the schema")
    return node


def _make(schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise SchemaError("the schema nests deeper than FakeSequrity follows; script the value")
    if schema is True or not isinstance(schema, Mapping):
        return None
    if "$ref" in schema:
        return _make(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        branches = schema.get(combinator)
        if branches:
            # Prefer a branch that is not just null: an answer with content reads better.
            chosen = next(
                (b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")), None
            )
            return _make(chosen if chosen is not None else branches[0], root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(
                _resolve(part["$ref"], root) if isinstance(part, Mapping) and "$ref" in part else part
            )
        return _make(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _BY_TYPE.get(kind, lambda s, r, d: None)(schema, root, depth)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    return {name: _make(properties.get(name, {}), root, depth + 1) for name in schema.get("required") or []}


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    count = max(int(schema.get("minItems", 0)), len(prefix) if schema.get("minItems") else 0)
    items = [
        _make(prefix[i] if i < len(prefix) else schema.get("items", {}), root, depth + 1)
        for i in range(count)
    ]
    return items


def _string(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> str:
    text = _STRING_FORMATS.get(schema.get("format", ""), "string")
    return text.ljust(int(schema.get("minLength", 0)), "x")


def _number(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> int:
    if "minimum" in schema:
        return int(-(-schema["minimum"] // 1))
    if "exclusiveMinimum" in schema:
        return int(schema["exclusiveMinimum"] // 1) + 1
    if "maximum" in schema and schema["maximum"] < 0:
        return int(schema["maximum"] // 1)
    return 0


_BY_TYPE: Final[dict[str, Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": lambda s, r, d: False,
    "null": lambda s, r, d: None,
}
