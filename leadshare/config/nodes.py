"""YAML text to plain data with the line of every key and list item.

The loader is safe and strict: tags, duplicate keys, alias bombs and YAML 1.1's `yes`/`no`/`off`
booleans are refused or read as text here, each refusal a problem with its line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from leadshare.config.reading import MAX_CHARS, TOO_LARGE

Problem = tuple[int, str]
Loc = tuple[Any, ...]  # where a value sits: keys and list indexes from the top, ("agents", 0, "id")

MAX_NODES = 100_000  # values in the document once aliases are expanded

_BOOL_TAG = "tag:yaml.org,2002:bool"
_Y = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_SEQ_TAG = _Y + "seq"
_MAP_TAG = _Y + "map"
_MERGE_TAG = _Y + "merge"


class _TooLarge(Exception):
    def __init__(self, line: int):
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts nodes while composing, and where only true/false are booleans.

    YAML 1.1 reads `off`, `no`, `yes`, `on` as booleans, which would turn `sat: off` or a holiday
    country `NO` (Norway) into false; like YAML 1.2 they stay text here.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.node_count = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise _TooLarge(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


class Doc:
    """The document as plain data, with the line of every key and list item."""

    def __init__(self, loader: _Loader):
        self.loader = loader
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self.reported: set[Loc] = set()  # locations with a structural problem already listed

    def problem(self, line: int, loc: Loc, message: str) -> None:
        self.problems.append((line, at(loc, message)))
        self.reported.add(loc)

    def line(self, loc: Loc) -> int:
        for i in range(len(loc), -1, -1):
            if loc[:i] in self.lines:
                return self.lines[loc[:i]]
        return 1

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                        "YAML (remove the tag)")
                return None
            try:
                return self.loader.construct_object(node)
            except Exception:  # noqa: BLE001 - e.g. a timestamp like 2026-02-30
                self.problem(line, loc, f"'{node.value}' cannot be read as {_tag_name(node.tag)[2:]}")
                return None
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                        "YAML (remove the tag)")
                return None
            return [self.convert(item, loc + (i,)) for i, item in enumerate(node.value)]
        if node.tag != _MAP_TAG:
            self.problem(line, loc, f"the tag '{_tag_name(node.tag)}' is not allowed; the rules file is plain "
                                    "YAML (remove the tag)")
            return None
        return self.mapping(node, loc)

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(line, loc, "a key must be a plain name, not a list or a mapping")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.problem(line, loc, f"the tag '{_tag_name(key_node.tag)}' is not allowed; the rules file is "
                                        "plain YAML (remove the tag)")
                continue
            key = key_node.value
            if key in first_line:
                self.problem(line, loc, f"duplicate key '{key}' (first on line {first_line[key]}); keep one")
                continue
            first_line[key] = line
            self.lines[loc + (key,)] = line
            out[key] = self.convert(value_node, loc + (key,))
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode) or source.tag != _MAP_TAG:
                    self.problem(merge.start_mark.line + 1, loc, "`<<` needs a mapping or a list of mappings")
                    continue
                for key, value in self.mapping(source, loc).items():
                    out.setdefault(key, value)
        return out


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded (memoised, so fast)."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            raise _Recursive(node.start_mark.line + 1)
        active.add(key)
        if isinstance(node, yaml.ScalarNode):
            n = 1
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(item) for item in node.value)
        else:
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if n > MAX_NODES:
            raise _TooLarge(node.start_mark.line + 1)
        memo[key] = n
        return n

    return size(root)


class _Recursive(Exception):
    def __init__(self, line: int):
        self.line = line


def _yaml_error(e: yaml.YAMLError, text: str) -> Problem:
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        return line, f"invalid YAML: the file contains the control character U+{code:04X}; remove it"
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problem = e.problem or e.context or "cannot be read"
        context = ""
        if e.context and e.problem:
            where = f" on line {e.context_mark.line + 1}" if e.context_mark and e.context_mark.line + 1 != line else ""
            context = f" ({e.context}{where})"
        return line, f"invalid YAML: {problem}{context}"
    return 1, f"invalid YAML: {e}"


def load_data(text: str) -> tuple[Doc | None, Any, list[Problem]]:
    """YAML text -> (doc with lines, data, structural problems)."""
    if len(text) > MAX_CHARS:
        return None, None, [(1, TOO_LARGE)]
    too_many = (f"the file holds more than {MAX_NODES} values once its aliases (*name) are expanded; a rules "
                "file needs far fewer: write the values out instead of nesting aliases")
    try:
        loader = _Loader(text)
    except yaml.YAMLError as e:
        return None, None, [_yaml_error(e, text)]
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as e:
            return None, None, [_yaml_error(e, text)]
        except _TooLarge as e:
            return None, None, [(e.line, too_many)]
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        if root is None:
            return None, None, [(1, "the file is empty; it needs at least `agents:` and `rules:`")]
        try:
            _expanded_size(root)
        except _TooLarge as e:
            return None, None, [(e.line, too_many)]
        except _Recursive as e:
            return None, None, [(e.line, "an alias (*name) refers to the value that contains it; write the value out")]
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        if root.tag not in _SCALAR_TAGS | {_SEQ_TAG, _MAP_TAG}:
            return None, None, [(root.start_mark.line + 1, f"the tag '{_tag_name(root.tag)}' is not allowed; the "
                                                           "rules file is plain YAML (remove the tag)")]
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            return None, None, [(root.start_mark.line + 1,
                                 f"the file must be a mapping of keys (timezone:, agents:, rules: ...), not {kind}")]
        doc = Doc(loader)
        try:
            data = doc.convert(root, ())
        except RecursionError:
            return None, None, [(1, "the file is nested too deeply to be a rules file")]
        return doc, data, list(doc.problems)
    finally:
        loader.dispose()


def at(loc: Loc, message: str) -> str:
    """`message` prefixed with where it applies (`agents[0].tier: ...`), bare at the top level."""
    path = _dotted(loc)
    return f"{path}: {message}" if path else message


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
