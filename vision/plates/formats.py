"""Chinese licence-plate formats (GA 36): which text is a plate, what kind, and the colour the kind implies.

Pure: a reading whose text fits no format is reported as uncertain, never corrected into one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"                  # issuing-office letter: no I, no O
_SERIAL = "A-HJ-NP-Z0-9"
SUFFIXES = "学警港澳挂使领"
#: Every character a plate can hold: what the recogniser may read.
ALPHABET = frozenset(PROVINCES + SUFFIXES + "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")


@dataclass(frozen=True, slots=True)
class PlateFormat:
    kind: str                # standard, new_energy, coach, police, trailer, hong_kong, macau, embassy, consulate
    label: str               # 中文, for screens and reasons
    colours: tuple[str, ...]  # the colours this kind comes in; the first is the usual one


_FORMATS: tuple[tuple[re.Pattern[str], PlateFormat], ...] = tuple(
    (re.compile(pattern), fmt) for pattern, fmt in (
        (rf"^[{PROVINCES}][{_LETTER}][{_SERIAL}]{{5}}$",
         PlateFormat("standard", "普通号牌", ("blue", "yellow", "black", "white"))),
        (rf"^[{PROVINCES}][{_LETTER}](?:[DF][{_SERIAL}][0-9]{{4}}|[0-9]{{5}}[DF])$",
         PlateFormat("new_energy", "新能源号牌", ("green",))),
        (rf"^[{PROVINCES}][{_LETTER}][{_SERIAL}]{{4}}学$", PlateFormat("coach", "教练号牌", ("yellow",))),
        (rf"^[{PROVINCES}][{_LETTER}][{_SERIAL}]{{4}}警$", PlateFormat("police", "警用号牌", ("white",))),
        (rf"^[{PROVINCES}][{_LETTER}][{_SERIAL}]{{4}}挂$", PlateFormat("trailer", "挂车号牌", ("yellow",))),
        (rf"^粤Z[{_SERIAL}]{{4}}港$", PlateFormat("hong_kong", "港澳入出境号牌(港)", ("black",))),
        (rf"^粤Z[{_SERIAL}]{{4}}澳$", PlateFormat("macau", "港澳入出境号牌(澳)", ("black",))),
        (r"^使[0-9]{6}$", PlateFormat("embassy", "使馆号牌", ("black",))),
        (rf"^[{PROVINCES}][{_LETTER}][{_SERIAL}]{{4}}领$", PlateFormat("consulate", "领馆号牌", ("black",))),
    )
)


def plate_format(text: str) -> PlateFormat | None:
    """The format ``text`` fits, or None when it is no plate (too short, wrong characters, a guess)."""
    for pattern, fmt in _FORMATS:
        if pattern.match(text):
            return fmt
    return None


def settle_colour(fmt: PlateFormat, seen: str, seen_probability: float) -> tuple[str, str]:
    """The colour to report and, when the classifier and the text disagree, the reason to doubt the reading.

    The colour classifier knows blue, green and yellow; a kind with one colour (green new energy, black 港澳…)
    decides by itself, and a confident classifier saying otherwise casts doubt on the text. A colour the kind
    does not come in (green on a 7-character plate) is reported as unknown."""
    if len(fmt.colours) == 1:
        if fmt.colours[0] in ("blue", "green", "yellow") and seen != fmt.colours[0] and seen_probability >= 0.99:
            return fmt.colours[0], f"颜色({seen})与号牌类型({fmt.label})不符 / colour disagrees with the plate kind"
        return fmt.colours[0], ""
    return (seen if seen in fmt.colours else "unknown"), ""
