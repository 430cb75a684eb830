"""WGS-84 / GCJ-02 / BD-09 coordinate conversion.

The platform stores WGS-84 (GPS, OpenStreetMap). Chinese map apps report GCJ-02 (AMap, Tencent, the
"Mars" offset mandated for maps published in China) or BD-09 (Baidu, a further rotation of GCJ-02).
Mixing them up puts a unit a few hundred metres from where it really is, so every coordinate is
converted to WGS-84 at the API edge (`to_wgs84`) and back only when a client asks for its own system
(`from_wgs84`).

GCJ-02 is the widely published obfuscation formula on the Krasovsky 1940 ellipsoid; BD-09 applies
Baidu's small polar rotation/scale to GCJ-02 plus a fixed offset. Neither has a closed-form inverse,
so the inverses here are solved iteratively and agree with the forward transforms to far under a
millimetre, instead of the common one-step approximations that can be off by metres.

Argument and result order is always (lat, lon). Pure standard-library `math`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula (not the WGS-84 ellipsoid: the formula was
# published with these constants and every map vendor's data is shifted with exactly them).
_A = 6378245.0  # semi-major axis, metres
_EE = 0.00669342162296594323  # first eccentricity squared

# Baidu's rotation constant: π·3000/180.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Mean Earth radius (IUGG R1), metres.
EARTH_RADIUS_M = 6371008.8

# Inverse iteration: stop when the correction is below this (≈0.1 mm) or after this many rounds.
_INV_TOL_DEG = 1e-9
_INV_MAX_ITER = 30


def out_of_china(lat: float, lon: float) -> bool:
    """True if (lat, lon) is outside the rough China rectangle, where no offset is ever applied.

    GCJ-02 only obfuscates coordinates inside China; providers leave the rest of the world in WGS-84,
    so shifting a Tokyo or Paris point would introduce an error rather than remove one. This is the
    customary bounding box, so border regions of neighbouring countries inside it are shifted too.
    """
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    """GCJ-02 latitude perturbation in (roughly) metres, for x = lon − 105, y = lat − 35."""
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    """GCJ-02 longitude perturbation in (roughly) metres, for x = lon − 105, y = lat − 35."""
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point inside China."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = math.radians(lat)
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    # Metres → degrees using the Krasovsky meridian and prime-vertical radii of curvature.
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02: what AMap/Tencent would display for a GPS fix (unchanged outside China)."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    return lat + dlat, lon + dlon


def _invert(
    forward: Callable[[float, float], tuple[float, float]], lat: float, lon: float, start: tuple[float, float]
) -> tuple[float, float]:
    """Solve forward(p) == (lat, lon) for p by fixed-point correction, starting from `start`.

    Both offsets vary slowly (their Jacobian is the identity plus terms of order 1e-3), so subtracting
    the residual converges geometrically: two to four rounds reach 1e-9°.
    """
    g_lat, g_lon = start
    for _ in range(_INV_MAX_ITER):
        f_lat, f_lon = forward(g_lat, g_lon)
        d_lat, d_lon = f_lat - lat, f_lon - lon
        g_lat -= d_lat
        g_lon -= d_lon
        if abs(d_lat) < _INV_TOL_DEG and abs(d_lon) < _INV_TOL_DEG:
            break
    return g_lat, g_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, exact to well under a millimetre (iterated, not the one-step approximation).

    The one-step "subtract the offset computed at the GCJ point" is off by up to a few metres, which
    is enough to put a unit on the wrong side of a road; iterating removes that error.
    """
    if out_of_china(lat, lon):
        return lat, lon
    return _invert(wgs84_to_gcj02, lat, lon, (lat, lon))


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → BD-09: Baidu's small rotation/scale about the origin plus a fixed offset.

    Like GCJ-02 it is only applied inside the China rectangle: Baidu serves plain WGS-84 abroad, and the
    platform's rule is that points outside China are never shifted.
    """
    if out_of_china(lat, lon):
        return lat, lon
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + _BD_DLAT, z * math.cos(theta) + _BD_DLON


def _bd09_to_gcj02_approx(lat: float, lon: float) -> tuple[float, float]:
    """The customary closed-form inverse of `gcj02_to_bd09` (good to a few decimetres)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 → GCJ-02: the closed-form approximation refined until it exactly inverts `gcj02_to_bd09`.

    The closed form alone leaves an error of up to ~0.3 m; refining it costs a couple of extra
    rounds and makes BD-09 round trips lossless for practical purposes. Unchanged outside China.
    """
    if out_of_china(lat, lon):
        return lat, lon
    return _invert(gcj02_to_bd09, lat, lon, _bd09_to_gcj02_approx(lat, lon))


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 → BD-09 via GCJ-02 (Baidu defines BD-09 only relative to GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 → WGS-84 via GCJ-02 (both steps leave points outside China unchanged)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of mean Earth radius (error ≲ 0.5 %)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) of a box that holds every point within `radius_m` of
    (lat, lon): the cheap indexed pre-filter before exact haversine distances."""
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


_Converter = Callable[[float, float], tuple[float, float]]


def _identity(lat: float, lon: float) -> tuple[float, float]:
    return lat, lon


_TO_WGS84: dict[str, _Converter] = {"wgs84": _identity, "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84: dict[str, _Converter] = {"wgs84": _identity, "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def _normalise_crs(crs: str) -> str:
    """Map 'WGS-84', 'gcj_02', ' BD09 ' … to the canonical key; ValueError naming the input otherwise."""
    key = crs.strip().lower().replace("-", "").replace("_", "") if isinstance(crs, str) else None
    if key not in _TO_WGS84:
        raise ValueError(f"unknown coordinate system {crs!r}; expected one of 'wgs84', 'gcj02', 'bd09'")
    return key


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert a client-supplied point in `crs` to the WGS-84 the platform stores."""
    return _TO_WGS84[_normalise_crs(crs)](lat, lon)


def from_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert a stored WGS-84 point to the `crs` a client asked to receive."""
    return _FROM_WGS84[_normalise_crs(crs)](lat, lon)
