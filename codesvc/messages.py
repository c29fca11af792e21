"""What the service tells a caller, in the reader's language: one catalogue for every message.

A message is written once, in English, where it is raised: ``t("... {area} ...", area=a)``.
It stays a `Text` until the answer is written, when the reader's language is known
(``Accept-Language``: Simplified Chinese by default, English for ``en``); the Chinese is
looked up here by the English text, gettext's way, so a new route's messages are
localized by adding their lines to `ZH`, and a test finds any message without one.
Pure: no I/O.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Final, Literal

Lang = Literal["zh", "en"]
DEFAULT: Final[Lang] = "zh"


class Text(str):
    """A message waiting for its reader: as a string it is the English, so it goes
    wherever text goes (a log line, a per-event error); a problem renders it in the
    reader's language from its template and values."""

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, params: Mapping[str, object] | None = None) -> Text:
        values = dict(params or {})
        text = super().__new__(cls, template.format_map(values) if values else template)
        text.template, text.params = template, values
        return text

    def render(self, lang: Lang) -> str:
        template = self.template if lang == "en" else ZH.get(self.template, self.template)
        values = {k: render(v, lang) if isinstance(v, str) else v for k, v in self.params.items()}
        return template.format_map(values) if values else template


def t(en: str, **params: object) -> Text:
    """A message in English with ``{name}`` placeholders, localized when it is answered."""
    return Text(en, params)


def joined(separator: str, parts: Sequence[str]) -> Text:
    """Messages run together (a summary of field errors), each localized on its own."""
    template = separator.join(f"{{p{i}}}" for i in range(len(parts)))
    return Text(template, {f"p{i}": part for i, part in enumerate(parts)})


def render(message: str, lang: Lang) -> str:
    """``message`` for a reader of ``lang``; plain text (a caller's own words) as it is."""
    return message.render(lang) if isinstance(message, Text) else message


def language(accept_language: str | None) -> Lang:
    """The reader's language from an ``Accept-Language`` header: the most preferred of
    Chinese and English, Chinese when neither is named (RFC 9110 §12.5.4)."""
    if not accept_language:
        return DEFAULT
    best: tuple[float, int, Lang] | None = None
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        weight = _quality(params)
        if weight <= 0:
            continue
        candidate = (-weight, position, "zh" if primary == "zh" else "en")
        if best is None or candidate < best:
            best = candidate  # type: ignore[assignment]
    return best[2] if best else DEFAULT


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields of a template: the same in both languages, or it cannot render."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


#: The Chinese of every message, by its English text (the one table; a test finds gaps).
ZH: dict[str, str] = {
    "A request line or header is too long; a bearer token is a few hundred characters.": "请求行或请求头过长；一个访问令牌只有几百个字符。",
    "A {role} may not call {method} {path}; it is for: {roles}.": "{role} 无权调用 {method} {path}；可调用者：{roles}。",
    "Give each query parameter once: {names}.": "每个查询参数只能给一次：{names}。",
    "No such appeal, or not one you may see; check the appeal's number against your appeals, or your district's queue.": "没有这项申诉，或您无权查看；请对照“我的申诉”或本区的待办队列核对申诉编号。",
    "No such person, or not one you may see.": "没有此人，或您无权查看。",
    "Not authenticated: the bearer token is not a well-formed JWT.": "未通过身份验证：访问令牌不是格式正确的 JWT。",
    "Not authenticated: the token has expired; get a new one.": "未通过身份验证：令牌已过期，请重新获取。",
    "Not authenticated: tokens of {role} {sub} are revoked.": "未通过身份验证：{role} {sub} 的令牌已被吊销。",
    "Not authenticated: {why}.": "未通过身份验证：{why}。",
    "Some fields are invalid — {fields}.": "部分字段无效——{fields}。",
    "Some {where} parameters are invalid — {fields}.": "部分{where}参数无效——{fields}。",
    "Something went wrong on our side; quote request id {rid} when reporting it.": "服务端出现问题；报告时请提供请求编号 {rid}。",
    "Text may not hold the NUL character: {fields}.": "文本中不能含有 NUL 字符：{fields}。",
    "The Authorization header must be 'Bearer <token>'.": "Authorization 请求头必须是 “Bearer <令牌>”。",
    "The body is not valid JSON: {error}.": "请求体不是有效的 JSON：{error}。",
    "The body must be a JSON object.": "请求体必须是 JSON 对象。",
    "The database is unavailable right now; nothing was changed. Try again shortly.": "数据库暂时不可用，未做任何更改，请稍后再试。",
    "The request body is too large; send smaller batches (at most 1000 events).": "请求体过大；请分批发送（每批最多 1000 条事件）。",
    "The request is not well-formed HTTP and was not read.": "请求不是格式正确的 HTTP，未被读取。",
    "The request needs a JSON body.": "此请求需要 JSON 请求体。",
    "There is no such resource; see /openapi.json for the routes this service has.": "没有这个资源；本服务的接口见 /openapi.json。",
    "These parameters hold a control character or bytes that are not UTF-8: {names}.": "这些参数含有控制字符或非 UTF-8 字节：{names}。",
    "This person has no status yet.": "此人还没有健康码状态。",
    "This route does not take that method; it allows {allowed}.": "此接口不接受该方法；允许的方法：{allowed}。",
    "This route needs an Authorization: Bearer <token> header.": "此接口需要 “Authorization: Bearer <令牌>” 请求头。",
    "You already have an open appeal ({appeal}) about this record; follow it under your appeals, or withdraw it before filing again.": "您已就这条记录提出了一项尚未办结的申诉（{appeal}）；请在“我的申诉”中查看进度，或先撤回再重新提出。",
    "You are not registered yet; ask the registry to register you.": "您尚未登记；请联系登记部门为您登记。",
    "You cannot {verb} this appeal now: {why}. Reload it to see where it stands.": "现在无法{verb}这项申诉：{why}。请刷新查看其当前状态。",
    "You have no status yet; ask the registry to register you.": "您还没有健康码状态；请联系登记部门为您登记。",
    "You may not {verb} this appeal: {why}.": "您无权{verb}这项申诉：{why}。",
    "a phone number must be a mainland mobile: 11 digits starting with 1, optionally after +86": "手机号须为中国大陆手机号：以 1 开头的 11 位数字，可带 +86 前缀",
    "a {role} token must carry a district claim": "{role} 令牌必须带有 district（所属区）声明",
    "add a note to": "添加备注到",
    "an id number is 17 digits followed by a digit or X": "身份证号为 17 位数字加 1 位数字或 X",
    "claim": "认领",
    "correct": "更正",
    "escalate": "上报",
    "file": "提出",
    "given more than once": "重复给出",
    "holds a control character or bytes that are not UTF-8": "含有控制字符或非 UTF-8 字节",
    "holds the NUL character": "含有 NUL 字符",
    "is required": "必填",
    "must be a 6-digit administrative division code, e.g. 310101": "须为 6 位行政区划代码，例如 310101",
    "must be a JSON object": "须为 JSON 对象",
    "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80": "须为 UUID，例如 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80",
    "must be a person_ref, e.g. p_HNR2ZRX5PEQD": "须为人员编号（person_ref），例如 p_HNR2ZRX5PEQD",
    "must be a whole number from {low} to {high}": "须为 {low} 到 {high} 之间的整数",
    "must be after starts_at": "须晚于 starts_at",
    "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00": "须为带时区偏移的 RFC 3339 时间，例如 2022-02-08T10:00:00+08:00",
    "must be an id as the service gave it, e.g. a_3f9c0e1d2b4a": "须为本服务给出的编号，例如 a_3f9c0e1d2b4a",
    "must be one of {options}": "须为以下之一：{options}",
    "must be text on one line, not blank, without control characters": "须为单行文本，不能为空，不含控制字符",
    "must be text, not blank, without control characters": "须为文本，不能为空，不含控制字符",
    "must be true or false": "须为 true 或 false",
    "must have at least {least} item(s)": "至少须有 {least} 项",
    "must have at most {most} characters": "最多 {most} 个字符",
    "must have at most {most} items": "最多 {most} 项",
    "must not be before valid_from": "不能早于 valid_from",
    "must not be empty": "不能为空",
    "not an object": "不是对象",
    "path": "路径",
    "query": "查询",
    "see": "查看",
    "the bearer token is not a well-formed JWT": "访问令牌不是格式正确的 JWT",
    "the token has expired; get a new one": "令牌已过期，请重新获取",
    "the token is not valid: {why}": "令牌无效：{why}",
    "the token is signed with {alg}; this service accepts only {accepted}": "令牌的签名算法是 {alg}；本服务只接受 {accepted}",
    "the token lacks the {claim} claim": "令牌缺少 {claim} 声明",
    "the token's district claim must be a string": "令牌的 district 声明必须是字符串",
    "the token's exp claim must be a number of seconds (NumericDate)": "令牌的 exp 声明必须是秒数（NumericDate）",
    "the token's role {role} is not one of {roles}": "令牌的角色 {role} 不在 {roles} 之中",
    "the token's signature does not verify": "令牌签名验证失败",
    "the token's sub claim must be a non-empty string": "令牌的 sub 声明必须是非空字符串",
    "unknown field": "未知字段",
    "uphold": "维持原结论",
    "withdraw": "撤回",
    "{path}: {problem}": "{path}：{problem}",
}
