"""zhihui.sim.report: the statistics behind the study report and the self-contained HTML it renders."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from zhihui.sim.report import compare, fmt_min, fmt_pct, render_html, summarise, write_report

MALICIOUS = "<script>alert(1)</script>"
JURISDICTIONS = ("福田派出所", "香蜜湖派出所", MALICIOUS)
N = 200


def _arrivals(hi: float) -> np.ndarray:
    # Evenly spaced 60..hi s: known percentiles and exact shares.
    return np.linspace(60.0, hi, N)


def _run(policy: str, ups: int, hi: float, *, not_arrived: int = 0) -> dict:
    incidents = []
    for i, arr in enumerate(_arrivals(hi)):
        incidents.append({
            "number": f"J{policy[0]}{ups}{i:04d}", "category_top": "02", "category_label": "治安",
            "jurisdiction": JURISDICTIONS[i % 3], "received_at": "2025-05-01T02:00:00Z",
            "dispatch_s": 30.0 + i % 10, "arrival_s": float(arr), "drive_s": float(arr) - 30.0, "unit": "U1",
        })
    for i in range(not_arrived):
        incidents.append({
            "number": f"X{policy[0]}{ups}{i:04d}", "category_top": "01", "category_label": "刑事",
            "jurisdiction": None, "received_at": "2025-05-01T03:00:00Z",
            "dispatch_s": None, "arrival_s": None, "drive_s": None, "unit": None,
        })
    units = [{"call_sign": f"福田{k:02d}", "type": "巡逻车", "station": "S1", "busy_s": 3600.0 * (k + 1),
              "on_duty_s": 8 * 3600.0} for k in range(ups * 3)]
    return {"name": f"{policy}-{ups}", "policy": policy, "units_per_station": ups, "wall_s": 1.5, "sim_hours": 8.0,
            "incidents": incidents, "units": units}


def _study(**extra: object) -> dict:
    runs = [_run("road", 2, 600.0), _run("straight", 2, 900.0), _run("road", 3, 500.0), _run("straight", 3, 700.0)]
    study = {"title": "福田区警力研究", "seed": 42, "city": "深圳市福田区", "network": "generated", "sim_hours": 8.0,
             "started_at": "2025-05-01T02:00:00+00:00", "notes": ["第一条说明 first note"], "runs": runs}
    study.update(extra)
    return study


def test_summarise_percentiles_match_numpy_and_shares_are_exact() -> None:
    run = _run("road", 2, 600.0, not_arrived=5)
    s = summarise(run)
    arr = _arrivals(600.0)
    assert s["n_incidents"] == N + 5
    assert s["n_arrived"] == N
    assert s["n_not_arrived"] == 5
    assert s["p50_arrival_s"] == pytest.approx(np.percentile(arr, 50, method="linear"))
    assert s["p90_arrival_s"] == pytest.approx(np.percentile(arr, 90, method="linear"))
    # Shares are over the incidents a unit reached; the 5 never reached are not in the denominator.
    assert s["share_within_5min"] == np.count_nonzero(arr <= 300) / N
    assert s["share_within_10min"] == 1.0
    assert s["p50_dispatch_s"] == pytest.approx(np.percentile([30.0 + i % 10 for i in range(N)], 50))
    assert s["p90_drive_s"] == pytest.approx(np.percentile(arr - 30.0, 90))
    busy = sum(3600.0 * (k + 1) for k in range(6))
    assert s["mean_utilisation"] == pytest.approx(busy / (6 * 8 * 3600.0))


def test_summarise_per_jurisdiction() -> None:
    s = summarise(_run("road", 2, 600.0, not_arrived=4))
    per = s["per_jurisdiction"]
    arr = _arrivals(600.0)
    mine = arr[1::3]  # incidents 1, 4, 7, ... are in 香蜜湖派出所
    assert per["香蜜湖派出所"]["n"] == len(mine)
    assert per["香蜜湖派出所"]["p90"] == pytest.approx(np.percentile(mine, 90, method="linear"))
    assert per["香蜜湖派出所"]["p50"] == pytest.approx(np.percentile(mine, 50, method="linear"))
    unknown = [v for k, v in per.items() if k not in JURISDICTIONS]
    assert len(unknown) == 1 and unknown[0]["n"] == 4 and unknown[0]["p50"] is None


def test_summarise_empty_run_is_all_none() -> None:
    s = summarise({"name": "empty", "policy": "road", "units_per_station": 1, "incidents": [], "units": []})
    assert s["n_incidents"] == 0 and s["n_arrived"] == 0
    for key in ("p50_arrival_s", "p90_arrival_s", "share_within_5min", "share_within_10min", "p50_dispatch_s",
                "p90_drive_s", "mean_utilisation"):
        assert s[key] is None, key
    assert s["per_jurisdiction"] == {}


def test_summarise_ignores_nan_arrivals() -> None:
    run = _run("road", 1, 600.0)
    run["incidents"][0]["arrival_s"] = float("nan")
    assert summarise(run)["n_arrived"] == N - 1


def test_compare_improvement() -> None:
    rows = compare(_study())
    assert [r["units_per_station"] for r in rows] == [2, 3]
    row = rows[0]
    p90_road = np.percentile(_arrivals(600.0), 90)
    p90_straight = np.percentile(_arrivals(900.0), 90)
    assert row["p90_a"] == pytest.approx(p90_road)
    assert row["p90_b"] == pytest.approx(p90_straight)
    assert row["improvement"] == pytest.approx(1 - p90_road / p90_straight)
    assert row["improvement"] > 0  # road dispatch is faster in this study


def test_compare_skips_staffing_run_under_one_policy_only() -> None:
    study = _study()
    study["runs"].append(_run("road", 5, 400.0))
    assert [r["units_per_station"] for r in compare(study)] == [2, 3]
    assert compare(study, a="road", b="nonexistent") == []


def test_render_html_contents() -> None:
    study = _study()
    page = render_html(study)
    for heading in ("到场时间分布", "Arrival-time CDF", "主要结论", "Key findings", "各方案汇总", "警力利用率",
                    "各辖区到场时间", "警组数与 5 分钟到场率", "说明", "第一条说明 first note"):
        assert heading in page, heading
    assert "GENERATED" in page
    assert "模拟数据" in page and "SIMULATED" in page
    row = compare(study)[0]
    assert f"{fmt_min(row['p90_a'])} 分钟 min" in page
    assert f"{fmt_min(row['p90_b'])} 分钟 min" in page
    assert f"{row['improvement'] * 100:.1f}%" in page
    s = summarise(study["runs"][1])
    assert fmt_pct(s["share_within_5min"]) in page
    assert len(re.findall(r"<svg\b", page)) >= 4
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert "<?xml" not in page  # the SVG prologue is invalid inside HTML


def test_render_html_has_no_external_references() -> None:
    page = render_html(_study())
    stripped = re.sub(r'\sxmlns(?::\w+)?="[^"]*"', "", page)
    assert not re.search(r"https?://", stripped)
    assert not re.search(r"<(?:script|link|img|iframe)\b", page, re.IGNORECASE)
    assert "@import" not in page and "url(http" not in page


def test_render_html_escapes_user_strings() -> None:
    study = _study(title=MALICIOUS, notes=[MALICIOUS])
    page = render_html(study)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_svg_ids_are_unique_in_the_page() -> None:
    page = render_html(_study())
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:url\(#|href="#)([^")]+)', page))
    assert refs <= set(ids)


def test_render_html_chart_text_stays_text() -> None:
    # svg.fonttype "none": Chinese axis labels are <text>, drawn by the browser's CJK font.
    page = render_html(_study())
    assert re.search(r"<text[^>]*>[^<]*分钟", page)


def test_render_html_empty_run_and_empty_study() -> None:
    empty = {"name": "空 empty", "policy": "road", "units_per_station": 1, "wall_s": 0.0, "sim_hours": 0.0,
             "incidents": [], "units": []}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from numpy on empty arrays, no matplotlib noise
        page = render_html({"title": "t", "seed": 1, "city": "c", "network": "real", "runs": [empty]})
        assert "空 empty" in page and "—" in page
        assert "<svg" not in page  # no data, so sentences instead of charts
        assert "真实路网" in page and "GENERATED" not in page
        assert "No runs to compare" in render_html({})  # an empty dict renders too
        render_html({"runs": [empty, _run("straight", 1, 600.0)]})


def test_render_html_is_small_for_a_big_study() -> None:
    runs = [_run(p, u, hi) for p, u, hi in (("road", 1, 900.0), ("straight", 1, 1200.0),
                                             ("road", 2, 600.0), ("straight", 2, 800.0))]
    for run in runs:  # 2,000 incidents per run
        run["incidents"] = run["incidents"] * 10
    page = render_html({"runs": runs})
    assert len(page.encode("utf-8")) < 2_000_000


def test_write_report_writes_html_and_json(tmp_path) -> None:
    study = _study()
    out = write_report(study, tmp_path / "sub" / "study.html")
    assert out == tmp_path / "sub" / "study.html"
    assert out.read_text(encoding="utf-8") == render_html(study)
    assert json.loads((tmp_path / "sub" / "study.json").read_text(encoding="utf-8")) == study
    assert sorted(p.name for p in out.parent.iterdir()) == ["study.html", "study.json"]  # no temp files left


def test_write_report_refuses_json_path(tmp_path) -> None:
    with pytest.raises(ValueError):
        write_report(_study(), tmp_path / "study.json")
