"""The published contract: the JSON Schema files under schemas/, for offline validation and the API docs."""

import json
from functools import cache
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from service.config import SCHEMAS_DIR

BATCH_SCHEMAS = {
    "movements": "movements.batch.json",
    "inplant-vehicles": "inplant-vehicles.batch.json",
    "nonroad-machinery": "nonroad-machinery.batch.json",
    "clean-transport-volumes": "clean-transport-volumes.batch.json",
}


@cache
def _documents() -> dict[str, Any]:
    """Every schema file, by its path under schemas/ (which is also its $id)."""
    documents = {}
    for path in sorted(SCHEMAS_DIR.rglob("*.json")):
        name = path.relative_to(SCHEMAS_DIR).as_posix()
        if name.startswith("policies/"):
            continue
        documents[name] = json.loads(path.read_text(encoding="utf-8"))
    return documents


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (name, Resource.from_contents(document)) for name, document in _documents().items())


def validator(name: str) -> Draft202012Validator:
    """A validator for schemas/<name>, references resolved against the other files."""
    return Draft202012Validator(_documents()[name], registry=_registry(), format_checker=FormatChecker())


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
