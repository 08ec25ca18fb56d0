"""The base of every header model: unknown fields forbidden, compact ASCII JSON on the wire.

Forward compatibility: the service adds header fields more often than this package is
released. Unknown fields stay errors (a typo must fail), and each model takes one explicit
escape hatch, ``unchecked={"new_field": value}``: fields this release does not know, sent
as given (JSON values), next to the checked ones. ``unchecked`` may name no field the model
declares, and ``explain()`` output marks these fields as unchecked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = ["ACCEPT_UNKNOWN", "UNCHECKED", "HeaderModel", "PositiveInt", "StrictModel"]

PositiveInt = Annotated[int, Field(ge=1)]

_M = TypeVar("_M", bound="HeaderModel")

#: The key of the escape hatch, in keyword arguments and in dict / JSON input.
UNCHECKED: Final = "unchecked"
#: Validation context key: move unknown fields into ``unchecked`` instead of refusing them
#: (for a server that reads headers from a newer client, e.g. FakeSequrity on request).
ACCEPT_UNKNOWN: Final = "accept_unknown_fields"


@functools.lru_cache(maxsize=1)
def _json_object() -> TypeAdapter[dict[str, JsonValue]]:
    # Built on first use: building its validator costs milliseconds at `import sequrity_openai`.
    return TypeAdapter(dict[str, JsonValue])


class StrictModel(BaseModel):
    """A model of what we send: unknown fields and non-JSON numbers are errors when it is built.

    ``unchecked={"field": value}`` adds fields newer than this release, unchecked.
    """

    # Infinity and NaN are not JSON (RFC 8259); a server would reject the header.
    # defer_build: the validators are built on first use, not at `import sequrity_openai`.
    # The docstring under each field documents it; docs/reference.md is generated from those
    # docstrings (mkdocstrings reads the source). pydantic's use_attribute_docstrings would
    # copy them into Field.description at class creation, but on Python < 3.13 it re-reads
    # and tokenizes the source once per class: +110 ms on `import sequrity_openai`, twice
    # the import budget (benchmarks/RESULTS.md), so the runtime descriptions stay unset.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, defer_build=True)

    _unchecked: dict[str, JsonValue] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _take_unchecked(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        extra: Any = None
        if isinstance(data, Mapping):
            data = dict(data)
            extra = data.pop(UNCHECKED, None)
            if info.context and info.context.get(ACCEPT_UNKNOWN):
                unknown = {k: data.pop(k) for k in list(data) if k not in cls.model_fields}
                extra = {**unknown, **(extra or {})} if unknown else extra
        model = handler(data)
        if extra is not None and isinstance(model, StrictModel):
            try:
                values = _json_object().validate_python(extra)
                json.dumps(values, allow_nan=False)
            except ValueError:  # pydantic's ValidationError is a ValueError too
                raise ValueError(
                    "unchecked must map field names to JSON values (no NaN or Infinity)"
                ) from None
            known = [key for key in values if key in cls.model_fields or not key]
            if known:
                raise ValueError(
                    f"unchecked may only hold fields {cls.__name__} does not declare; "
                    f"set {known[0]!r} directly (it is checked)"
                )
            model._unchecked = values
        return model

    @model_serializer(mode="wrap")
    def _add_unchecked(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self._unchecked and isinstance(data, dict):
            data.update(self._unchecked)
        return data

    @property
    def unchecked(self) -> dict[str, JsonValue]:
        """The fields given through ``unchecked=`` (a copy)."""
        return dict(self._unchecked)

    def unchecked_paths(self, prefix: str = "") -> list[str]:
        """Dotted paths of every unchecked field, in this model and the models inside it."""
        found = [f"{prefix}{key}" for key in self._unchecked]
        for name in type(self).model_fields:
            value = getattr(self, name)
            values = (
                value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            )
            for item in values:
                if isinstance(item, StrictModel):
                    found += item.unchecked_paths(f"{prefix}{name}.")
        return found


class HeaderModel(StrictModel):
    """A model that is one whole header value."""

    def to_header(self) -> str:
        """Compact ASCII JSON for the header; ``None`` fields are left out."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True),
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )

    def explained(self) -> str:
        """The header value, followed by the unchecked fields it carries (for ``explain()``)."""
        paths = self.unchecked_paths()
        header = self.to_header()
        return f"{header} (unchecked: {', '.join(paths)})" if paths else header

    @classmethod
    def from_header(cls: type[_M], value: str) -> _M:
        """Parse a header value back into the model (the inverse of ``to_header``)."""
        return cls.model_validate_json(value)
