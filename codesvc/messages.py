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
    wherever text goes (a log line); a problem or an answer renders it in the
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
    "A change made with a session needs the X-CSRF-Token header that sign-in returned; reload the page and try again.": "用会话进行更改时须附带登录时给出的 X-CSRF-Token；请重新加载页面后再试。",
    "A corrected appeal needs corrections: event ids to void, events to add, or both.": "以“更正”办结的申诉须附更正内容：要作废的事件编号、要补录的事件，或两者都有。",
    "A request line or header is too long; a bearer token is a few hundred characters.": "请求行或请求头过长；一个访问令牌只有几百个字符。",
    "A {role} may not call {method} {path}; it is for: {roles}.": "{role} 无权调用 {method} {path}；可调用者：{roles}。",
    "An upheld appeal changes no record; leave out corrections, or resolve it as corrected.": "维持原结论的申诉不改动任何记录；请去掉更正内容，或改为以“更正”办结。",
    "Changes are accepted only from this service's own pages.": "只接受本服务自己页面发出的更改。",
    "Give each query parameter once: {names}.": "每个查询参数只能给一次：{names}。",
    "No one is registered with this id number; check the card and scan again, or send the person to register.": "没有以此身份证号登记的人员；请核对证件后重扫，或请其先去登记。",
    "No such appeal, or not one you may see; check the appeal's number against your appeals, or your district's queue.": "没有这项申诉，或您无权查看；请对照“我的申诉”或本区的待办队列核对申诉编号。",
    "No such override proposal; the open ones are in the list of overrides.": "没有这项人工设定提议；待决的提议见人工设定列表。",
    "No such person, or not one you may see.": "没有此人，或您无权查看。",
    "Not authenticated: the bearer token is not a well-formed JWT.": "未通过身份验证：访问令牌不是格式正确的 JWT。",
    "Not authenticated: the token has expired; get a new one.": "未通过身份验证：令牌已过期，请重新获取。",
    "Not authenticated: tokens of {role} {sub} are revoked.": "未通过身份验证：{role} {sub} 的令牌已被吊销。",
    "Not authenticated: {why}.": "未通过身份验证：{why}。",
    "Send one Idempotency-Key of 1 to 255 printable ASCII characters: a fresh random value (a UUID) for each new request, the same one on its retries.": "请只发送一个 Idempotency-Key，由 1 至 255 个可打印 ASCII 字符组成：每个新请求用一个新的随机值（如 UUID），重试时沿用同一个。",
    "Some fields are invalid — {fields}.": "部分字段无效——{fields}。",
    "Some {where} parameters are invalid — {fields}.": "部分{where}参数无效——{fields}。",
    "Something went wrong on our side; quote request id {rid} when reporting it.": "服务端出现问题；报告时请提供请求编号 {rid}。",
    "Staff see only their own district's queue ({district}); leave out district or give yours.": "工作人员只能查看本区（{district}）的待办队列；请不填 district，或填写本区代码。",
    "Staff see the figures of their own district ({district}) only.": "工作人员只能查看本区（{district}）的数据。",
    "Text may not hold the NUL character: {fields}.": "文本中不能含有 NUL 字符：{fields}。",
    "That is more than {most} steps; shorten the window or use a longer step.": "时间点超过 {most} 个；请缩短时间范围或加大步长。",
    "The Authorization header must be 'Bearer <token>'.": "Authorization 请求头必须是 “Bearer <令牌>”。",
    "The account name or the password is wrong; check both and try again.": "账号或密码不正确，请检查后重试。",
    "The appeal cannot be filed as it is; fix the fields named.": "申诉暂时无法提交，请修改所列各项。",
    "The body is not valid JSON: {error}.": "请求体不是有效的 JSON：{error}。",
    "The body must be a JSON object.": "请求体必须是 JSON 对象。",
    "The corrections cannot be written — {fields}.": "更正内容无法写入——{fields}。",
    "The database is unavailable right now; nothing was changed. Try again shortly.": "数据库暂时不可用，未做任何更改，请稍后再试。",
    "The disputed event is not on your record; give the event_id shown with the reason for your colour.": "您有异议的记录不在您的名下；请填写健康码颜色原因旁显示的 event_id。",
    "The request body is too large; send smaller batches (at most 1000 events).": "请求体过大；请分批发送（每批最多 1000 条事件）。",
    "The request is not well-formed HTTP and was not read.": "请求不是格式正确的 HTTP，未被读取。",
    "The request needs a JSON body.": "此请求需要 JSON 请求体。",
    "There is no console page at {path}; the console starts at {root}.": "工作台没有 {path} 这个页面；工作台从 {root} 开始。",
    "There is no job {job}; use the job_id a change returned.": "没有任务 {job}；请使用更改时返回的 job_id。",
    "There is no page file {name}; start from / for the list of pages.": "没有页面文件 {name}；请从首页 / 查看页面列表。",
    "There is no such resource; see /openapi.json for the routes this service has.": "没有这个资源；本服务的接口见 /openapi.json。",
    "These parameters hold a control character or bytes that are not UTF-8: {names}.": "这些参数含有控制字符或非 UTF-8 字节：{names}。",
    "This Idempotency-Key was sent with a different request in the last {hours} hours; nothing was done. Use a fresh key for a new request.": "此 Idempotency-Key 在过去 {hours} 小时内已用于另一个请求；本次未做任何处理。新的请求请使用新的键。",
    "This account also needs the current 6-digit code from its authenticator app (each code works once); enter it and try again.": "此账号还需要身份验证器应用中当前的 6 位验证码（每个验证码只能用一次），请输入后重试。",
    "This code has been altered or forged; do not admit on it.": "此健康码已被篡改或伪造，不能凭此放行。",
    "This code has expired; ask the person to refresh it and scan again.": "此健康码已过期，请本人刷新后重扫。",
    "This code names no one registered here; ask the person to refresh it.": "此健康码对应的人员未在本市登记；请本人刷新健康码。",
    "This code was not issued by this city's health-code service; ask the person to open the code in this city's app.": "此健康码不是本市健康码服务签发的，请本人在本市的应用中打开健康码。",
    "This enrolment code is not valid: it was mistyped, used already or has expired. Ask the health commission for a new one.": "此登记码无效：可能输错、已被使用或已过期。请向市卫健委索取新的登记码。",
    "This is not a health code; scan the person's code.": "这不是健康码，请扫本人的健康码。",
    "This override was already approved by another member at {at} and is in force; to change the colour, propose a new override.": "此人工设定已于 {at} 由另一名委员批准并已生效；如需改变颜色，请提出新的人工设定。",
    "This proposal was already {status}; nothing was changed.": "此提议已被{status}，未做任何更改。",
    "This proposal was rejected by {member}: {reason} To set the colour, propose it again.": "此提议已被 {member} 驳回：{reason} 如需设定颜色，请重新提出。",
    "This proposal would have ended at {until}, which has passed; propose it again with a later until.": "此提议的截止时间 {until} 已过；请以更晚的截止时间重新提出。",
    "This request cannot be answered (HTTP {status}).": "无法处理此请求（HTTP {status}）。",
    "This request is authenticated by a bearer token, not by a session cookie.": "此请求使用的是令牌而不是会话。",
    "This route does not take that method; it allows {allowed}.": "此接口不接受该方法；允许的方法：{allowed}。",
    "This route needs an Authorization: Bearer <token> header.": "此接口需要 “Authorization: Bearer <令牌>” 请求头。",
    "This service cannot issue scanner tokens now; tell its operators.": "本服务暂时无法发放扫码令牌，请告知运维人员。",
    "This session is not known (it may have ended); sign in again.": "无法识别此会话（可能已结束），请重新登录。",
    "Too many enrolment attempts from this device; wait and try again.": "这台设备登记尝试次数过多，请稍后再试。",
    "Too many failed sign-ins for this account in 15 minutes; try again in about {minutes} minute(s).": "15 分钟内此账号登录失败次数过多，请约 {minutes} 分钟后再试。",
    "Venue {venue} has made too many id-card scans; scan the person's code instead, or wait before the next id card.": "场所 {venue} 刷身份证次数过多；请改扫本人的健康码，或稍候再刷下一张身份证。",
    "Venue {venue} is not revoked; there is nothing to reinstate.": "场所 {venue} 未被停用，无需恢复。",
    "Venue {venue} is revoked; its devices cannot be enrolled.": "场所 {venue} 已被停用，其设备不能登记。",
    "Venue {venue} is revoked; reinstate it before enrolling a device.": "场所 {venue} 已被停用；请先恢复该场所，再登记设备。",
    "Venue {venue} is scanning faster than its limit; wait a moment and scan again.": "场所 {venue} 扫码过于频繁，请稍候再扫。",
    "Venue {venue} is sending faster than its limit; send again shortly.": "场所 {venue} 上传过于频繁，请稍后再传。",
    "You already have an open appeal ({appeal}) about this record; follow it under your appeals, or withdraw it before filing again.": "您已就这条记录提出了一项尚未办结的申诉（{appeal}）；请在“我的申诉”中查看进度，或先撤回再重新提出。",
    "You are not registered yet; ask the registry to register you.": "您尚未登记；请联系登记部门为您登记。",
    "You cannot {verb} this appeal now: {why}. Reload it to see where it stands.": "现在无法{verb}这项申诉：{why}。请刷新查看其当前状态。",
    "You have filed {count} appeals in the last {hours} hours, the most allowed; you can file another after {after}. Your open appeals are still being worked.": "您在过去 {hours} 小时内已提出 {count} 项申诉，已达上限；{after} 之后可再提出。您尚未办结的申诉仍在处理中。",
    "You may not {verb} this appeal: {why}.": "您无权{verb}这项申诉：{why}。",
    "You proposed this override; a different commission member decides on it.": "这项人工设定是您提出的，须由另一名委员决定。",
    "You proposed this override; a different commission member must approve it.": "这项人工设定是您提出的，须由另一名委员批准。",
    "You signed out of this session; sign in again.": "您已退出此会话，请重新登录。",
    "Your account was disabled, which ended this session; ask your administrator.": "您的账号已被停用，此会话随之结束；请联系管理员。",
    "Your account's password was reset, which ended this session; sign in again.": "您的账号密码已重置，此会话随之结束，请重新登录。",
    "Your session ended after 30 minutes without activity; sign in again.": "30 分钟没有操作，会话已结束，请重新登录。",
    "Your session reached its 12 hours and ended; sign in again.": "会话已满 12 小时并结束，请重新登录。",
    "a correction cannot be voided; add the event again instead": "更正不能作废；请改为重新补录该事件",
    "a correction cannot void itself": "更正不能作废其自身",
    "a phone number must be a mainland mobile: 11 digits starting with 1, optionally after +86": "手机号须为中国大陆手机号：以 1 开头的 11 位数字，可带 +86 前缀",
    "a sender of district {district} may report arrivals only for it": "{district} 区的发送方只能报告本区的到达记录",
    "a {role} may not send {kind} events": "{role} 不能发送 {kind} 事件",
    "a {role} token must carry a district claim": "{role} 令牌必须带有 district（所属区）声明",
    "add a note to": "添加备注到",
    "after must be the next_after of a page.": "after 须为上一页返回的 next_after。",
    "after to": "晚于结束时间",
    "already used for another request": "已用于另一个请求",
    "already used; choose a new UUID": "已被使用，请换一个新的 UUID",
    "an escalated appeal is decided by the commission": "已转交的申诉由市卫健委决定",
    "an id number has 18 characters; this one has {count}": "身份证号应为 18 位，此号码为 {count} 位",
    "an id number is 17 digits followed by a digit or X": "身份证号为 17 位数字加 1 位数字或 X",
    "an override cannot be voided; it ends at its 'until' or by a later override that two commission members approve": "人工设定不能作废；它在截止时间（until）结束，或由两名委员批准的新人工设定取代",
    "an override ends only by another approved override": "人工设定只能由另一项经批准的人工设定结束",
    "appeal is already escalated": "申诉已转交市卫健委",
    "appeal is already in_review, claimed by another officer": "申诉已由另一位工作人员认领，正在审核",
    "appeal is already in_review, claimed by you": "申诉已由您认领，正在审核",
    "appeal is corrected; a decided appeal cannot be {verb}": "申诉已更正；已办结的申诉不能再{verb}",
    "appeal is escalated; it is with the commission and cannot be {verb}": "申诉已转交市卫健委，由其处理，不能再{verb}",
    "appeal is in_review; it cannot be {verb}": "申诉正在审核，不能{verb}",
    "appeal is submitted; it must be claimed before it can be {verb}": "申诉尚待认领；须先认领才能{verb}",
    "appeal is upheld; a decided appeal cannot be {verb}": "申诉已维持原结论；已办结的申诉不能再{verb}",
    "appeal is withdrawn; a withdrawn appeal cannot be {verb}": "申诉已撤回；已撤回的申诉不能再{verb}",
    "approved": "批准",
    "choose one of: {options}": "请从以下选项中选择：{options}",
    "claim": "认领",
    "claimed": "认领",
    "correct": "更正",
    "corrected": "更正",
    "corrected automatically": "自动更正",
    "corrections come from resolved appeals and the commission, not from a {role}": "更正只能来自已办结的申诉或市卫健委，{role} 不能发送",
    "describe what is wrong and why, in a sentence or two": "请用一两句话说明哪里有误以及原因",
    "digits 7 to 14 must be a birth date YYYYMMDD; {digits} is not a date": "第 7 至 14 位须为出生日期（年月日，YYYYMMDD），{digits} 不是有效日期",
    "each added event needs its own event_id": "每条补录的事件都须有各自的 event_id",
    "each event must be a JSON object": "每条事件都须为 JSON 对象",
    "escalate": "上报",
    "escalated": "转交市卫健委",
    "event_id {event_id} appears twice in this batch with different content": "event_id {event_id} 在本批中出现两次且内容不同",
    "event_id {event_id} was already used for an event with different content; events are never edited — send a correction instead": "event_id {event_id} 已用于一条内容不同的事件；事件一经写入不能修改，请改为发送更正",
    "evidence must be an object of named values, such as lab_id": "证明材料须为带名称的字段，例如 lab_id",
    "file": "提出",
    "from must be before to.": "起始时间（from）须早于结束时间（to）。",
    "from must not be after to (or now).": "起始时间（from）不能晚于结束时间（to）或当前时间。",
    "give at most {most} evidence values": "证明材料最多 {most} 项",
    "give the event_id exactly as shown, a UUID": "请按显示原样填写 event_id（一个 UUID）",
    "give the id of the lab that tested you; it is printed on your test report": "请填写为您检测的检测机构编号，检测报告上印有此编号",
    "give the sample id of the missing test; it is printed on your test report": "请填写缺失检测的样本编号，检测报告上印有此编号",
    "give this value as text": "此项须为文本",
    "give void, add or both": "请填写 void、add 或两者",
    "given more than once": "重复给出",
    "holds a control character or bytes that are not UTF-8": "含有控制字符或非 UTF-8 字节",
    "holds the NUL character": "含有 NUL 字符",
    "invalid event": "事件无效",
    "invalid event: {fields}": "事件无效：{fields}",
    "is not valid ({why})": "无效（{why}）",
    "is not valid JSON": "不是有效的 JSON",
    "is required": "必填",
    "more than 5 minutes in the future": "比现在晚 5 分钟以上",
    "must be a 6-digit administrative division code, e.g. 310101": "须为 6 位行政区划代码，例如 310101",
    "must be a JSON object": "须为 JSON 对象",
    "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80": "须为 UUID，例如 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80",
    "must be a list": "须为列表",
    "must be a number": "须为数字",
    "must be a person_ref, e.g. p_HNR2ZRX5PEQD": "须为人员编号（person_ref），例如 p_HNR2ZRX5PEQD",
    "must be a whole number": "须为整数",
    "must be a whole number from {low} to {high}": "须为 {low} 到 {high} 之间的整数",
    "must be after starts_at": "须晚于 starts_at",
    "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00": "须为带时区偏移的 RFC 3339 时间，例如 2022-02-08T10:00:00+08:00",
    "must be an id as the service gave it, e.g. a_3f9c0e1d2b4a": "须为本服务给出的编号，例如 a_3f9c0e1d2b4a",
    "must be an object with person_ref or id_number": "须为含 person_ref 或 id_number 的对象",
    "must be at least {limit}": "不能小于 {limit}",
    "must be at most {limit}": "不能大于 {limit}",
    "must be less than {limit}": "须小于 {limit}",
    "must be more than {limit}": "须大于 {limit}",
    "must be one of {options}": "须为以下之一：{options}",
    "must be text": "须为文本",
    "must be text on one line, not blank, without control characters": "须为单行文本，不能为空，不含控制字符",
    "must be text, not blank, without control characters": "须为文本，不能为空，不含控制字符",
    "must be true or false": "须为 true 或 false",
    "must be {district}": "须为 {district}",
    "must have at least {least} item(s)": "至少须有 {least} 项",
    "must have at most {most} characters": "最多 {most} 个字符",
    "must have at most {most} items": "最多 {most} 项",
    "must match {pattern}": "须符合格式 {pattern}",
    "must not be before valid_from": "不能早于 valid_from",
    "must not be empty": "不能为空",
    "name the arrival you dispute: the event_id shown with the reason for your colour": "请指明您有异议的到达记录：即健康码颜色原因旁显示的 event_id",
    "name the day as YYYY-MM-DD, e.g. 2022-04-01": "日期格式为 YYYY-MM-DD，例如 2022-04-01",
    "name the test result you dispute: the event_id shown with the reason for your colour": "请指明您有异议的检测结果：即健康码颜色原因旁显示的 event_id",
    "names an override": "指向一项人工设定",
    "not a cursor": "不是有效的翻页标记",
    "not a key": "不是有效的键",
    "not after from": "未晚于起始时间",
    "not allowed": "不允许",
    "not allowed for this sender": "此发送方不能发送",
    "not allowed when upheld": "维持原结论时不能填写",
    "not an event of the appellant": "不是申诉人的记录",
    "not an event of this person": "不是此人的事件",
    "not an event on your record": "不是您名下的记录",
    "not an object": "不是对象",
    "not in the future": "不是将来的时间",
    "occurred_at {at} is in the future; events report what has happened": "发生时间 {at} 在将来；事件只能报告已经发生的事",
    "only staff and the commission write notes on an appeal": "只有工作人员和市卫健委可以为申诉添加备注",
    "only staff of the appeal's district can claim it": "只有申诉所属区的工作人员才能认领",
    "only the citizen who filed the appeal can withdraw it": "只有提出申诉的本人才能撤回",
    "only the officer reviewing the appeal or the commission can": "只有审核此申诉的工作人员或市卫健委才能办理",
    "only the service itself resolves an appeal automatically": "只有系统本身才能自动办结申诉",
    "override events are never sent: one commission member proposes an override and another approves it": "人工设定不能作为事件发送：须由一名委员提出、另一名委员批准",
    "path": "路径",
    "person not in your district": "此人不在您的辖区",
    "proposed": "提出",
    "query": "查询",
    "rejected": "驳回",
    "see": "查看",
    "send exactly one of code or id_number": "code 和 id_number 须且只能给出其中一个",
    "shorten the description to at most {most} characters (it has {has})": "说明最多 {most} 个字，现有 {has} 个，请删减",
    "shorten this value to at most {most} characters": "此项最多 {most} 个字，请删减",
    "the appeal is claimed by another officer": "申诉已由另一位工作人员认领",
    "the bearer token is not a well-formed JWT": "访问令牌不是格式正确的 JWT",
    "the birth date {birth} is not plausible": "出生日期 {birth} 不合理",
    "the check digit (the last character) does not match; look for a mistyped digit": "校验码（最后一位）不符，请检查是否有输错的数字",
    "the first 6 digits must be an area code; {area} is not one": "前 6 位须为行政区划代码，{area} 不是",
    "the token has expired; get a new one": "令牌已过期，请重新获取",
    "the token is not valid: {why}": "令牌无效：{why}",
    "the token is signed with {alg}; this service accepts only {accepted}": "令牌的签名算法是 {alg}；本服务只接受 {accepted}",
    "the token lacks the {claim} claim": "令牌缺少 {claim} 声明",
    "the token's district claim must be a string": "令牌的 district 声明必须是字符串",
    "the token's exp claim must be a number of seconds (NumericDate)": "令牌的 exp 声明必须是秒数（NumericDate）",
    "the token's role {role} is not one of {roles}": "令牌的角色 {role} 不在 {roles} 之中",
    "the token's signature does not verify": "令牌签名验证失败",
    "the token's sub claim must be a non-empty string": "令牌的 sub 声明必须是非空字符串",
    "this appeal is not yours to act on": "这项申诉不由您办理",
    "unknown case": "找不到所指的病例",
    "unknown field": "未知字段",
    "unknown kind {kind}; must be one of {options}": "未知的事件类型 {kind}；须为以下之一：{options}",
    "unknown person_ref {ref}; register the person or send their id_number": "未知的人员编号 {ref}；请先登记此人，或改为发送其身份证号（id_number）",
    "until must be in the future; leave it out for an open-ended override.": "截止时间（until）须在将来；如不设截止时间，请不填此项。",
    "upheld": "维持原结论",
    "uphold": "维持原结论",
    "voids names {events}, which is not an event of this person": "voids 中的 {events} 不是此人的事件",
    "window too long": "时间范围过长",
    "withdraw": "撤回",
    "withdrawn": "撤回",
    "{path}: {problem}": "{path}：{problem}",
}
