"""The incident category tree (类别/类型/细类), shipped as data in categories.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

UNIT_TYPES = ("patrol", "foot", "traffic", "fire", "criminal", "special", "ambulance")


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    en: str
    level: int
    urgent: bool
    police: bool
    units: tuple[str, ...]
    parent: str | None

    @property
    def depth(self) -> int:
        return len(self.code) // 2

    @property
    def top(self) -> str:
        return self.code[:2]


class CategoryTree:
    def __init__(self, nodes: dict[str, Category]) -> None:
        self.nodes = nodes

    def get(self, code: str) -> Category | None:
        return self.nodes.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self.nodes

    def path(self, code: str) -> list[Category]:
        """The node and its ancestors, top first (类别 → 类型 → 细类)."""
        return [self.nodes[code[:n]] for n in range(2, len(code) + 1, 2) if code[:n] in self.nodes]

    def children(self, code: str | None) -> list[Category]:
        return [c for c in self.nodes.values() if c.parent == code]

    def label(self, code: str) -> str:
        return "/".join(c.name for c in self.path(code))

    def as_tree(self) -> list[dict[str, object]]:
        def node(c: Category) -> dict[str, object]:
            return {
                "code": c.code, "name": c.name, "en": c.en, "level": c.level, "urgent": c.urgent,
                "police": c.police, "units": list(c.units),
                "children": [node(k) for k in self.children(c.code)],
            }

        return [node(c) for c in self.children(None)]


def _walk(items: list[dict[str, object]], parent: str | None, out: dict[str, Category]) -> None:
    for item in items:
        code = str(item["code"])
        if code in out:
            raise ValueError(f"duplicate category code {code}")
        if parent is not None and (not code.startswith(parent) or len(code) != len(parent) + 2):
            raise ValueError(f"category {code} is not a child code of {parent}")
        units = tuple(str(u) for u in item.get("units") or [])  # type: ignore[union-attr]
        unknown = set(units) - set(UNIT_TYPES)
        if unknown:
            raise ValueError(f"category {code}: unknown unit types {sorted(unknown)}")
        level = int(item["level"])  # type: ignore[call-overload]
        if level not in (1, 2, 3):
            raise ValueError(f"category {code}: level must be 1, 2 or 3")
        out[code] = Category(
            code=code,
            name=str(item["name"]),
            en=str(item.get("en", "")),
            level=level,
            urgent=bool(item["urgent"]),
            police=bool(item.get("police", True)),
            units=units,
            parent=parent,
        )
        _walk(item.get("children") or [], code, out)  # type: ignore[arg-type]


def load_tree(path: Path | None = None) -> CategoryTree:
    path = path or Path(__file__).with_name("categories.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    nodes: dict[str, Category] = {}
    _walk(data, None, nodes)
    return CategoryTree(nodes)


@cache
def categories() -> CategoryTree:
    return load_tree()
