// A citizen's page: the colour and why, the QR code, the history, appeals.
// The token lives in sessionStorage (this tab only) and goes only to this service. The city's
// app opens the page as /citizen#token=<JWT>: a fragment never reaches a server or its logs.
// The code comes first, in one API call that carries the colour too; the rest follows.
//
// Why one file of some 700 lines: this is the page that must show a code within a second on a
// slow phone (SPEC §9), and every module it imports is one more request on its first open —
// over HTTP/1.1 the browser's six connections are already taken by the page's files, so a
// seventh module waits a round trip (400 ms on slow 3G). Its words in two languages are
// nearly 150 of those lines and every part below them (code, reasons, history, appeals)
// draws into the one #me section with the same few helpers; the code-first call is already
// split off (citizen-start.js) because it must leave before this file arrives.
import { AREAS } from "./areas.js";
import { TOKEN_KEY, firstCode, firstToken, tokenFromFragment } from "./citizen-start.js";
import {
  CATEGORY_WORDS,
  CAUSE_WORDS,
  COLORS,
  DISTRICTS,
  RULE_WORDS,
  Unreachable,
  answered,
  applyText,
  bindLangToggle,
  call,
  colorChip,
  currentLang,
  formatTime,
  keepShell,
  retryKey,
} from "./common.js";

// Colours change by themselves (SPEC §3): read again at least this often, and at next_change_at.
const STATUS_REFRESH_MS = 60_000;
// Ask for a new code this long before the old one expires.
const CODE_MARGIN_MS = 10_000;

const TEXT = {
  zh: {
    home: "首页",
    title: "我的健康码",
    token_label: "粘贴您的令牌",
    token_hint: "令牌只保存在本标签页中，关闭即忘记；它只发送给本服务。",
    token_keep: "保存并查看",
    loading: "正在读取…",
    code_title: "请出示此码",
    why_title: "为什么是这个颜色",
    history_title: "颜色历史",
    history_hint: "划掉的是当时显示、后因新信息或更正而被取代的颜色。",
    appeals_title: "我的申诉",
    no_appeals: "您还没有提出申诉。",
    appeal_open: "颜色不对？提出申诉",
    appeal_category: "申诉类别",
    cat_wrong_travel_record: "行程记录有误",
    cat_missing_test_result: "缺少检测结果",
    cat_wrong_test_result: "检测结果有误",
    cat_other: "其他",
    appeal_event: "有争议的记录",
    appeal_no_event: "不指定",
    appeal_description: "哪里不对，为什么",
    appeal_evidence: "检测报告上的信息",
    evidence_lab: "检测机构编号",
    evidence_sample: "样本编号",
    appeal_submit: "提交申诉",
    appeal_sending: "正在提交…",
    forget: "退出（忘记令牌）",
    withdraw: "撤回申诉",
    since: (at) => `自 ${at} 起`,
    next_change: (at) => `将于 ${at} 自动变化`,
    no_next_change: "不会自动变化；下面说明怎样变回绿码。",
    no_reasons: "没有任何限制。",
    reminder: "提醒",
    set_by_hand: (office, why) => `人工设定：${office}。理由：${why}`,
    now: "至今",
    superseded: (at, by) => `已于 ${at} 被取代，原因：${by}`,
    code_valid: (s) => `有效期还剩 ${s} 秒，到期前自动更新。`,
    code_renewing: "正在更新二维码…",
    code_unavailable: (detail) => `暂时无法显示二维码：${detail}`,
    qr_alt: (color) => `健康码二维码：${color.zh}`,
    unreachable: "无法连接服务，请检查网络。",
    unavailable: (detail, s) => `${detail}（${s} 秒后自动重试）`,
    token_refused: "此令牌无法使用，请重新粘贴。",
    appeal_filed: (status, due) => `申诉已提交，状态：${status}，预计 ${due} 前处理。`,
    appeal_failed: (detail) => `申诉未能提交：${detail}`,
    appeal_unanswered:
      "没有收到答复，申诉可能已经提交。请再按一次“提交申诉”：同一份申诉不会重复提交。",
    filed: (at) => `提交于 ${at}`,
    due: (at) => `应于 ${at} 前处理`,
    overdue: "已超时",
    handled_by: (office) => `处理单位：${office}`,
    decided: (at) => `决定于 ${at}`,
    commission: "市卫生健康委员会",
    district: (name) => `${name}卫生健康部门`,
    offline: "未联网：二维码无法刷新。联网后自动更新；过期的码不会显示。",
    automatic: "系统自动核对",
    status: {
      submitted: "已提交",
      in_review: "审核中",
      corrected: "已更正",
      upheld: "维持原颜色",
      escalated: "已转交市卫健委",
      withdrawn: "已撤回",
    },
    categories: CATEGORY_WORDS.zh,
    rules: RULE_WORDS.zh,
    cause: CAUSE_WORDS.zh,
  },
  en: {
    home: "Home",
    title: "My health code",
    token_label: "Paste your token",
    token_hint: "The token is kept in this tab only and forgotten when it closes; it is sent to this service only.",
    token_keep: "Keep it and show my code",
    loading: "Loading…",
    code_title: "Show this code",
    why_title: "Why this colour",
    history_title: "Colour history",
    history_hint: "Struck through: colours that were shown, then replaced by new information or a correction.",
    appeals_title: "My appeals",
    no_appeals: "You have not filed an appeal.",
    appeal_open: "Colour wrong? File an appeal",
    appeal_category: "What is wrong",
    cat_wrong_travel_record: "Wrong travel record",
    cat_missing_test_result: "A test result is missing",
    cat_wrong_test_result: "Wrong test result",
    cat_other: "Something else",
    appeal_event: "The record you dispute",
    appeal_no_event: "None",
    appeal_description: "What is wrong, and why",
    appeal_evidence: "From your test report",
    evidence_lab: "Lab id",
    evidence_sample: "Sample id",
    appeal_submit: "File the appeal",
    appeal_sending: "Sending…",
    forget: "Sign out (forget the token)",
    withdraw: "Withdraw",
    since: (at) => `since ${at}`,
    next_change: (at) => `changes by itself at ${at}`,
    no_next_change: "It will not change by itself; below is what turns it green.",
    no_reasons: "Nothing holds your code.",
    reminder: "to do",
    set_by_hand: (office, why) => `Set by hand by ${office}. Reason: ${why}`,
    now: "now",
    superseded: (at, by) => `superseded on ${at} by ${by}`,
    code_valid: (s) => `valid for ${s} more seconds; a new one comes by itself`,
    code_renewing: "Getting a new code…",
    code_unavailable: (detail) => `The code cannot be shown right now: ${detail}`,
    qr_alt: (color) => `QR code of a ${color.en} health code`,
    unreachable: "Cannot reach the service; check your connection.",
    unavailable: (detail, s) => `${detail} (trying again in ${s} s)`,
    token_refused: "This token cannot be used; paste a valid one.",
    appeal_filed: (status, due) => `Appeal filed. Status: ${status}; to be handled by ${due}.`,
    appeal_failed: (detail) => `The appeal was not filed: ${detail}`,
    appeal_unanswered:
      "No answer came back, so the appeal may have been filed. Press “File the appeal” again: the same appeal is never filed twice.",
    filed: (at) => `filed ${at}`,
    due: (at) => `due by ${at}`,
    overdue: "overdue",
    handled_by: (office) => `handled by ${office}`,
    decided: (at) => `decided ${at}`,
    commission: "the city health commission",
    district: (name) => `the health office of ${name}`,
    offline:
      "Offline: the code cannot be refreshed. It comes back by itself when you are online; an expired code is never shown.",
    automatic: "the automatic check",
    status: {
      submitted: "submitted",
      in_review: "in review",
      corrected: "corrected",
      upheld: "upheld (colour kept)",
      escalated: "passed to the health commission",
      withdrawn: "withdrawn",
    },
    categories: CATEGORY_WORDS.en,
    rules: RULE_WORDS.en,
    cause: CAUSE_WORDS.en,
  },
};

const $ = (selector) => document.querySelector(selector);

let lang = currentLang();
let token = firstToken;
// The code request citizen-start.js sent for that token, used once.
let earlyCode = firstCode;
// Bumped on sign-out: answers to requests made with the old token are dropped.
let session = 0;
// Bumped by each full read: an older read answering late is dropped.
let reads = 0;
let statusTimer = null;
let codeTimer = null;
let tickTimer = null;
let shownColor = null;
// The reasons, history and appeals are to be read (again) after the next code.
let needDetails = true;
let codeExpiresAt = 0;

const t = (key) => TEXT[lang][key];

function show(view) {
  for (const id of ["login", "loading", "me"]) $(`#${id}`).hidden = id !== view;
}

function alertText(text) {
  const box = $("#alert");
  box.textContent = text || "";
  box.hidden = !text;
}

function stopTimers() {
  clearTimeout(statusTimer);
  clearTimeout(codeTimer);
  clearInterval(tickTimer);
}

function forget(message) {
  session += 1;
  stopTimers();
  token = "";
  shownColor = null;
  sessionStorage.removeItem(TOKEN_KEY);
  hideCode();
  $("#token").value = "";
  show("login");
  alertText(message);
}

// A refused answer: the token, an outage, or a problem whose detail says what to do.
function refused(answer) {
  if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
    forget(`${t("token_refused")} ${answer.detail}`);
  } else if (answer.status >= 500) {
    unavailable(answer.detail, answer.retryAfter);
  } else {
    alertText(answer.detail);
  }
}

// Never leave a colour on screen that could not be read just now.
function unavailable(detail, retryAfter) {
  const seconds = Math.max(1, Math.ceil(retryAfter ?? 10));
  stopTimers();
  hideCode();
  shownColor = null;
  show("loading");
  alertText(t("unavailable")(detail, seconds));
  statusTimer = setTimeout(start, seconds * 1000);
}

// No network: no colour and no code that could not be refreshed just now, but the reasons
// and history already read stay; it tries again by itself and as soon as the phone is online.
function offline() {
  stopTimers();
  hideCode();
  shownColor = null;
  needDetails = true;
  const box = $("#status");
  box.className = "colour c-none";
  delete box.dataset.color;
  box.querySelector(".sign").textContent = "⚠";
  box.querySelector(".word-zh").textContent = "无法刷新";
  box.querySelector(".word-en").textContent = "cannot refresh";
  $("#code-countdown").textContent = t("offline");
  $("#code").dataset.state = "offline";
  alertText(t("offline"));
  if ($("#me").hidden) show("");
  codeTimer = setTimeout(refreshCode, 5000);
}

// The code first (it carries the colour: one round trip), then the reasons, history, appeals.
function start() {
  needDetails = true;
  refreshCode();
}

async function loadAll() {
  const mine = ++reads;
  const signedIn = session;
  clearTimeout(statusTimer);
  let answers;
  try {
    answers = await Promise.all(
      ["/v1/me/status", "/v1/me/history", "/v1/me/appeals"].map((path) =>
        call(path, { token, lang }),
      ),
    );
  } catch (err) {
    if (mine !== reads || signedIn !== session) return;
    if (!(err instanceof Unreachable)) throw err;
    offline();
    return;
  }
  if (mine !== reads || signedIn !== session) return;
  const failed = answers.find((answer) => !answer.ok);
  if (failed) {
    refused(failed);
    return;
  }
  const [status, history, appeals] = answers.map((answer) => answer.data);
  needDetails = false;
  alertText("");
  renderStatus(status);
  renderHistory(history.intervals);
  renderAppeals(appeals.appeals);
  show("me");
  const next = status.next_change_at ? Date.parse(status.next_change_at) - Date.now() : Infinity;
  statusTimer = setTimeout(loadAll, Math.max(1000, Math.min(STATUS_REFRESH_MS, next + 1000)));
  if (Date.now() > codeExpiresAt - CODE_MARGIN_MS) refreshCode();
}

function renderColour(color) {
  const words = COLORS[color];
  const box = $("#status");
  box.className = `colour c-${color}`;
  box.dataset.color = color;
  box.querySelector(".sign").textContent = words.sign;
  box.querySelector(".word-zh").textContent = words.zh;
  box.querySelector(".word-en").textContent = words.en;
  shownColor = color;
}

function renderStatus(status) {
  renderColour(status.color);
  $("#since").textContent = t("since")(formatTime(status.since, lang));
  const next = $("#next-change");
  if (status.next_change_at) {
    next.textContent = t("next_change")(formatTime(status.next_change_at, lang));
  } else {
    next.textContent = status.color === "green" ? "" : t("no_next_change");
  }
  const list = $("#reasons");
  list.replaceChildren();
  for (const reason of status.reasons) {
    const item = document.createElement("li");
    item.dataset.rule = reason.rule;
    // A hold that does not colour the code yet (landing tests due) is a reminder, not a green.
    item.append(reason.color === "green" ? reminderChip() : colorChip(reason.color));
    const text = document.createElement("p");
    text.className = "reason-text";
    text.textContent = reason.text;
    item.append(text);
    if (reason.set_by_hand) {
      const hand = document.createElement("p");
      hand.className = "by-hand";
      hand.textContent = t("set_by_hand")(reason.office || "", reason.override_reason || "");
      item.append(hand);
    }
    list.append(item);
  }
  if (!status.reasons.length) {
    const item = document.createElement("li");
    item.textContent = t("no_reasons");
    list.append(item);
  }
  disputableEvents(status.reasons);
}

function reminderChip() {
  const chip = document.createElement("span");
  chip.className = "chip reminder";
  chip.textContent = t("reminder");
  return chip;
}

// The appeal form offers the events behind the current colour, as the citizen sees them.
function disputableEvents(reasons) {
  const select = $("#appeal-event");
  const chosen = select.value;
  const none = new Option(t("appeal_no_event"), "");
  const options = reasons
    .filter((r) => r.event_id && r.rule !== "R7")
    .map((r) => new Option(`${TEXT[lang].rules[r.rule] || r.rule} · ${formatTime(r.since, lang)}`, r.event_id));
  select.replaceChildren(none, ...options);
  if (options.some((o) => o.value === chosen)) select.value = chosen;
}

function describeCause(cause) {
  if (!cause) return "";
  const [kind, ...rest] = cause.split(":");
  const ref = rest.join(":");
  if (/^R[1-8]$/.test(kind)) return `${TEXT[lang].rules[kind]} (${kind})`;
  const words = TEXT[lang].cause[kind];
  if (typeof words === "function") return words(kind === "event" ? ref.slice(0, 8) : ref);
  return typeof words === "string" ? words : cause;
}

function renderHistory(intervals) {
  const list = $("#history");
  list.replaceChildren();
  // Newest first; at the same start, what is believed now before what it replaced.
  const ordered = [...intervals].sort(
    (a, b) =>
      Date.parse(b.from) - Date.parse(a.from) ||
      Number(Boolean(a.superseded_at)) - Number(Boolean(b.superseded_at)),
  );
  for (const interval of ordered) {
    const item = document.createElement("li");
    item.className = interval.superseded_at ? "superseded" : "current";
    item.dataset.color = interval.color;
    const body = document.createElement(interval.superseded_at ? "del" : "span");
    const to = interval.to ? formatTime(interval.to, lang) : t("now");
    body.append(
      colorChip(interval.color),
      ` ${formatTime(interval.from, lang)} – ${to} · ${describeCause(interval.cause)}`,
    );
    item.append(body);
    if (interval.superseded_at) {
      const note = document.createElement("p");
      note.className = "superseded-by";
      note.textContent = t("superseded")(
        formatTime(interval.superseded_at, lang),
        describeCause(interval.superseded_by),
      );
      item.append(note);
    }
    list.append(item);
  }
}

function office(handledBy) {
  const district = /^district (\d{6})$/.exec(handledBy || "");
  if (district) {
    const names = AREAS[district[1]];
    return t("district")(names ? names[lang === "en" ? 1 : 0] : district[1]);
  }
  if (handledBy === "city health commission") return t("commission");
  if (handledBy === "automatic check") return t("automatic");
  return handledBy;
}

function line(className, text) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}

function renderAppeals(appeals) {
  const list = $("#appeals");
  list.replaceChildren();
  $("#no-appeals").hidden = appeals.length > 0;
  for (const appeal of appeals) {
    const item = document.createElement("li");
    item.dataset.appealId = appeal.appeal_id;
    item.dataset.status = appeal.status;
    const head = document.createElement("p");
    head.className = "appeal-head";
    const state = document.createElement("strong");
    state.className = `appeal-status s-${appeal.status}`;
    state.textContent = TEXT[lang].status[appeal.status] || appeal.status;
    head.append(state, ` · ${TEXT[lang].categories[appeal.category] || appeal.category}`);
    item.append(head, line("appeal-description", appeal.description));
    const when = [t("filed")(formatTime(appeal.filed_at, lang))];
    if (appeal.decided_at) when.push(t("decided")(formatTime(appeal.decided_at, lang)));
    else when.push(t("due")(formatTime(appeal.due_at, lang)));
    if (appeal.overdue) when.push(t("overdue"));
    when.push(t("handled_by")(office(appeal.handled_by)));
    item.append(line("appeal-meta", when.join(" · ")));
    for (const note of appeal.notes) {
      item.append(line("appeal-note", `${formatTime(note.at, lang)} · ${office(note.by)}: ${note.text}`));
    }
    if (appeal.outcome_note) item.append(line("appeal-outcome", appeal.outcome_note));
    if ((appeal.actions || []).includes("withdraw")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = t("withdraw");
      button.addEventListener("click", () => withdraw(appeal.appeal_id, button));
      item.append(button);
    }
    list.append(item);
  }
}

async function withdraw(appealId, button) {
  button.disabled = true;
  try {
    const answer = await call(`/v1/appeals/${encodeURIComponent(appealId)}/withdraw`, {
      method: "POST",
      token,
      lang,
    });
    if (!answer.ok) refused(answer);
  } catch {
    alertText(t("unreachable"));
  }
  await loadAll();
}

// A lab and sample id matter for test results; a missing one can be found by the machine.
function evidenceFor(category) {
  $("#appeal-evidence").hidden = !category.endsWith("_test_result");
}

function fieldErrors(errors) {
  for (const p of document.querySelectorAll("#appeal-form .field-error")) {
    const message = errors && errors[p.dataset.field];
    p.textContent = message || "";
    p.hidden = !message;
  }
}

async function fileAppeal(event) {
  event.preventDefault();
  const form = event.target;
  const result = $("#appeal-result");
  const body = {
    category: form.category.value,
    description: form.description.value,
  };
  if (form.disputed_event_id.value) body.disputed_event_id = form.disputed_event_id.value;
  const evidence = {};
  for (const name of ["lab_id", "sample_id"]) {
    const value = form[name].value.trim();
    if (value) evidence[name] = value;
  }
  if (Object.keys(evidence).length) body.evidence = evidence;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  result.textContent = t("appeal_sending");
  try {
    // The same key while the same appeal is sent again after no answer came.
    const idempotencyKey = retryKey("appeal", body);
    const answer = await call("/v1/appeals", { method: "POST", body, token, lang, idempotencyKey });
    answered("appeal");
    if (answer.ok) {
      fieldErrors(null);
      const appeal = answer.data;
      result.textContent = t("appeal_filed")(
        TEXT[lang].status[appeal.status] || appeal.status,
        formatTime(appeal.due_at, lang),
      );
      form.reset();
      evidenceFor(form.category.value);
      $("#appeal-details").open = false;
      await loadAll();
    } else if (answer.status === 401 || answer.status === 403) {
      refused(answer);
    } else {
      fieldErrors(answer.problem && answer.problem.errors);
      result.textContent = t("appeal_failed")(answer.detail);
    }
  } catch {
    // The filing may have been stored with its answer lost: say so, not "not filed"; the
    // same key on the next press is answered with the appeal already filed.
    result.textContent = t("appeal_unanswered");
  } finally {
    button.disabled = false;
  }
}

function hideCode() {
  clearInterval(tickTimer);
  codeExpiresAt = 0;
  const qr = $("#qr");
  qr.hidden = true;
  qr.removeAttribute("src");
  $("#code").removeAttribute("data-color");
  $("#code-countdown").textContent = "";
}

// qr_svg is made to be inlined in HTML; an image of its own needs the SVG namespace.
function standalone(svg) {
  return /^<svg\b[^>]*\bxmlns=/.test(svg)
    ? svg
    : svg.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"');
}

async function refreshCode() {
  clearTimeout(codeTimer);
  const mine = session;
  let answer;
  try {
    if (earlyCode && token === firstToken) {
      const early = await earlyCode;
      earlyCode = null;
      if (early.error) throw early.error;
      answer = early.answer;
    } else {
      answer = await call("/v1/me/code", { token, lang });
    }
  } catch (err) {
    if (mine !== session || !(err instanceof Unreachable)) return;
    offline();
    return;
  }
  if (mine !== session) return;
  if (!answer.ok) {
    if (answer.status === 401 || answer.status === 403 || $("#me").hidden) {
      refused(answer);
      return;
    }
    hideCode();
    $("#code-countdown").textContent = t("code_unavailable")(answer.detail);
    codeTimer = setTimeout(refreshCode, 1000 * Math.max(1, answer.retryAfter ?? 5));
    return;
  }
  const code = answer.data;
  // Count down on this phone's clock from the server's: the phone's own may be wrong.
  // The Date header has whole seconds, so a second is taken off to stay on the safe side.
  const serverNow = answer.serverDate ?? Date.now();
  const lifetime = Date.parse(code.expires_at) - serverNow - 1000;
  codeExpiresAt = Date.now() + lifetime;
  const qr = $("#qr");
  // An <img> cannot run anything the SVG might carry; the CSP allows data: images only.
  qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(standalone(code.qr_svg))}`;
  qr.alt = t("qr_alt")(COLORS[code.color]);
  qr.hidden = false;
  $("#code").dataset.color = code.color;
  delete $("#code").dataset.state;
  const colourMoved = shownColor && code.color !== shownColor;
  renderColour(code.color);
  alertText("");
  show("me");
  const renewIn = Math.max(1000, Math.min(lifetime - CODE_MARGIN_MS, lifetime / 2));
  codeTimer = setTimeout(refreshCode, renewIn);
  clearInterval(tickTimer);
  tick();
  tickTimer = setInterval(tick, 1000);
  // The page-speed test measures from opening the page to here: a valid code on screen.
  // Nothing else is fetched before it, so nothing competes with it on a slow network.
  await qr.decode().catch(() => {});
  if (mine !== session) return;
  performance.mark("code-shown");
  // The code carries the colour as of now: if it moved, read the reasons again.
  if (needDetails || colourMoved) loadAll();
  keepShell();
}

function tick() {
  const left = Math.ceil((codeExpiresAt - Date.now()) / 1000);
  if (left <= 0) {
    hideCode();
    $("#code-countdown").textContent = t("code_renewing");
    refreshCode();
    return;
  }
  $("#code-countdown").textContent = t("code_valid")(left);
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = $("#token").value.trim().replace(/^Bearer\s+/i, "");
  if (!pasted) return;
  token = pasted;
  sessionStorage.setItem(TOKEN_KEY, token);
  alertText("");
  show("loading");
  start();
});
$("#forget").addEventListener("click", () => forget(""));
$("#appeal-form").addEventListener("submit", fileAppeal);
$("#appeal-category").addEventListener("change", (event) => evidenceFor(event.target.value));
evidenceFor($("#appeal-category").value);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && token) loadAll();
});
// The city's app may hand over a new token to a page already open.
window.addEventListener("hashchange", () => {
  const given = tokenFromFragment();
  if (!given) return;
  session += 1;
  stopTimers();
  token = given;
  alertText("");
  show("loading");
  start();
});
window.addEventListener("online", () => {
  if (token) refreshCode();
});
bindLangToggle((next) => {
  lang = next;
  applyText(TEXT, lang);
  if (token) loadAll();
});

applyText(TEXT, lang);
if (token) {
  show("loading");
  start();
} else {
  show("login");
  keepShell();
}
