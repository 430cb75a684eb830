"""Chinese text utilities for the call-taker's intake form: normalising free text and reading
resident ID numbers, phone numbers and vehicle plates out of it.

Every parser takes any ``str`` and never raises: bad input gives ``valid=False`` and a list of
``Problem`` (stable English ``code``, Chinese ``message`` for the UI, ``message_en``). Results are
frozen dataclasses with ``.as_dict()`` for JSON.
"""

from zhihui.intake.text.ids import ResidentId, check_digit, find_resident_ids, parse_resident_id
from zhihui.intake.text.normalise import Normalised, Problem, normalise
from zhihui.intake.text.phones import PhoneInfo, find_phones, parse_phone
from zhihui.intake.text.plates import PlateInfo, find_plates, parse_plate

__all__ = [
    "Normalised",
    "PhoneInfo",
    "PlateInfo",
    "Problem",
    "ResidentId",
    "check_digit",
    "find_phones",
    "find_plates",
    "find_resident_ids",
    "normalise",
    "parse_phone",
    "parse_plate",
    "parse_resident_id",
]
