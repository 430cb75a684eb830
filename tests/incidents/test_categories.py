from __future__ import annotations

from pathlib import Path

import pytest

from zhihui.incidents.categories import UNIT_TYPES, categories, load_tree

TOP = {"01": "刑事", "02": "治安", "03": "治安灾害事故", "04": "交通事故", "05": "火灾", "06": "群众求助",
       "07": "举报投诉", "08": "纠纷", "09": "其他"}


def test_top_level_is_the_public_bulletin_list() -> None:
    tree = categories()
    assert {c.code: c.name for c in tree.children(None)} == TOP


def test_three_levels_and_consistent_codes() -> None:
    tree = categories()
    depths = {c.depth for c in tree.nodes.values()}
    assert depths == {1, 2, 3}
    for c in tree.nodes.values():
        assert c.level in (1, 2, 3)
        assert set(c.units) <= set(UNIT_TYPES)
        if c.parent:
            assert c.code.startswith(c.parent) and len(c.code) == len(c.parent) + 2
    # Every top-level category has sub-types, and there are non-police matters to divert to 12345.
    assert all(tree.children(code) for code in TOP)
    assert any(not c.police for c in tree.nodes.values())
    assert sum(1 for c in tree.nodes.values() if c.depth == 3) >= 100


def test_paths_and_labels() -> None:
    tree = categories()
    leaf = next(c for c in tree.nodes.values() if c.depth == 3)
    path = tree.path(leaf.code)
    assert [p.depth for p in path] == [1, 2, 3]
    assert tree.label(leaf.code) == "/".join(p.name for p in path)


def test_bad_tree_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('- {code: "01", name: 刑事, en: x, level: 1, urgent: true, police: true, units: [],'
                   ' children: [{code: "0201", name: y, en: y, level: 2, urgent: false, police: true, units: []}]}',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="not a child code"):
        load_tree(bad)
    bad.write_text('- {code: "01", name: 刑事, en: x, level: 4, urgent: true, police: true, units: []}',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="level"):
        load_tree(bad)
    bad.write_text('- {code: "01", name: 刑事, en: x, level: 1, urgent: true, police: true, units: [tank]}',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="unknown unit types"):
        load_tree(bad)
