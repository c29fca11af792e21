"""Problems speak the reader's language (SPEC §9): one catalogue, every message in it."""

from __future__ import annotations

import ast
from pathlib import Path

import aiohttp
import pytest

from codesvc.messages import ZH, language, placeholders, t
from tests.builders import id_number

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr", "zh"),
        ("en;q=0.2,zh;q=0.8", "zh"),
        ("en;q=0,zh-TW", "zh"),
        ("en;q=nonsense", "zh"),
        ("*", "zh"),
    ],
)
def test_the_reader_is_answered_in_chinese_unless_they_ask_for_english(header, expected):
    assert language(header) == expected


def test_a_message_renders_in_each_language_with_its_values():
    message = t("Not authenticated: {why}.", why=t("the token has expired; get a new one"))
    assert message == "Not authenticated: the token has expired; get a new one."
    assert message.render("en") == message
    assert message.render("zh") == "未通过身份验证：令牌已过期，请重新获取。"


async def test_problems_follow_accept_language(api):
    for header, expected in ((None, "此接口需要"), ("en", "This route needs"),
                             ("zh-CN,zh;q=0.9", "此接口需要")):  # fmt: skip
        headers = {"Accept-Language": header} if header else {"Accept-Language": ""}
        resp = await api.client.get("/v1/whoami", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["detail"].startswith(expected)


async def test_field_errors_follow_accept_language(city):
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": "x", "name": "", "district": "31"},
        headers={**city.feeder, "Accept-Language": "zh-CN"},
    )
    body = await resp.json()
    assert resp.status == 422
    assert body["detail"].startswith("部分字段无效")
    assert body["errors"]["district"] == "须为 6 位行政区划代码，例如 310101"


async def _asked(api, method: str, path: str, headers: dict[str, str], lang: str | None, **kw):  # type: ignore[no-untyped-def]
    """A request as a browser or a door sends it: with ``Accept-Language: lang``, or with
    none at all (the service's default)."""
    headers = {**headers, **({"Accept-Language": lang} if lang else {})}
    url = api.client.make_url(path)
    async with (
        aiohttp.ClientSession() as plain,  # without the test client's default headers
        plain.request(method, url, headers=headers, **kw) as answer,
    ):
        return answer.status, await answer.json()


async def test_a_refusal_from_each_area_comes_in_chinese_unless_english_is_asked(city):
    api, ref = city.api, await city.register()
    citizen = api.auth("citizen", ref)
    evidence = {"lab_id": "LAB-9", "sample_id": "S-404"}
    body = {"category": "missing_test_result", "description": "My test is missing.",
            "evidence": evidence}  # fmt: skip
    filed = await api.client.post("/v1/appeals", json=body, headers=citizen)
    assert filed.status == 201, await filed.text()
    withdraw = f"/v1/appeals/{(await filed.json())['appeal_id']}/withdraw"
    assert (await api.client.post(withdraw, headers=citizen)).status == 200
    alice = api.auth("commission", "member-alice")
    proposed = await api.client.post(
        "/v1/overrides", json={"person_ref": ref, "color": "red", "reason": "A cluster."},
        headers=alice,
    )  # fmt: skip
    approve = f"/v1/overrides/{(await proposed.json())['override_id']}/approve"
    refusals = {
        "appeal": ("POST", withdraw, citizen, 409, {
            "zh": "现在无法撤回这项申诉：申诉已撤回；已撤回的申诉不能再撤回。"
                  "请刷新查看其当前状态。",
            "en": "You cannot withdraw this appeal now: appeal is withdrawn; a withdrawn appeal "
                  "cannot be withdrawn. Reload it to see where it stands.",
        }),
        "override": ("POST", approve, alice, 403, {
            "zh": "这项人工设定是您提出的，须由另一名委员批准。",
            "en": "You proposed this override; a different commission member must approve it.",
        }),
        "venue": ("POST", "/v1/venues/cafe-7/reinstate", api.auth("commission"), 404, {
            "zh": "场所 cafe-7 未被停用，无需恢复。",
            "en": "Venue cafe-7 is not revoked; there is nothing to reinstate.",
        }),
    }  # fmt: skip
    for area, (method, path, headers, status, said) in refusals.items():
        for lang, expected in ((None, said["zh"]), ("en", said["en"]), ("zh-CN", said["zh"])):
            got, problem = await _asked(api, method, path, headers, lang)
            assert (area, got, problem["detail"]) == (area, status, expected)
    # A door that scans id cards faster than its limit is told so in its reader's language.
    for venue, lang, expected in (
        ("gate-3", None, "场所 gate-3 刷身份证次数过多；请改扫本人的健康码，"
                         "或稍候再刷下一张身份证。"),
        ("gate-4", "en", "Venue gate-4 has made too many id-card scans; scan the person's "
                         "code instead, or wait before the next id card."),
    ):  # fmt: skip
        door = api.auth("scanner", venue)
        answers = [await _asked(api, "POST", "/v1/scans", door, lang,
                                json={"id_number": id_number()}) for _ in range(12)]  # fmt: skip
        limited = [problem for status, problem in answers if status == 429]
        assert [status for status, _ in answers][:1] == [404]  # unknown card, then the limit
        assert limited, answers
        assert limited[0]["detail"] == expected


async def test_an_events_refusal_in_a_batch_follows_accept_language(city):
    event = {
        "event_id": "6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80", "kind": "case.discharged",
        "occurred_at": "2022-02-08T10:00:00+08:00", "person": {"person_ref": "p_NOSUCH01"},
        "data": {},
    }  # fmt: skip
    said = {}
    for lang in (None, "en"):
        status, answer = await _asked(
            city.api, "POST", "/v1/events", city.feeder, lang, json={"events": [event]}
        )
        assert status == 200, answer
        said[lang] = answer["results"][0]["error"]
    assert said == {
        None: "事件无效：data.case_ref：必填",
        "en": "invalid event: data.case_ref: is required",
    }


def _messages_in_code() -> dict[str, str]:
    """Every literal message given to ``t(...)`` in the package, with where it is."""
    found: dict[str, str] = {}
    for path in (ROOT / "codesvc").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
            ):
                first = node.args[0]
                where = f"{path}:{node.lineno}: t() takes a literal English message"
                assert isinstance(first, ast.Constant), where
                assert isinstance(first.value, str), where
                found[first.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_message_has_its_chinese_with_the_same_placeholders():
    messages = _messages_in_code()
    assert len(messages) > 20
    missing = {text: where for text, where in messages.items() if text not in ZH}
    assert missing == {}
    for text in messages:
        assert placeholders(ZH[text]) == placeholders(text), text


#: What makes a problem, and which argument is the text its reader gets: a problem, the
#: helpers that build one, and the refusals of the domain and services that become one.
PROBLEM_MAKERS = {
    "Problem": 1, "too_many": 0, "unavailable": 0,
    "AppealError": 0, "AppealConflict": 0, "AppealForbidden": 0, "AppealNotFound": 0,
    "AppealInvalid": 0, "TooManyAppeals": 0,
    "OverrideError": 0, "OverrideNotFound": 0, "OverrideForbidden": 0, "OverrideConflict": 0,
    "Rejected": 0,
}  # fmt: skip


def _bare(node: ast.expr | None) -> bool:
    """Words written straight into the call: a literal, an f-string, or text glued to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _bare(node.left) or _bare(node.right)
    if isinstance(node, ast.IfExp):
        return _bare(node.body) or _bare(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _bare(node.func.value)
    return False


def _bare_words(call: ast.Call, name: str) -> list[ast.expr | None]:
    """The parts of a problem-making call that hold words: its text and its field errors."""
    position = PROBLEM_MAKERS[name]
    texts: list[ast.expr | None] = [call.args[position] if len(call.args) > position else None]
    texts += [k.value for k in call.keywords if k.arg == "detail"]
    for given in [*call.args[position + 1 :], *(k.value for k in call.keywords)]:
        if isinstance(given, ast.Dict):
            texts += given.values
    return [text for text in texts if _bare(text)]


def test_every_problem_in_the_service_speaks_from_the_catalogue():
    """No problem anywhere in the package is made of bare words, which would reach a
    Chinese reader in English: each is a ``t(...)`` (and mypy holds every detail a `Text`)."""
    offenders, seen = [], 0
    for path in sorted((ROOT / "codesvc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in PROBLEM_MAKERS:
                continue
            seen += 1
            offenders += [
                f"{path.relative_to(ROOT)}:{text.lineno if text else node.lineno}"
                for text in _bare_words(node, name)
            ]
    assert seen > 80  # the walk found the problems it is meant to look at
    assert offenders == []


def test_a_problem_made_of_bare_words_is_found():
    """The walk above recognises each way bare words are written."""
    for source in (
        'Problem(404, "No such thing.")',
        'Problem(404, f"No {thing}.")',
        'too_many("Slow down, " + venue, 3)',
        'AppealInvalid(t("Fix it."), {"field": "is wrong"})',
        'Problem(422, t("Fix it."), errors={"field": f"{x} is wrong"})',
        'OverrideConflict("It was {x}.".format(x=x))',
    ):
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        assert _bare_words(call, call.func.id), source
    assert not _bare_words(ast.parse('Problem(404, t("No {x}.", x=x))').body[0].value, "Problem")  # type: ignore[attr-defined]


def test_messages_for_citizens_name_no_api_paths():
    for text, where in _messages_in_code().items():
        if "/v1/" in text:
            pytest.fail(f"{where}: {text!r} names an API path")
