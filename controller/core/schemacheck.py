"""The JSON Schemas shipped in schemas/, and turning their errors into problems people can act on.

Schemas are loaded once per process. Messages name the field and what to write instead, never
just the validator keyword that failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from controller.core.yamlio import Document, escape_pointer
from controller.errors import Problem

if TYPE_CHECKING:  # imported when first validating: a run whose files are all cached needs none of it
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

BASE = "https://rolloutctl.invalid/schemas/"
CHECKS = "fill-in-1"  # what check() adds to the schemas; a new value invalidates cached results
KINDS = ("release", "verification", "report", "decision", "withdrawal", "adopter",
         "distribution", "repositories", "timelines", "calendar", "roles", "freezes", "snapshots")


def schema_files() -> list:
    """The shipped schemas, sorted by name: the package data ``controller.schemas`` of an installed
    wheel, or the top-level schemas/ directory when running from a checkout (where the package
    ``controller`` is imported from the working tree and has no such subpackage)."""
    try:
        folder = resources.files("controller.schemas")
    except ModuleNotFoundError:
        folder = resources.files("controller").joinpath("..", "schemas")
    return sorted((entry for entry in folder.iterdir() if entry.name.endswith(".schema.json")),
                  key=lambda entry: entry.name)


@cache
def schemas_digest() -> str:
    """Changes whenever a shipped schema does: caches of checked documents key on it."""
    digest = hashlib.sha256(CHECKS.encode())
    for entry in schema_files():
        digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()


@cache
def _registry() -> tuple[Registry, dict[str, dict]]:
    from referencing import Registry, Resource

    schemas = {}
    for entry in schema_files():
        # Schemas carry no $id so that editors resolve their relative $refs next to the file;
        # here each gets one so that the same relative $refs resolve inside the registry.
        schemas[entry.name] = {"$id": BASE + entry.name, **json.loads(entry.read_text("utf-8"))}
    registry = Registry().with_resources(
        (BASE + name, Resource.from_contents(body)) for name, body in schemas.items())
    return registry, schemas


@cache
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    registry, schemas = _registry()
    name = f"{kind}.schema.json"
    return Draft202012Validator(_inline(schemas[name], schemas, name), registry=registry)


def _inline(node: object, schemas: dict[str, dict], current: str) -> object:
    """Replace cross-file $refs by their targets: validation then needs no reference lookups,
    which otherwise cost more than the checks themselves on a repository of thousands of files."""
    if isinstance(node, list):
        return [_inline(item, schemas, current) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and "#/$defs/" in ref:
        file, _, name = ref.partition("#/$defs/")
        file = file or current
        target = schemas[file]["$defs"][name]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(target, schemas, file), **_inline(siblings, schemas, current)}
    return {k: _inline(v, schemas, current) for k, v in node.items()}


# The mark that templates (report-template, release new) leave where only a person can write. A
# value that still holds it makes the file malformed: refused, and left out of the model like any
# file that fails its schema. Comments may say FILL-IN; values may not.
FILL_IN = "FILL-IN"


def blanks_in(value: object, pointer: str = "") -> Iterator[str]:
    """The JSON pointers of every value that still holds the mark."""
    if isinstance(value, str):
        if FILL_IN in value:
            yield pointer
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from blanks_in(item, f"{pointer}/{escape_pointer(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from blanks_in(item, f"{pointer}/{index}")


def check(kind: str, doc: Document, file: str) -> list[Problem]:
    problems = []
    for error in sorted(validator(kind).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))):
        pointer = "".join(f"/{escape_pointer(p)}" for p in error.absolute_path)
        message, hint, pointer = _explain(error, pointer, kind)
        problems.append(Problem(file, message, hint, pointer, doc.line_of(pointer)))
    # A FILL-IN the schema accepts (any string) is refused all the same: the file is malformed.
    seen = {p.pointer for p in problems}
    problems += [Problem(file, f"{pointer} still says {FILL_IN}", "write what is asked there (the comment beside "
                         "it says what), then validate again", pointer, doc.line_of(pointer), "fill-in")
                 for pointer in blanks_in(doc.data) if pointer not in seen]
    return problems


def _explain(error: ValidationError, pointer: str, kind: str) -> tuple[str, str, str]:
    schema_ref = f"see schemas/{kind}.schema.json"
    field = pointer.rsplit("/", 1)[-1] or "the document"
    if isinstance(error.instance, str) and FILL_IN in error.instance:
        wanted = (f"one of: {', '.join(map(str, error.validator_value))}" if error.validator == "enum"
                  else error.schema.get("description") or _article(error.schema.get("type", "a value")))
        return f"{pointer} still says {FILL_IN}", f"write {wanted}", pointer
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        described = error.schema.get("properties", {}).get(missing, {}).get("description", "")
        hint = f"add {missing}: {described}" if described else f"add {missing}; {schema_ref}"
        return f"missing field {missing!r}", hint, pointer
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        name = extra[0] if extra else "?"
        return (f"unknown field {name!r}", f"remove it or fix the spelling; allowed here: {', '.join(allowed)}",
                f"{pointer}/{escape_pointer(name)}")
    if error.validator == "type":
        return (f"{field} must be {_article(error.validator_value)}, not {type(error.instance).__name__} "
                f"{error.instance!r}", schema_ref, pointer)
    if error.validator == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return f"{field} is {error.instance!r}; it must be one of: {choices}", "pick one of those", pointer
    if error.validator == "pattern":
        described = error.schema.get("description", "")
        return (f"{field} {error.instance!r} is not well formed", described or f"it must match "
                f"{error.validator_value}", pointer)
    if error.validator == "oneOf" and _is_url_or_path(error):
        return ("a package needs exactly one of url or path",
                "keep one: url for a download, path for a file here", pointer)
    if error.validator == "anyOf" and kind == "adopter":
        return "a commitment names components or stacks", "add components: [...] or stacks: [...]", pointer
    return f"{field}: {error.message}", schema_ref, pointer


def _is_url_or_path(error: ValidationError) -> bool:
    return all("required" in option for option in error.validator_value)


def _article(kind: object) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
             "number": "a number", "boolean": "true or false"}
    return names.get(kind, str(kind)) if isinstance(kind, str) else " or ".join(map(_article, kind))
