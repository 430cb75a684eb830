"""Simulated call streams where one event is reported by several callers (GENERATED data).

Used to measure the duplicate detector: events happen at road nodes of the real Futian graph at a
city-like rate; each event is reported by 1–5 callers (fires, crashes and fights draw more callers
than a theft), each with their own phrasing, a few minutes apart, located by handset positioning
with tens of metres of error, or only by an address when no position came with the call. Other
events nearby and at the same time are the hard negatives.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from zhihui.intake.duplicates import CallFeatures, DupParams, candidates

# Mean number of extra callers per event, by top-level category: visible events draw crowds.
EXTRA_CALLERS = {"05": 1.6, "04": 1.0, "02": 0.7, "03": 1.2, "01": 0.35, "06": 0.2, "07": 0.05, "08": 0.3,
                 "09": 0.05}
POSITION_ERROR_M = 60.0  # handset positioning (AML/cell) error, 1 sigma
NO_POSITION_SHARE = 0.15


@dataclass(frozen=True)
class SimCall:
    event: int
    features: CallFeatures


def _offset(lat: float, lon: float, sigma_m: float, rng: random.Random) -> tuple[float, float]:
    dn, de = rng.gauss(0, sigma_m), rng.gauss(0, sigma_m)
    return lat + dn / 111_320.0, lon + de / (111_320.0 * math.cos(math.radians(lat)))


def generate_stream(texts_by_type: dict[str, Sequence[str]], points: Sequence[tuple[float, float]], *,
                    events_per_hour: float = 20.0, hours: float = 24.0, seed: int = 1,
                    start: datetime | None = None,
                    categorise: Callable[[str], str | None] | None = None) -> list[SimCall]:
    """Calls in time order, each labelled with the event it reports. `categorise` gives the
    category the call-taker records from the caller's words (e.g. the suggested type); without it
    every call carries its true type, which flatters the detector."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    types = sorted(texts_by_type)
    weights = [len(texts_by_type[t]) ** 0.5 for t in types]
    calls: list[SimCall] = []
    t, event = 0.0, 0
    while True:
        t += rng.expovariate(events_per_hour / 3600.0)
        if t > hours * 3600:
            break
        event += 1
        type_code = rng.choices(types, weights)[0]
        lat, lon = points[rng.randrange(len(points))]
        street_no = rng.randint(1, 300)
        address = f"深圳市福田区{event % 97}号路{street_no}号"  # stands for a parsed address of the event
        n = 1 + poisson(EXTRA_CALLERS.get(type_code[:2], 0.3), rng)
        at = t
        for k in range(min(n, 6)):
            if k:
                at += rng.expovariate(1 / 150.0)  # later callers: minutes apart
            text = rng.choice(texts_by_type[type_code])
            if rng.random() < NO_POSITION_SHARE:
                plat = plon = None
            else:
                plat, plon = _offset(lat, lon, POSITION_ERROR_M, rng)
            phone = f"13{rng.randrange(10**9):09d}"
            calls.append(SimCall(event, CallFeatures(
                at=start + timedelta(seconds=at), text=text, lat=plat, lon=plon,
                address=address if plat is None or rng.random() < 0.5 else None,
                category=categorise(text) if categorise else type_code, phone=phone)))
    calls.sort(key=lambda c: c.features.at)
    return calls


def poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw by Knuth's product method (small means only: extra callers, offspring)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def evaluate(calls: Sequence[SimCall], params: DupParams) -> dict[str, float]:
    """Run the detector online over the stream (each call against the earlier ones of the window)
    and score its top suggestion: precision of suggestions, recall over calls that had an earlier
    call of the same event."""
    window: list[tuple[int, CallFeatures]] = []
    suggested = correct = repeats = 0
    seen: set[int] = set()
    for i, c in enumerate(calls):
        horizon = c.features.at - timedelta(seconds=params.window_s)
        window = [(j, f) for j, f in window if f.at >= horizon]
        is_repeat = c.event in seen
        repeats += is_repeat
        found = candidates(c.features, [CallFeatures(**{**f.__dict__, "ref": j}) for j, f in window], params,
                           limit=1)
        if found:
            suggested += 1
            if calls[found[0].ref].event == c.event:  # type: ignore[index]
                correct += 1
        seen.add(c.event)
        window.append((i, c.features))
    precision = correct / suggested if suggested else 1.0
    recall = correct / repeats if repeats else 1.0
    return {"calls": len(calls), "events": len(seen), "repeat_calls": repeats, "suggested": suggested,
            "correct": correct, "precision": round(precision, 4), "recall": round(recall, 4)}
