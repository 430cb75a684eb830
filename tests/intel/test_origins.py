"""高危地区名单: lists of 户籍 regions per crime type as data; a bad prefix is refused at load with the list named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zhihui.intake.text.ids import region_name
from zhihui.intel import origins


def test_shipped_lists_load_and_name_their_regions() -> None:
    lists = origins.load_lists(origins.DEFAULT_LISTS)
    assert {"DEMO_FRAUD", "DEMO_THEFT"} <= set(lists)
    out = origins.list_out(lists["DEMO_FRAUD"])
    assert out["crime"] == "电信网络诈骗" and "演示" in out["source"]
    assert {"prefix": "4508", "name": "广西壮族自治区贵港市"} in out["regions"]
    assert region_name("43") == "湖南省" and region_name("450126") == "广西壮族自治区南宁市宾阳县"
    assert region_name("4580") is None and region_name("4x") is None


@pytest.mark.parametrize(("entry", "message"), [
    ({"prefixes": ["4580"]}, "lists[0] (BAD): prefixes: '4580' is no GB/T 2260"),
    ({"prefixes": ["451"]}, "2, 4 or 6 digits"),
    ({"prefixes": []}, "lists[0] (BAD): prefixes"),
    ({"code": "bad code"}, "lists[0] (bad code): code"),
])
def test_a_bad_list_is_refused_with_the_list_and_field_named(tmp_path: Path, entry: dict, message: str) -> None:
    import yaml

    item = {"code": "BAD", "name": "坏名单", "crime": "盗窃", "prefixes": ["43"], **entry}
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "lists": [item]}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(origins.OriginListError, match=re.escape(message)):
        origins.load_lists(path)
    twice = tmp_path / "twice.yaml"
    good = {"code": "AA", "name": "名单一", "crime": "盗窃", "prefixes": ["43"]}
    twice.write_text(yaml.safe_dump({"version": 1, "lists": [good, good]}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(origins.OriginListError, match="appears twice"):
        origins.load_lists(twice)
