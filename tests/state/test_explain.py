"""Every rule and phase explains itself, in Chinese and in English, in Shanghai time."""

from datetime import timedelta

import pytest

from codesvc.state import LANGUAGES, Color, Reason, Status, World, evaluate, explain

from .facts import (
    HIGH_AREA,
    MEDIUM_AREA,
    UNLISTED_AREA,
    WORLD,
    arrival,
    at,
    campaign,
    contact,
    discharge,
    negative,
    override,
    person,
    positive,
    status,
)


def reason(s: Status, rule: str) -> Reason:
    return next(r for r in s.reasons if r.rule == rule)


def test_the_example_sentence() -> None:
    r1 = reason(status(at(hours=1), arrival(at(), MEDIUM_AREA)), "R1")
    assert explain(r1, "en") == (
        "You arrived on 8 Feb from Bao'an, Shenzhen (440306), listed as a medium-risk area. "
        "Two negative tests taken at least 24 hours apart, on or after 8 Feb 10:00, turn this "
        "green; 2 still needed."
    )
    assert explain(r1) == (
        "您于2月8日从深圳市宝安区（440306）抵达，该地为中风险地区。完成2月8日 10:00起采样、"
        "间隔至少24小时的两次阴性检测后即转为绿码；还需2次。"
    )


def test_one_test_done_says_when_the_next_may_be_taken() -> None:
    r1 = reason(status(at(hours=5), arrival(at()), negative(at(hours=1))), "R1")
    assert explain(r1, "en").endswith("1 still needed, taken on or after 9 Feb 11:00.")
    assert explain(r1, "zh").endswith("还需1次，须于2月9日 11:00起采样。")


def campaign_world() -> World:
    return World(listings=WORLD.listings, campaigns=(campaign(at(), at(days=2)),))


#: (rule, phase, reason at a moment, words in English, words in Chinese)
CASES = [
    (
        "R1",
        "hold",
        lambda: status(at(hours=1), arrival(at(), MEDIUM_AREA)),
        "medium-risk",
        "中风险",
    ),
    (
        "R2",
        "hold",
        lambda: status(at(days=1), arrival(at(), HIGH_AREA)),
        "22 Feb 10:00 at the earliest",
        "红码至少持续至2月22日 10:00",
    ),
    (
        "R2",
        "monitoring",
        lambda: status(
            at(days=15), arrival(at(), HIGH_AREA), negative(at(days=10)), negative(at(days=11))
        ),
        "yellow until 1 Mar 10:00",
        "黄码持续至3月1日 10:00",
    ),
    ("R3", "hold", lambda: status(at(days=1), contact(at())), "close contact", "密切接触者"),
    (
        "R3",
        "monitoring",
        lambda: status(at(days=15), contact(at()), negative(at(days=10)), negative(at(days=11))),
        "close contact",
        "健康监测期",
    ),
    (
        "R4",
        "hold",
        lambda: status(at(days=1), contact(at(), "secondary")),
        "secondary contact",
        "次密切接触者",
    ),
    (
        "R5",
        "hold",
        lambda: status(at(days=1), positive(at())),
        "until you are discharged",
        "出院前保持红码",
    ),
    (
        "R5",
        "monitoring",
        lambda: status(at(days=11), positive(at()), discharge(at(days=10))),
        "yellow until 25 Feb 10:00",
        "黄码持续至2月25日 10:00",
    ),
    (
        "R6",
        "pending",
        lambda: status(at(hours=1), arrival(at(), UNLISTED_AREA)),
        "due by 11 Feb 10:00",
        "请在2月11日 10:00前完成落地检",
    ),
    (
        "R6",
        "hold",
        lambda: status(at(days=4), arrival(at(), UNLISTED_AREA)),
        "not done by 11 Feb 10:00",
        "未在2月11日 10:00前完成落地检",
    ),
    (
        "R7",
        "hold",
        lambda: status(at(hours=1), override(at(), Color.RED, at(days=2))),
        "set to red by hand by Huangpu health office",
        "由Huangpu health office人工设为红码",
    ),
    (
        "R8",
        "pending",
        lambda: evaluate(person(), campaign_world(), at(days=1)),
        "Take a test by then",
        "请在截止前完成一次检测",
    ),
    (
        "R8",
        "hold",
        lambda: evaluate(person(), campaign_world(), at(days=3)),
        "no test of yours was recorded",
        "未查到您的检测记录",
    ),
]


@pytest.mark.parametrize(("rule", "phase", "make", "english", "chinese"), CASES)
def test_every_rule_and_phase_in_both_languages(
    rule: str, phase: str, make: object, english: str, chinese: str
) -> None:
    r = reason(make(), rule)  # type: ignore[operator]
    assert r.phase == phase
    assert english in explain(r, "en")
    assert chinese in explain(r, "zh")
    assert explain(r) == explain(r, "zh")


def test_an_override_without_end_and_its_reason() -> None:
    r7 = reason(status(at(hours=1), override(at(), Color.YELLOW)), "R7")
    assert "Reason: protest at the bank. This lasts until it is lifted." in explain(r7, "en")
    assert "原因：protest at the bank。持续至解除为止。" in explain(r7, "zh")


def test_red_with_tests_done_waits_for_day_14() -> None:
    s = status(at(days=12), arrival(at(), HIGH_AREA), negative(at(days=10)), negative(at(days=11)))
    assert "the tests are done." in explain(reason(s, "R2"), "en")
    assert "检测已完成。" in explain(reason(s, "R2"), "zh")


def test_spacing_in_minutes_and_a_single_test_read_naturally() -> None:
    from codesvc.state import Rules

    rules = Rules(test_spacing=timedelta(minutes=90), negatives_to_clear=1)
    world = World(listings=WORLD.listings, rules=rules)
    r1 = reason(evaluate(person(arrival(at())), world, at(hours=1)), "R1")
    assert (
        "One negative test taken on or after 8 Feb 10:00 turns this green; 1 still needed."
        in explain(r1, "en")
    )
    r6 = reason(evaluate(person(arrival(at())), world, at(hours=1)), "R6")
    assert "90 minutes apart" in explain(r6, "en")
    assert "90分钟" in explain(r6, "zh")


def test_times_are_shown_in_shanghai_even_across_midnight() -> None:
    late = at(hours=15)  # 01:00 on 9 Feb in Shanghai, still 8 Feb in UTC
    r5 = reason(status(late + timedelta(hours=1), positive(late)), "R5")
    assert "9 Feb 01:00" in explain(r5, "en")
    assert "2月9日 01:00" in explain(r5, "zh")


def test_an_unknown_language_is_refused() -> None:
    r5 = reason(status(at(hours=1), positive(at())), "R5")
    assert LANGUAGES == ("zh", "en")
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        explain(r5, "fr")
