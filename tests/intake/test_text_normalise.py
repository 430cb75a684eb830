"""normalise(): what the call-taker's free text looks like after clean-up."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from zhihui.intake.text import Normalised, normalise

PROPERTY = settings(max_examples=150, deadline=None)
# Any str: all planes, plus lone surrogates (legal in a Python str) and a dense dose of emoji.
ANY_TEXT = st.text(
    st.characters() | st.characters(categories=["Cs"]) | st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
)


def test_traditional_becomes_simplified() -> None:
    r = normalise("深圳市福田區發生車禍，有人受傷，請快派警察")
    assert r.text == "深圳市福田区发生车祸,有人受伤,请快派警察"
    assert r.was_traditional
    assert r.original == "深圳市福田區發生車禍，有人受傷，請快派警察"


def test_simplified_text_is_not_reported_as_traditional() -> None:
    r = normalise("深圳市福田区发生车祸，有人受伤")
    assert not r.was_traditional
    assert r.text == "深圳市福田区发生车祸,有人受伤"


def test_full_width_digits_and_letters_become_ascii() -> None:
    assert normalise("电话１３８１２３４５６７８").text == "电话13812345678"
    assert normalise("车牌粤Ｂ１２３４５").text == "车牌粤B12345"


def test_chinese_punctuation_nfkc_behaviour() -> None:
    # Full-width ASCII punctuation becomes ASCII; 。、“”《》 have no compatibility mapping and stay.
    assert normalise("有人受伤！在哪？（福田）").text == "有人受伤!在哪?(福田)"
    assert normalise("他说：“快来。”《通知》、").text == "他说:“快来。”《通知》、"


def test_emoji_removed_and_counted_per_sequence() -> None:
    r = normalise("救命😭😭 家里👨‍👩‍👧着火了🔥 🇨🇳 👍🏽")
    assert r.text == "救命 家里着火了"
    assert r.emoji_removed == 6  # two crying faces, one ZWJ family, fire, one flag, thumbs-up + skin tone


def test_text_symbols_are_kept_unless_emoji_presentation() -> None:
    assert normalise("★重点 ©2024").text == "★重点 ©2024"
    r = normalise("©️ 好")
    assert r.text == "好" and r.emoji_removed == 1


def test_keycap_keeps_its_digit() -> None:
    r = normalise("按1️⃣号键")
    assert r.text == "按1号键"


def test_control_and_format_characters_removed() -> None:
    r = normalise("报\x00警\x07 人\u200b员\u202e受\ufeff伤\x7f")
    assert r.text == "报警 人员受伤"


def test_whitespace_runs_collapse() -> None:
    assert normalise("  福田区\t\t车公庙\n\n  地铁站\u3000口  ").text == "福田区 车公庙 地铁站 口"


def test_lone_surrogate_does_not_break_opencc() -> None:
    assert normalise("\ud800發\udfff").text == "发"


def test_empty_flags() -> None:
    assert normalise("").empty
    assert normalise("   ").empty
    assert normalise("😀😀").empty
    assert normalise("，。！").empty
    assert not normalise("1").empty
    assert not normalise("火").empty


def test_mixed_script() -> None:
    assert normalise("粤B12345撞人").mixed_script
    assert normalise("嫌疑人叫Zhang San").mixed_script
    assert normalise("こんにちは漢字").mixed_script
    assert not normalise("福田区12号").mixed_script
    assert not normalise("hello world").mixed_script


def test_as_dict_is_json() -> None:
    d = normalise("車禍😀").as_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d == {
        "text": "车祸",
        "original": "車禍😀",
        "was_traditional": True,
        "emoji_removed": 1,
        "mixed_script": False,
        "empty": False,
    }


def test_two_thousand_characters() -> None:
    # Speed is measured in bench/intake_analyze.py, not asserted here.
    text = ("深圳市福田區發生車禍，有人受傷😭，請快派警察！電話１３８ １２３４ ５６７８。\x00" * 60)[:2000]
    r = normalise(text)
    assert r.was_traditional and r.emoji_removed > 0 and "\x00" not in r.text


@PROPERTY
@given(ANY_TEXT)
def test_never_raises_and_is_idempotent(text: str) -> None:
    r = normalise(text)
    assert isinstance(r, Normalised)
    again = normalise(r.text)
    assert again.text == r.text
    assert again.emoji_removed == 0
    assert not again.was_traditional


@PROPERTY
@given(
    st.text(alphabet=st.characters(min_codepoint=0x1F000, max_codepoint=0x1FAFF) | st.sampled_from("火警\u200d\ufe0f"))
)
def test_emoji_heavy_text_is_idempotent(text: str) -> None:
    r = normalise(text)
    assert normalise(r.text).text == r.text
