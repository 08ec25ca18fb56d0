"""The base of every header model: unknown fields forbidden, compact ASCII JSON on the wire."""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HeaderModel", "PositiveInt", "StrictModel"]

PositiveInt = Annotated[int, Field(ge=1)]

_M = TypeVar("_M", bound="HeaderModel")


class StrictModel(BaseModel):
    """A model of what we send: unknown fields and non-JSON numbers are errors when it is built."""

    # Infinity and NaN are not JSON (RFC 8259); a server would reject the header.
    # defer_build: the validators are built on first use, not at `import sequrity_openai`.
    # The docstring under each field documents it; docs/reference.md is generated from those
    # docstrings (mkdocstrings reads the source). pydantic's use_attribute_docstrings would
    # copy them into Field.description at class creation, but on Python < 3.13 it re-reads
    # and tokenizes the source once per class: +110 ms on `import sequrity_openai`, twice
    # the import budget (benchmarks/RESULTS.md), so the runtime descriptions stay unset.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, defer_build=True)


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

    @classmethod
    def from_header(cls: type[_M], value: str) -> _M:
        """Parse a header value back into the model (the inverse of ``to_header``)."""
        return cls.model_validate_json(value)
