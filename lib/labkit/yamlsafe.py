"""YAML loading with the limits a Kubernetes API server applies, for every manifest labkit reads.

* Aliases may not multiply a document: a few hundred bytes of nested aliases (a "billion laughs"
  document) expand into billions of nodes once anything walks the result. The nodes aliases add are
  counted while composing, before any value is built, and the document is refused past ``MAX_ALIASED``.
* A key repeated in one mapping is an error, as in kubectl and the API server's strict field
  validation: ``line 5: mapping key "name" already defined at line 4``. PyYAML would keep the last value.
* Nesting is limited to ``MAX_DEPTH`` levels, so a deep document is refused instead of overflowing
  Python's stack somewhere later.
* Error messages name the line and column and never quote the document (the line may hold a secret).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Nodes that aliases may add to a document (far more than any lab manifest, far below a bomb).
MAX_ALIASED = 10_000
#: Deepest nesting of mappings and lists (Kubernetes objects nest about 15 levels deep).
MAX_DEPTH = 100


class YamlRefused(ValueError):
    """A document that is not valid YAML or breaks one of the limits; the message quotes no content."""


def _position(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _size(node: Node, memo: dict[int, int]) -> int:
    """Nodes ``node`` stands for once aliases are expanded (shared nodes counted each time they appear)."""
    found = memo.get(id(node))
    if found is not None:
        return found
    if isinstance(node, SequenceNode):
        total = 1 + sum(_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        total = 1 + sum(_size(k, memo) + _size(v, memo) for k, v in node.value)
    else:
        total = 1
    memo[id(node)] = total
    return total


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliased = 0
        self._sizes: dict[int, int] = {}
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            node = super().compose_node(parent, index)
            if node is not None and anchor in self.anchors:
                self._aliased += _size(node, self._sizes)
                if self._aliased > MAX_ALIASED:
                    raise YamlRefused(
                        f"YAML aliases at {_position(node.start_mark)} expand the document by more than "
                        f"{MAX_ALIASED} nodes; write the repeated parts out instead"
                    )
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(
                    f"YAML nested deeper than {MAX_DEPTH} levels at {_position(self.peek_event().start_mark)}"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlRefused(f"line {line}: mapping key {_quoted(key)} already defined at line {seen[key]}")
            seen[key] = line
        return super().construct_mapping(node, deep)


def _quoted(key: Any) -> str:
    text = str(key)
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def _refused(exc: yaml.YAMLError) -> YamlRefused:
    """PyYAML's message without its snippet of the document (which may hold a secret)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        what = exc.problem or exc.context or "invalid YAML"
        return YamlRefused(f"{what} at {_position(exc.problem_mark or exc.context_mark)}")
    return YamlRefused("invalid YAML")


def load_all(text: str) -> Iterator[Any]:
    """Every document in ``text``; raises ``YamlRefused`` with a message safe to show."""
    loader = _Loader(text)
    try:
        while loader.check_data():
            yield loader.get_data()
    except yaml.YAMLError as exc:
        raise _refused(exc) from None
    except RecursionError:
        raise YamlRefused(f"YAML nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


def load(text: str) -> Any:
    """The single document in ``text`` (None when empty)."""
    docs = list(load_all(text))
    if len(docs) > 1:
        raise YamlRefused("expected a single YAML document, found several")
    return docs[0] if docs else None
