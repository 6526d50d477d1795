"""Safe YAML reading: bytes in, plain data plus a JSON-pointer-to-line map out.

Only the YAML core types are built (no tags that construct objects). Dates stay strings so that
JSON Schema sees what the author typed. Duplicate keys are refused, and a document whose aliases
expand past a sane number of nodes (the "billion laughs" bomb) is refused before it is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import yaml

MAX_BYTES = 1 << 20
MAX_NODES = 50_000
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Resolver(_Loader):  # type: ignore[misc, valid-type]
    """The safe loader without the timestamp resolver: dates and times stay strings."""

    def resolve(self, kind, value, implicit):
        """The tag of an untagged node, as the base resolver finds it with no path resolvers
        (there are none here), in fewer steps: the parser asks for every node of every file."""
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _BY_FIRST.get(value[:1], _ANY_FIRST):
                    if regexp.match(value):
                        return tag
            return self.DEFAULT_SCALAR_TAG
        return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_ANY_FIRST = _Resolver.yaml_implicit_resolvers.get(None, [])  # resolvers for any first character
_BY_FIRST = {first: resolvers + _ANY_FIRST for first, resolvers in _Resolver.yaml_implicit_resolvers.items()}

_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YamlError(Exception):
    def __init__(self, message: str, line: int | None = None, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint


@dataclass(frozen=True)
class Document:
    data: object
    lines: dict[str, int]  # JSON pointer -> 1-based line

    def line_of(self, pointer: str) -> int | None:
        """The line of the pointer, or of its nearest ancestor that has one."""
        while True:
            if pointer in self.lines:
                return self.lines[pointer]
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]


def escape_pointer(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


@lru_cache(maxsize=16384)
def read_yaml(raw: bytes) -> Document:
    """Parse one YAML document; raise YamlError with a line number on any problem.

    Cached by content: the same blob is read at the head and again in the file's history.
    Callers must not modify what it returns."""
    if len(raw) > MAX_BYTES:
        raise YamlError(
            f"file is {len(raw)} bytes, more than the {MAX_BYTES} allowed",
            hint="manifests are small text files; link large content by URL",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", hint="save the file as UTF-8") from None
    try:
        loader = _Resolver(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(f"not valid YAML: {exc.problem or exc}", line, "fix the syntax at that line") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}", hint="fix the syntax") from None
    if root is None:
        raise YamlError("the file is empty", hint="write the fields the schema asks for")
    builder = _Builder()
    data = builder.build(root, "")
    return Document(data, builder.lines)


_INT_RX = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_STR, _INT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"
_BOOLS = yaml.constructor.SafeConstructor.bool_values


class _Builder:
    """Plain data and the line of every pointer from the composed nodes. Strings, the most of any
    manifest, are taken as the parser left them; other scalars go through the safe constructor."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, pointer: str, depth: int = 0) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                f"the document expands to more than {MAX_NODES} nodes",
                node.start_mark.line + 1,
                "this looks like an alias bomb; write the values out instead of nesting aliases",
            )
        if depth > MAX_DEPTH:
            raise YamlError(f"the document nests deeper than {MAX_DEPTH} levels",
                            node.start_mark.line + 1, "flatten the structure; recursive aliases are refused")
        if pointer not in self.lines:
            self.lines[pointer] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, pointer, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, f"{pointer}/{i}", depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, pointer: str, depth: int) -> dict:
        if node.tag != "tag:yaml.org,2002:map":
            raise YamlError(f"tag {node.tag} is not allowed", node.start_mark.line + 1, "remove the tag")
        result: dict = {}
        lines = self.lines
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not supported", key_node.start_mark.line + 1,
                                "write the fields out")
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, float, bool)):
                raise YamlError("mapping keys must be plain scalars", key_node.start_mark.line + 1)
            key = str(key)
            if key in result:
                raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1,
                                "keep one of the two entries")
            child = f"{pointer}/{escape_pointer(key) if '~' in key or '/' in key else key}"
            lines[child] = key_node.start_mark.line + 1  # errors point at the key, not the value
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _scalar(self, node: yaml.Node) -> object:
        tag = node.tag
        if tag == _STR:
            return node.value  # what the safe constructor returns for a string, without its dispatch
        if tag not in _CORE_TAGS:
            raise YamlError(f"tag {node.tag} is not allowed", node.start_mark.line + 1,
                            "use plain strings, numbers, booleans, lists and mappings")
        if tag == _INT:
            value = self.constructor.construct_object(node)
            # YAML 1.1 reads 0755 as octal and 1_000 with underscores; keep those as authors see them.
            return value if _INT_RX.match(node.value.replace("_", "")) else node.value
        if tag == "tag:yaml.org,2002:bool" and node.value.lower() in _BOOLS:
            return _BOOLS[node.value.lower()]
        if tag == "tag:yaml.org,2002:null":
            return None
        return self.constructor.construct_object(node)
