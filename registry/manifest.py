"""Validation of a submitted manifest: the shape, the schemas, the name. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema
from pydantic import ValidationError

from core.errors import InvalidRequest
from registry.checks import find_hidden_characters
from registry.pinning import WIRE_FIELDS
from registry.schemas import Platform

ALLOWED_FIELDS = frozenset((*WIRE_FIELDS, "platform"))
# The MCP tool-name rule: 1-128 ASCII letters, digits, '_', '-', '.'.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
ANNOTATION_HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
MAX_MANIFEST_STRING = 10_000


class InvalidManifest(InvalidRequest):
    code = "invalid_manifest"

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}" if path else message, detail={"path": path})


class HiddenCharacters(InvalidManifest):
    code = "hidden_characters"


@dataclass(frozen=True)
class CheckedManifest:
    name: str
    platform: Platform
    manifest: dict[str, Any]


def _require_string(manifest: dict[str, Any], field: str, *, required: bool) -> None:
    value = manifest.get(field)
    if value is None:
        if required:
            raise InvalidManifest("is required", field)
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidManifest("must be a non-empty string", field)
    if len(value) > MAX_MANIFEST_STRING:
        raise InvalidManifest(f"is longer than {MAX_MANIFEST_STRING} characters", field)


def _check_schema(manifest: dict[str, Any], field: str, *, required: bool) -> None:
    schema = manifest.get(field)
    if schema is None:
        if required:
            raise InvalidManifest("is required", field)
        return
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidManifest('must be a JSON Schema object with "type": "object"', field)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        inner = ".".join(str(part) for part in exc.path)
        raise InvalidManifest(f"is not a valid JSON Schema: {exc.message}", f"{field}.{inner}" if inner else field) from exc


def _check_annotations(manifest: dict[str, Any]) -> None:
    annotations = manifest.get("annotations")
    if annotations is None:
        return
    if not isinstance(annotations, dict):
        raise InvalidManifest("must be an object", "annotations")
    for key, value in annotations.items():
        if key in ANNOTATION_HINTS and not isinstance(value, bool):
            raise InvalidManifest("must be true or false", f"annotations.{key}")
        if key == "title" and not isinstance(value, str):
            raise InvalidManifest("must be a string", "annotations.title")


def check_manifest(manifest: Any) -> CheckedManifest:
    """Validate a submitted manifest.

    Raises :class:`HiddenCharacters` if any string or key carries an invisible
    or direction-changing character, and :class:`InvalidManifest` for any other
    flaw; both name the offending field's path.
    """
    if not isinstance(manifest, dict):
        raise InvalidManifest("the manifest must be a JSON object", "")
    hidden = find_hidden_characters(manifest)
    if hidden:
        first = hidden[0]
        raise HiddenCharacters(f"{first.message} (refused: hidden characters are never allowed)", first.path)
    unknown = sorted(set(manifest) - ALLOWED_FIELDS)
    if unknown:
        raise InvalidManifest(f"unknown field (allowed: {', '.join(sorted(ALLOWED_FIELDS))})", unknown[0])
    _require_string(manifest, "name", required=True)
    if not NAME_PATTERN.fullmatch(manifest["name"]):
        raise InvalidManifest("must be 1-128 ASCII letters, digits, '_', '-' or '.'", "name")
    _require_string(manifest, "title", required=False)
    _require_string(manifest, "description", required=True)
    _check_schema(manifest, "inputSchema", required=True)
    _check_schema(manifest, "outputSchema", required=False)
    _check_annotations(manifest)
    try:
        platform = Platform.model_validate(manifest.get("platform"))
    except ValidationError as exc:
        error = exc.errors()[0]
        inner = ".".join(str(part) for part in error["loc"])
        raise InvalidManifest(error["msg"], f"platform.{inner}" if inner else "platform") from exc
    return CheckedManifest(name=manifest["name"], platform=platform, manifest=manifest)
