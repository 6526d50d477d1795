"""The JSON Schemas shipped in schemas/, and turning their errors into problems people can act on.

Schemas are loaded once per process. Each document is checked first by a compiled validator of
the same schemas (jsonschema-rs, fifty times faster on a repository of thousands of files); only a
document it refuses goes through jsonschema, which decides and describes every error. Messages
name the field and what to write instead, never just the validator keyword that failed.
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
def _schemas() -> dict[str, dict]:
    # Schemas carry no $id so that editors resolve their relative $refs next to the file; here
    # each gets one so that the same relative $refs resolve inside the registry.
    return {entry.name: {"$id": BASE + entry.name, **json.loads(entry.read_text("utf-8"))}
            for entry in schema_files()}


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    return Registry().with_resources((BASE + name, Resource.from_contents(body)) for name, body in _schemas().items())


def _inlined(kind: str) -> dict:
    schemas, name = _schemas(), f"{kind}.schema.json"
    return _inline(schemas[name], schemas, name)


@cache
def validator(kind: str) -> Draft202012Validator:
    """The validator that decides and describes: jsonschema, the reference implementation."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_inlined(kind), registry=_registry())


@cache
def _compiled(kind: str):
    """The same schema compiled, to pass the documents that are fine without describing anything;
    None when a pattern could read differently in it. Formats are not asserted (nor are they by
    ``validator``), so that whatever this accepts, ``validator`` accepts too."""
    import jsonschema_rs

    try:
        schema = _python_patterns(_inlined(kind))
    except ValueError:  # every document of this kind goes to jsonschema
        return None
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=False)


# What \s matches in Python's re: the compiled validator reads patterns as ECMA-262 does, whose
# \s leaves out U+001C to U+001F and U+0085 (and adds U+FEFF), so [^\s] would let them through.
PYTHON_SPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _python_patterns(node: object) -> object:
    """The schema with each pattern as Python reads it (see ``python_pattern``)."""
    if isinstance(node, list):
        return [_python_patterns(item) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _python_patterns(value) for key, value in node.items()}
    if isinstance(node.get("pattern"), str):
        found["pattern"] = python_pattern(node["pattern"])
    return found


def python_pattern(pattern: str) -> str:
    """A pattern that ECMA-262 and Python's re read alike: \\s spelled out as Python's characters.
    Raises ValueError on any other letter escape (\\d, \\w and their negations differ outside
    ASCII); escaped punctuation is literal in both, and where the rest differs (``$`` before a
    final newline, ``.`` before U+2028) ECMA-262 is the stricter, which only sends a document to
    jsonschema."""
    out, inside, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "s":
                out.append(PYTHON_SPACE if inside else f"[{PYTHON_SPACE}]")
            elif escaped.isalnum():
                raise ValueError(f"\\{escaped} in {pattern!r}")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if char == "[" and not inside:
            inside = True
        elif char == "]" and inside:
            inside = False
        out.append(char)
        i += 1
    return "".join(out)


def _passes(kind: str, data: object) -> bool:
    compiled = _compiled(kind)
    try:
        return compiled is not None and compiled.is_valid(data)
    except (ValueError, TypeError, OverflowError):  # a value it cannot take in: jsonschema says
        return False


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
    errors = () if _passes(kind, doc.data) else validator(kind).iter_errors(doc.data)
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
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
