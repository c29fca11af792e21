// A venue's scanner: a code or an id number in, the colour and a masked name out, then clear.
// Anything but a fresh answer is a full-screen state of its own, never the previous colour.
import { COLORS, Unreachable, applyText, bindLangToggle, call, currentLang } from "./common.js";

// The tablet belongs to the venue: its token is kept on the device, pasted once.
const TOKEN_KEY = "codesvc.scanner.token";
// A door cannot wait: an answer slower than this counts as no answer.
const TIMEOUT_MS = 3000;
// How long a colour stays before the screen clears for the next person; errors stay longer.
const COLOUR_MS = 5000;
const ERROR_MS = 8000;
const ID_NUMBER = /^\d{17}[\dX]$/i;
const CITY_ZONE = "Asia/Shanghai";

// Headlines are in both languages at once: whoever stands at the door can read them.
const STATES = {
  ready: { zh: "请扫码", en: "ready — scan a code", sign: "" },
  checking: { zh: "正在核验…", en: "checking…", sign: "…" },
  down: { zh: "无法连接 — 请人工核验", en: "cannot reach the service — check by hand", sign: "⚠" },
  expired: { zh: "码已过期，请刷新", en: "code expired, ask them to refresh", sign: "↻" },
  refused: { zh: "码无效 — 请人工核验", en: "code not valid — check by hand", sign: "⚠" },
  busy: { zh: "扫码太频繁，请稍候", en: "too many scans — wait a moment", sign: "‖" },
  unknown: { zh: "查无此人 — 请人工核验", en: "no such person — check by hand", sign: "?" },
  invalid: { zh: "号码有误，请重新输入", en: "check the number and scan again", sign: "✎" },
  token: {
    zh: "本设备的扫码令牌已失效",
    en: "this scanner's token is no longer accepted",
    sign: "⚠",
  },
};

const TEXT = {
  zh: {
    home: "首页",
    title: "场所扫码",
    token_label: "粘贴本场所的扫码令牌（只需一次）",
    token_hint: "令牌保存在这台设备上，只发送给本服务。",
    token_keep: "保存并开始扫码",
    scan_label: "扫码，或输入身份证号后按回车",
    change_token: "更换令牌",
    venue: (sub) => `场所：${sub}`,
    as_of: (at) => `核验时间 ${at}`,
    down: "网络或服务不可用。请查看纸质证明或人工登记。",
    retry_in: (s) => `${s} 秒后可再扫`,
    token: "请向场所负责人索取新的令牌，点“更换令牌”粘贴。",
    not_a_scanner: "这不是场所扫码令牌；请粘贴扫码令牌。",
  },
  en: {
    home: "Home",
    title: "Venue scanner",
    token_label: "Paste this venue's scanner token (once)",
    token_hint: "The token is kept on this device and sent to this service only.",
    token_keep: "Keep it and start scanning",
    scan_label: "Scan a code, or type an id number and press Enter",
    change_token: "Change token",
    venue: (sub) => `venue: ${sub}`,
    as_of: (at) => `checked at ${at}`,
    down: "The network or the service is down. Check a paper certificate or register by hand.",
    retry_in: (s) => `scan again in ${s} s`,
    token: "Ask the venue manager for a new token and paste it with “Change token”.",
    not_a_scanner: "That is not a scanner token; paste this venue's scanner token.",
  },
};

const $ = (selector) => document.querySelector(selector);
const door = $("#door");
const input = $("#scan-input");

let lang = currentLang();
let token = localStorage.getItem(TOKEN_KEY) || "";
// Each scan gets a number: only the latest one may change the screen.
let scans = 0;
let clearTimer = null;
let countdown = null;
// After a 503 or 429 the service asked for a pause (Retry-After): until then, no request.
// A 429 for id cards pauses id cards only: codes may still be scanned.
const holds = { all: null, id: null };

const t = (key) => TEXT[lang][key];

function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

function clock(iso) {
  const when = iso ? new Date(iso) : new Date();
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: CITY_ZONE,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(when);
}

function display(state, { color, name = "", detail = "", stay } = {}) {
  clearTimeout(clearTimer);
  clearInterval(countdown);
  door.dataset.state = state;
  const words = color ? COLORS[color] : STATES[state];
  if (color) door.dataset.color = color;
  else delete door.dataset.color;
  $("#display .sign").textContent = words.sign;
  $("#display .headline .zh").textContent = words.zh;
  $("#display .headline .en").textContent = words.en;
  $("#display .name").textContent = name;
  $("#display .detail").textContent = detail;
  if (stay) clearTimer = setTimeout(() => display("ready"), stay);
}

// A pause the service asked for: the state, with the seconds left, until it is over.
function hold(scope, state, seconds, detail) {
  holds[scope] = { until: Date.now() + seconds * 1000, state, detail };
  showHold(holds[scope]);
}

function holding(isId) {
  for (const scope of isId ? ["all", "id"] : ["all"]) {
    if (holds[scope] && Date.now() < holds[scope].until) return holds[scope];
  }
  return null;
}

function showHold(pause) {
  const left = () => Math.max(0, Math.ceil((pause.until - Date.now()) / 1000));
  const text = () => [pause.detail, t("retry_in")(left())].filter(Boolean).join("\n");
  display(pause.state, { detail: text(), stay: Math.max(ERROR_MS, pause.until - Date.now()) });
  countdown = setInterval(() => {
    if (left() <= 0) {
      clearInterval(countdown);
      display("ready");
    } else {
      $("#display .detail").textContent = text();
    }
  }, 1000);
}

function refusedCode(problem) {
  return problem && problem.reason === "expired" ? "expired" : "refused";
}

async function scan(raw) {
  const value = raw.trim();
  if (!value) return;
  const mine = ++scans;
  const isId = ID_NUMBER.test(value);
  const pause = holding(isId);
  if (pause) {
    showHold(pause);
    return;
  }
  display("checking");
  const body = isId ? { id_number: value.toUpperCase() } : { code: value };
  let answer;
  try {
    answer = await call("/v1/scans", { method: "POST", body, token, timeout: TIMEOUT_MS });
  } catch (err) {
    if (mine !== scans) return;
    if (!(err instanceof Unreachable)) throw err;
    display("down", { detail: t("down"), stay: ERROR_MS });
    return;
  }
  if (mine !== scans) return;
  if (answer.ok) {
    const shown = answer.data;
    display("colour", {
      color: shown.color,
      name: shown.name_masked,
      detail: t("as_of")(clock(shown.as_of)),
      stay: COLOUR_MS,
    });
    return;
  }
  const status = answer.status;
  if (status === 401 || status === 403) {
    display("token", { detail: `${answer.detail}\n${t("token")}` });
  } else if (status === 429) {
    hold(isId ? "id" : "all", "busy", answer.retryAfter ?? 1, answer.detail);
  } else if (status >= 500) {
    hold("all", "down", answer.retryAfter ?? 5, `${t("down")}\n${answer.detail}`);
  } else if (status === 404) {
    display("unknown", { detail: answer.detail, stay: ERROR_MS });
  } else if (!isId && status === 422 && answer.problem && answer.problem.reason) {
    display(refusedCode(answer.problem), { detail: answer.detail, stay: ERROR_MS });
  } else {
    display(isId ? "invalid" : "refused", { detail: answer.detail, stay: ERROR_MS });
  }
}

function start() {
  const who = claims(token);
  $("#venue").textContent = who.sub ? t("venue")(who.sub) : "";
  $("#setup").hidden = true;
  door.hidden = false;
  display("ready");
  input.focus();
}

function setup(message) {
  door.hidden = true;
  $("#setup").hidden = false;
  const alert = $("#setup-alert");
  alert.textContent = message || "";
  alert.hidden = !message;
  $("#token").focus();
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = $("#token").value.trim().replace(/^Bearer\s+/i, "");
  if (!pasted) return;
  const role = claims(pasted).role;
  if (role && role !== "scanner") {
    setup(t("not_a_scanner"));
    return;
  }
  token = pasted;
  localStorage.setItem(TOKEN_KEY, token);
  $("#token").value = "";
  start();
});

$("#scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = input.value;
  input.value = "";
  input.focus();
  scan(value);
});

$("#change-token").addEventListener("click", () => {
  scans += 1;
  token = "";
  localStorage.removeItem(TOKEN_KEY);
  setup("");
});

// A tap anywhere on the door screen gives the field back to the QR reader.
door.addEventListener("click", (event) => {
  if (!event.target.closest("button")) input.focus();
});

bindLangToggle((next) => {
  lang = next;
  applyText(TEXT, lang);
  if (token) $("#venue").textContent = claims(token).sub ? t("venue")(claims(token).sub) : "";
});

applyText(TEXT, lang);
if (token) start();
else setup("");
