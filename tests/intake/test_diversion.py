"""12345 diversion rules (data in zhihui/intake/diversion.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhihui.intake.diversion import diversion_rules, load_rules


def test_non_police_category_is_diverted_with_department() -> None:
    a = diversion_rules().advise("楼下便利店的音响从早放到晚，吵得不行", "020803")
    assert a.divert and a.rule_id == "noise_shop" and "生态环境" in (a.department or "")
    a = diversion_rules().advise("小区停水一整天了", "090601")
    assert a.divert and a.department == "水务集团"


def test_keywords_advise_before_a_type_is_chosen() -> None:
    a = diversion_rules().advise("我们这片停电了，什么时候来电", None)
    assert a.divert and a.rule_id == "utility_power" and "停电" in a.keywords


def test_police_matters_stay() -> None:
    assert not diversion_rules().advise("有人在商场门口打架", "0201").divert
    # Residential noise at night is a police category (police: true).
    assert not diversion_rules().advise("楼上半夜吵闹", "020801").divert


def test_safety_cue_blocks_diversion() -> None:
    a = diversion_rules().advise("商铺老板拿刀威胁我，说不退款就砍我", "080701")
    assert not a.divert and {"威胁", "砍"} <= set(a.blocked_by)
    assert "安全风险" in a.reason


def test_default_department_for_unruled_non_police_category() -> None:
    rules = diversion_rules()
    unruled = [c for c in rules.tree.nodes.values()
               if not c.police and not any(r.matches_category(c.code) for r in rules.rules)]
    if unruled:
        a = rules.advise("来电反映问题", unruled[0].code)
        assert a.divert and a.department == rules.default_department


def test_rules_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("rules:\n  - {id: x, name: x, categories: ['0201'], department: d}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="police categories"):
        load_rules(bad)
    bad.write_text("rules:\n  - {id: x, name: x, categories: ['9999'], department: d}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown categories"):
        load_rules(bad)


def test_police_category_never_advised_away_by_keywords() -> None:
    # Found in review: a keyword of a 12345 rule used to win over a police category.
    assert not diversion_rules().advise("商家不给退款，一群人围着我不让走", "0201").divert
    assert not diversion_rules().advise("他用假药骗了老人两万块钱", "0101").divert


def test_urgent_cues_and_wider_safety_words_block() -> None:
    a = diversion_rules().advise("小区停水了", "090601", urgent_cues=["头破"])
    assert not a.divert and a.blocked_by == ["头破"]
    for text in ("楼下商铺太吵，我去说了一句被他打了一拳", "店老板说要弄死我", "隔壁店拿着菜刀出来了"):
        assert not diversion_rules().advise(text, "020803").divert, text
