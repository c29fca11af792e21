"""Problems speak the reader's language (SPEC §9): one catalogue, every message in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codesvc.messages import ZH, language, placeholders, t

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


#: Modules whose problems are all in the catalogue: what every request, and every citizen,
#: can meet. A module joins the list when its messages are.
CATALOGUED = (
    "api/auth.py", "api/access.py", "api/colours.py", "api/inputs.py", "api/malformed.py",
    "api/middleware.py", "api/problems.py", "api/routing.py", "schemas/errors.py",
)  # fmt: skip


def test_no_problem_in_a_catalogued_module_is_raised_with_bare_words():
    offenders = []
    for name in CATALOGUED:
        path = ROOT / "codesvc" / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                detail = node.args[1] if len(node.args) > 1 else None
                if isinstance(detail, ast.Constant | ast.JoinedStr):
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_messages_for_citizens_name_no_api_paths():
    for text, where in _messages_in_code().items():
        if "/v1/" in text:
            pytest.fail(f"{where}: {text!r} names an API path")
