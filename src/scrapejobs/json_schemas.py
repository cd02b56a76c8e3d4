"""What the OpenAPI document says of a request's fields: what their validators check.

The validators in :mod:`scrapejobs.schemas` decide; these JSON Schema
keywords tell clients (and schemathesis) the same rules, so that every value
the document accepts, the API accepts. Patterns are ECMA-262, as JSON
Schema's, and each takes only what its validator takes (``DOMAIN_PATTERN``
the ASCII forms: the validator also takes Unicode host names and bracketed
IPv6 addresses).
"""

from __future__ import annotations

from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "DOMAIN_PATTERN",
    "DURATION_PATTERN",
    "HEADER_VALUE_PATTERN",
    "HTTP_URL_PATTERN",
    "JSON_VALUE_REF",
    "JSON_VALUE_SCHEMA",
    "NO_NUL",
    "SITE_PATTERN",
    "Documented",
    "one_of_given",
    "with_status",
]


class Documented:
    """Adds keywords to a type's JSON Schema (an ``Annotated`` marker)."""

    def __init__(self, **extra: Any) -> None:
        self.extra = extra

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(self.extra)
        return schema


NO_NUL = r"^[^\u0000]*$"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*"
_PORT = r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
_PORT += r"|6553[0-5]))?"
DOMAIN_PATTERN = rf"^(?:https?://{_HOST}{_PORT}/?|{_HOST}{_PORT})$"
SITE_PATTERN = rf"^{_HOST}{_PORT}$"
HTTP_URL_PATTERN = r"^https?://[A-Za-z0-9][!-Z^-~]*$"
"""Printable ASCII without ``[``, ``\\`` and ``]`` (no IPv6 literal: the validator takes them)."""
HEADER_VALUE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
DURATION_PATTERN = r"^[1-9][0-9]{0,3}(?:\.[0-9]{1,3})?[smhdw]$"
"""A positive duration up to 9999.999 weeks (``Retention`` takes up to 10,000)."""


JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value the databases store: no NUL in strings, integers in 64 bits",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": JSON_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        },
    ],
}
"""The OpenAPI component ``JsonValue`` (``web/openapi.py`` adds it to the document)."""


def with_status(*statuses: str) -> dict[str, Any]:
    """A JSON Schema: the object has ``status``, one of ``statuses``."""
    return {"required": ["status"], "properties": {"status": {"enum": list(statuses)}}}


def one_of_given(*names: str) -> dict[str, Any]:
    """A JSON Schema: at least one of ``names`` is given, and not null."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names
        ]
    }
