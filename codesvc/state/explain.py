"""A reason in words a citizen understands, in Simplified Chinese (default) or English.

Times are shown in the city's zone (Asia/Shanghai); everything else in the package is UTC.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from codesvc.state.areas import area_name
from codesvc.state.colors import Color
from codesvc.state.status import Reason

CITY_ZONE = ZoneInfo("Asia/Shanghai")

#: languages `explain` speaks, the default first
LANGUAGES = ("zh", "en")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EN_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four"}
_ZH_NUMBERS = {1: "一", 2: "两", 3: "三", 4: "四"}
_EN_COLORS = {Color.GREEN: "green", Color.YELLOW: "yellow", Color.RED: "red"}
_ZH_COLORS = {Color.GREEN: "绿码", Color.YELLOW: "黄码", Color.RED: "红码"}


def _local(t: datetime | None) -> datetime:
    if t is None:  # every template names only the times its rule and phase carry
        raise ValueError("the reason lacks a time its explanation needs")
    return t.astimezone(CITY_ZONE)


def _hours(span: timedelta) -> tuple[int, str]:
    """A span as a whole number of hours, else of minutes, for display."""
    minutes = int(span.total_seconds() // 60)
    return (minutes // 60, "h") if minutes % 60 == 0 else (minutes, "min")


class _English:
    @staticmethod
    def date(t: datetime | None) -> str:
        local = _local(t)
        return f"{local.day} {_MONTHS[local.month - 1]}"

    def time(self, t: datetime | None) -> str:
        return f"{self.date(t)} {_local(t):%H:%M}"

    @staticmethod
    def span(span: timedelta | None) -> str:
        amount, unit = _hours(span or timedelta())
        word = "hour" if unit == "h" else "minute"
        return f"{amount} {word}{'' if amount == 1 else 's'}"

    def tests(self, r: Reason) -> str:
        """ "two negative tests taken at least 24 hours apart, on or after 8 Feb 10:00"."""
        count = r.tests_required or 0
        after = self.time(r.sampled_after)
        if count == 1:
            return f"one negative test taken on or after {after}"
        number = _EN_NUMBERS.get(count, str(count))
        apart = self.span(r.test_spacing)
        return f"{number} negative tests taken at least {apart} apart, on or after {after}"

    def needed(self, r: Reason) -> str:
        if not r.tests_needed:
            return "the tests are done."
        if r.tests_needed == r.tests_required:
            return f"{r.tests_needed} still needed."
        return f"{r.tests_needed} still needed, taken on or after {self.time(r.next_test_from)}."

    def clear(self, r: Reason) -> str:
        tests = self.tests(r)
        verb = " turns" if r.tests_required == 1 else ", turn"
        return f"{tests[0].upper()}{tests[1:]}{verb} this green; {self.needed(r)}"

    def red_until(self, r: Reason) -> str:
        return (
            f"Your code stays red until {self.time(r.ends_at)} at the earliest, and until you "
            f"have {self.tests(r)}; {self.needed(r)} Then it turns yellow for health monitoring."
        )

    def arrival(self, r: Reason) -> str:
        return f"You arrived on {self.date(r.since)} from {area_name(r.area_code, 'en')}"

    def until(self, r: Reason) -> str:
        return f"until {self.time(r.ends_at)}" if r.ends_at else "until it is lifted"


class _Chinese:
    @staticmethod
    def date(t: datetime | None) -> str:
        local = _local(t)
        return f"{local.month}月{local.day}日"

    def time(self, t: datetime | None) -> str:
        return f"{self.date(t)} {_local(t):%H:%M}"

    @staticmethod
    def span(span: timedelta | None) -> str:
        amount, unit = _hours(span or timedelta())
        return f"{amount}{'小时' if unit == 'h' else '分钟'}"

    def tests(self, r: Reason) -> str:
        """ "2月8日 10:00起采样、间隔至少24小时的两次阴性检测"."""
        count = r.tests_required or 0
        after = self.time(r.sampled_after)
        if count == 1:
            return f"{after}起采样的一次阴性检测"
        number = _ZH_NUMBERS.get(count, str(count))
        return f"{after}起采样、间隔至少{self.span(r.test_spacing)}的{number}次阴性检测"

    def needed(self, r: Reason) -> str:
        if not r.tests_needed:
            return "检测已完成。"
        if r.tests_needed == r.tests_required:
            return f"还需{r.tests_needed}次。"
        return f"还需{r.tests_needed}次，须于{self.time(r.next_test_from)}起采样。"

    def clear(self, r: Reason) -> str:
        return f"完成{self.tests(r)}后即转为绿码；{self.needed(r)}"

    def red_until(self, r: Reason) -> str:
        return (
            f"红码至少持续至{self.time(r.ends_at)}，且需完成{self.tests(r)}；{self.needed(r)}"
            "之后转为黄码进行健康监测。"
        )

    def arrival(self, r: Reason) -> str:
        return f"您于{self.date(r.since)}从{area_name(r.area_code, 'zh')}"

    def until(self, r: Reason) -> str:
        return f"持续至{self.time(r.ends_at)}" if r.ends_at else "持续至解除为止"


_EN = _English()
_ZH = _Chinese()

_Text = Callable[[Reason], str]

_ENGLISH: Mapping[tuple[str, str], _Text] = {
    ("R1", "hold"): lambda r: f"{_EN.arrival(r)}, listed as a medium-risk area. {_EN.clear(r)}",
    ("R2", "hold"): lambda r: f"{_EN.arrival(r)}, listed as a high-risk area. {_EN.red_until(r)}",
    ("R2", "monitoring"): lambda r: (
        f"Health monitoring after you arrived on {_EN.date(r.since)} from "
        f"{area_name(r.area_code, 'en')}, "
        f"a high-risk area: your code is yellow until {_EN.time(r.ends_at)}."
    ),
    ("R3", "hold"): lambda r: (
        f"You were designated a close contact of a case (last exposure on {_EN.date(r.since)}). "
        f"{_EN.red_until(r)}"
    ),
    ("R3", "monitoring"): lambda r: (
        f"Health monitoring after close contact with a case on {_EN.date(r.since)}: "
        f"your code is yellow until {_EN.time(r.ends_at)}."
    ),
    ("R4", "hold"): lambda r: (
        "You were designated a secondary contact of a case (last exposure on "
        f"{_EN.date(r.since)}). {_EN.clear(r)}"
    ),
    ("R5", "hold"): lambda r: (
        f"A sample you gave on {_EN.time(r.since)} tested positive. Your code stays red until "
        "you are discharged from treatment; a negative test does not change this."
    ),
    ("R5", "monitoring"): lambda r: (
        f"You were discharged after testing positive on {_EN.date(r.since)}. Health "
        f"monitoring: your code is yellow until {_EN.time(r.ends_at)}."
    ),
    ("R6", "pending"): lambda r: (
        f"{_EN.arrival(r)}. Landing tests: {_EN.tests(r)}, are due by "
        f"{_EN.time(r.window_end)}, or your code turns yellow then; {_EN.needed(r)}"
    ),
    ("R6", "hold"): lambda r: (
        f"{_EN.arrival(r)} and the landing tests were not done by {_EN.time(r.window_end)}. "
        f"{_EN.clear(r)}"
    ),
    ("R7", "hold"): lambda r: (
        f"Your code was set to {_EN_COLORS[r.color]} by hand by {r.office}, approved by two "
        f"members of the health commission. Reason: {r.override_reason}. This lasts "
        f"{_EN.until(r)}."
    ),
    ("R8", "pending"): lambda r: (
        f"A test campaign in your district runs from {_EN.time(r.window_start)} to "
        f"{_EN.time(r.window_end)}. Take a test by then, or your code turns yellow."
    ),
    ("R8", "hold"): lambda r: (
        f"A test campaign in your district ran from {_EN.time(r.window_start)} to "
        f"{_EN.time(r.window_end)} and no test of yours was recorded in it. {_EN.clear(r)}"
    ),
}

_CHINESE: Mapping[tuple[str, str], _Text] = {
    ("R1", "hold"): lambda r: f"{_ZH.arrival(r)}抵达，该地为中风险地区。{_ZH.clear(r)}",
    ("R2", "hold"): lambda r: f"{_ZH.arrival(r)}抵达，该地为高风险地区。{_ZH.red_until(r)}",
    ("R2", "monitoring"): lambda r: (
        f"{_ZH.arrival(r)}抵达（高风险地区）后的健康监测期：黄码持续至{_ZH.time(r.ends_at)}。"
    ),
    ("R3", "hold"): lambda r: (
        f"您被判定为密切接触者（最后接触时间{_ZH.date(r.since)}）。{_ZH.red_until(r)}"
    ),
    ("R3", "monitoring"): lambda r: (
        f"您作为密切接触者（最后接触时间{_ZH.date(r.since)}）的健康监测期："
        f"黄码持续至{_ZH.time(r.ends_at)}。"
    ),
    ("R4", "hold"): lambda r: (
        f"您被判定为次密切接触者（最后接触时间{_ZH.date(r.since)}）。{_ZH.clear(r)}"
    ),
    ("R5", "hold"): lambda r: (
        f"您于{_ZH.time(r.since)}采样的检测结果为阳性。出院前保持红码；阴性检测结果不会改变这一状态。"
    ),
    ("R5", "monitoring"): lambda r: (
        f"您在{_ZH.date(r.since)}检测阳性后已出院。健康监测期：黄码持续至{_ZH.time(r.ends_at)}。"
    ),
    ("R6", "pending"): lambda r: (
        f"{_ZH.arrival(r)}抵达。请在{_ZH.time(r.window_end)}前完成落地检：{_ZH.tests(r)}，"
        f"否则届时将转为黄码；{_ZH.needed(r)}"
    ),
    ("R6", "hold"): lambda r: (
        f"{_ZH.arrival(r)}抵达，未在{_ZH.time(r.window_end)}前完成落地检。{_ZH.clear(r)}"
    ),
    ("R7", "hold"): lambda r: (
        f"您的健康码由{r.office}人工设为{_ZH_COLORS[r.color]}，经卫健委两名成员批准。"
        f"原因：{r.override_reason}。{_ZH.until(r)}。"
    ),
    ("R8", "pending"): lambda r: (
        f"您所在辖区于{_ZH.time(r.window_start)}至{_ZH.time(r.window_end)}开展核酸筛查。"
        "请在截止前完成一次检测，否则届时将转为黄码。"
    ),
    ("R8", "hold"): lambda r: (
        f"您所在辖区{_ZH.time(r.window_start)}至{_ZH.time(r.window_end)}的核酸筛查期间"
        f"未查到您的检测记录。{_ZH.clear(r)}"
    ),
}

_TEXTS: Mapping[str, Mapping[tuple[str, str], _Text]] = {"zh": _CHINESE, "en": _ENGLISH}


def explain(reason: Reason, lang: str = "zh") -> str:
    """The reason as one or two sentences in `lang` ("zh" or "en")."""
    texts = _TEXTS.get(lang)
    if texts is None:
        raise ValueError(f"unsupported language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    text = texts.get((reason.rule, reason.phase))
    if text is None:
        raise ValueError(f"no explanation for {reason.rule} in phase {reason.phase}")
    return text(reason)
