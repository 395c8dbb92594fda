"""The published contract: the JSON Schema files under schemas/, for offline validation and the API docs."""

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource

from service.config import SCHEMAS_DIR

BATCH_SCHEMAS = {
    "movements": "movements.batch.json",
    "inplant-vehicles": "inplant-vehicles.batch.json",
    "nonroad-machinery": "nonroad-machinery.batch.json",
    "clean-transport-volumes": "clean-transport-volumes.batch.json",
}
HEARTBEAT_SCHEMA = "heartbeat.json"
MANIFEST_SCHEMA = "manifest.json"


@cache
def _documents() -> dict[str, Any]:
    """Every schema file, by its path under schemas/ (which is also its $id)."""
    documents = {}
    for path in sorted(SCHEMAS_DIR.rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        # The rule tables beside them (policies/, emergency/) are data files, not schemas.
        if isinstance(document, dict) and "$schema" in document:
            documents[path.relative_to(SCHEMAS_DIR).as_posix()] = document
    return documents


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (name, Resource.from_contents(document)) for name, document in _documents().items())


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # JSON Schema patterns are ECMA-262, where $ ends the string; Python's $ also matches before a
    # final newline, which would let "ABC\n" through ^[A-Z]+$.
    if validator.is_type(instance, "string"):
        python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
        if not re.search(python_pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def validator(name: str) -> Draft202012Validator:
    """A validator for schemas/<name>, references resolved against the other files."""
    return _Validator(_documents()[name], registry=_registry(), format_checker=FormatChecker())  # type: ignore[no-any-return]


def bundled(name: str) -> dict[str, Any]:
    """schemas/<name> with every $ref inlined, for OpenAPI (whose tools do not follow file references)."""
    def inline(node: Any, base: str) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target, _, pointer = node["$ref"].partition("#")
                target_name = urljoin(base, target) if target else base
                document = _documents()[target_name]
                for part in filter(None, pointer.split("/")):
                    document = document[part]
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**inline(document, target_name), **inline(rest, base)}
            return {k: inline(v, base) for k, v in node.items() if k not in ("$schema", "$id", "$defs")}
        if isinstance(node, list):
            return [inline(item, base) for item in node]
        return node

    return inline(_documents()[name], name)  # type: ignore[no-any-return]
