"""The schema check: a compiled validator passes the files that are fine, jsonschema decides and
describes the others, and the two never disagree about a file the compiled one accepts."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import manifest

from controller.core import schemacheck
from controller.core.loading import parse_file

R = "releases/argus/1.8.0/release.yaml"


def problems_of(doc: dict) -> list[tuple[str, str]]:
    _, found = parse_file(R, yaml.safe_dump(doc).encode(), "release")
    return [(p.pointer, p.message) for p in found]


def test_every_shipped_schema_has_a_compiled_check():
    for kind in schemacheck.KINDS:
        assert schemacheck._compiled(kind) is not None, kind


def test_space_in_a_pattern_is_read_as_python_reads_it():
    python_space = "".join(chr(c) for c in range(0x110000) if re.match(r"\s", chr(c)))
    assert python_space == schemacheck.PYTHON_SPACE
    assert schemacheck.python_pattern(r"^[^@\s]+@x\.y$") == rf"^[^@{python_space}]+@x\.y$"
    assert schemacheck.python_pattern(r"^a\sb$") == rf"^a[{python_space}]b$"
    with pytest.raises(ValueError):  # \d is wider in Python: such a schema is left to jsonschema
        schemacheck.python_pattern(r"^\d+$")


@pytest.mark.parametrize("url", ["https://example.org/a\x85b.rpm", "https://example.org/a\x1cb.rpm"])
def test_a_url_with_a_space_only_python_knows_is_refused(url):
    doc = manifest()
    doc["packages"][0]["url"] = url
    [(pointer, message)] = problems_of(doc)
    assert pointer == "/packages/0/url" and "is not well formed" in message


def test_what_the_compiled_check_refuses_and_jsonschema_accepts_is_accepted():
    doc = manifest()
    doc["packages"][0]["sha256"] += "\n"  # Python's $ matches before a final newline; ECMA-262's does not
    assert not schemacheck._passes("release", doc)
    assert problems_of(doc) == []


def test_a_file_that_fails_is_described_field_by_field():
    doc = manifest(summmary="typo")
    doc["packages"][0]["size"] = "big"
    doc["category"] = "sometimes"
    pointers = {pointer for pointer, _ in problems_of(doc)}
    assert pointers == {"/summmary", "/packages/0/size", "/category"}
