// A venue's scanner: a code (camera, QR reader or typed) or an id number in, the colour and a
// masked name out, then clear. Anything but a fresh answer is a full-screen state of its own,
// never the previous colour. When the service cannot be reached, a code is checked here with
// the keys kept from /v1/keys (its signature, key and expiry) and the scan is queued until the
// service is back; an id number cannot be checked offline, so the door is told to check by hand.
//
// Why one file of some 530 lines: what is separable already is (the camera, the offline
// check, the IndexedDB queue, the calls); what stays is the one screen's state machine —
// each scan's number, the pauses the service asks for, the timer that clears the colour —
// which every part below reads and changes, and the door's words (about 80 lines). Split
// further, those parts would share that state through exported mutable variables, and a
// door opening for the first time would wait for one more module.
import { Camera, prepareDecoder } from "./camera.js";
import { COLORS, Unreachable, applyText, bindLangToggle, call, currentLang, keepShell } from "./common.js";
import * as queue from "./door-queue.js";
import { CodeRejected, verifyOffline } from "./offline-check.js";

// The tablet belongs to the venue: its token is kept on the device, enrolled once.
const TOKEN_KEY = "codesvc.scanner.token";
// Whether this door scans with the camera: "on" once it was turned on, "off" once turned off.
const CAMERA_KEY = "codesvc.scanner.camera";
// The public keys that verify codes offline, with when they were fetched.
const KEYS_KEY = "codesvc.scanner.keys";
const KEYS_REFRESH_MS = 5 * 60_000;
const UPLOAD_EVERY_MS = 30_000;
const UPLOAD_BATCH = 500;
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
    enrol_title: "登记这台设备",
    enrol_label: "本场所的登记码（输入或用摄像头扫描）",
    enrol_hint: "登记码由市卫健委发给场所负责人，只能使用一次，24 小时内有效。",
    enrol_submit: "登记并开始扫码",
    enrol_camera: "用摄像头扫描登记码",
    enrolling: "正在登记…",
    token_title: "或者：粘贴扫码令牌",
    token_label: "粘贴本场所的扫码令牌（只需一次）",
    token_hint: "令牌保存在这台设备上，只发送给本服务。",
    token_keep: "保存并开始扫码",
    scan_label: "扫码，或输入身份证号后按回车",
    change_token: "更换设备登记",
    camera_on: "打开摄像头",
    camera_off: "关闭摄像头",
    camera_failed: (why) => `无法打开摄像头：${why}`,
    venue: (sub) => `场所：${sub}`,
    queued: (n) => `${n} 条离线扫码待上传`,
    as_of: (at) => `核验时间 ${at}`,
    offline_as_of: (s) => `离线核验 — 颜色为 ${s} 秒前的颜色\nchecked offline — colour as of ${s} s ago`,
    offline_refused: "离线核验未通过，请勿放行。",
    // Why the offline check refused a code, by its reason (English: the check's own words).
    offline_why: {
      malformed: "这不是健康码。",
      forged: "此健康码已被篡改或伪造。",
      expired: "此健康码已过期，请本人刷新后重扫。",
      unknown_key: "此健康码的签名密钥不在本设备保存的密钥中。",
    },
    down: "网络或服务不可用。请查看纸质证明或人工登记。",
    down_id: "离线时无法核验身份证号，请扫健康码或人工核验。",
    down_no_keys: "本设备还没有核验密钥，离线时无法核验。请人工核验。",
    retry_in: (s) => `${s} 秒后可再扫`,
    token: "请向场所负责人索取新的登记码，点“更换设备登记”重新登记。",
    not_a_scanner: "这不是场所扫码令牌；请粘贴扫码令牌。",
    unreachable: "无法连接服务，请检查网络后再试。",
  },
  en: {
    home: "Home",
    title: "Venue scanner",
    enrol_title: "Enrol this device",
    enrol_label: "This venue's enrolment code (type it or scan it)",
    enrol_hint: "The health commission gives it to the venue's manager; it works once, within 24 hours.",
    enrol_submit: "Enrol and start scanning",
    enrol_camera: "Scan the enrolment code with the camera",
    enrolling: "Enrolling…",
    token_title: "Or: paste a scanner token",
    token_label: "Paste this venue's scanner token (once)",
    token_hint: "The token is kept on this device and sent to this service only.",
    token_keep: "Keep it and start scanning",
    scan_label: "Scan a code, or type an id number and press Enter",
    change_token: "Enrol again",
    camera_on: "Camera on",
    camera_off: "Camera off",
    camera_failed: (why) => `The camera cannot be opened: ${why}`,
    venue: (sub) => `venue: ${sub}`,
    queued: (n) => `${n} offline scan${n === 1 ? "" : "s"} to upload`,
    as_of: (at) => `checked at ${at}`,
    offline_as_of: (s) => `checked offline — colour as of ${s} s ago\n离线核验 — 颜色为 ${s} 秒前的颜色`,
    offline_refused: "Refused by the offline check: do not admit on it.",
    offline_why: {},
    down: "The network or the service is down. Check a paper certificate or register by hand.",
    down_id: "An id number cannot be checked offline: scan the health code, or check by hand.",
    down_no_keys: "This device has no keys to check codes offline yet: check by hand.",
    retry_in: (s) => `scan again in ${s} s`,
    token: "Ask the venue manager for a new enrolment code and enrol again.",
    not_a_scanner: "That is not a scanner token; paste this venue's scanner token.",
    unreachable: "Cannot reach the service; check the network and try again.",
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
let uploading = false;
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
  if (color) performance.mark("colour-shown");
  if (stay) clearTimer = setTimeout(() => display("ready"), stay);
  if (state === "ready" && camera) camera.forget();
}

// A pause the service asked for: the state, with the seconds left, until it is over.
function hold(scope, state, seconds, detail, { show = true } = {}) {
  holds[scope] = { until: Date.now() + seconds * 1000, state, detail };
  if (show) showHold(holds[scope]);
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

// --- offline: the kept keys, the check, the queue -------------------------------------------

function keptKeys() {
  try {
    const kept = JSON.parse(localStorage.getItem(KEYS_KEY) || "null");
    return kept && Array.isArray(kept.jwks.keys) && kept.jwks.keys.length ? kept : null;
  } catch {
    return null;
  }
}

function showKeys() {
  const kept = keptKeys();
  door.dataset.keys = kept ? String(kept.jwks.keys.length) : "0";
}

async function refreshKeys() {
  try {
    const answer = await call("/v1/keys", { timeout: 10_000 });
    if (answer.ok && Array.isArray(answer.data.keys)) {
      localStorage.setItem(KEYS_KEY, JSON.stringify({ jwks: answer.data, fetched_at: Date.now() }));
    }
  } catch {
    // offline: keep the keys we have
  }
  showKeys();
}

async function showQueue() {
  let count = 0;
  try {
    count = (await queue.all()).length;
  } catch {
    count = 0;
  }
  $("#queue").textContent = count ? t("queued")(count) : "";
  door.dataset.queued = String(count);
}

// Send the queued offline scans; each stays queued until the service has answered for it.
async function upload() {
  if (uploading || !token) return;
  uploading = true;
  try {
    const waiting = await queue.all();
    for (let i = 0; i < waiting.length; i += UPLOAD_BATCH) {
      const batch = waiting.slice(i, i + UPLOAD_BATCH).map(({ scan_id, code, scanned_at }) => ({
        scan_id,
        code,
        scanned_at,
      }));
      const answer = await call("/v1/scans/offline", {
        method: "POST",
        body: { scans: batch },
        token,
        timeout: 15_000,
      });
      if (!answer.ok) break;
      // Recorded, already recorded, or refused for good: none is worth sending again.
      await queue.remove(answer.data.results.map((r) => r.scan_id));
    }
  } catch {
    // still offline: the next try sends them
  } finally {
    uploading = false;
    await showQueue();
  }
}

async function checkOffline(code, mine) {
  const kept = keptKeys();
  if (!kept) {
    display("down", { detail: t("down_no_keys"), stay: ERROR_MS });
    return;
  }
  const scannedAt = new Date();
  let verdict;
  try {
    verdict = await verifyOffline(code, kept.jwks, scannedAt.getTime());
  } catch (err) {
    if (!(err instanceof CodeRejected)) throw err;
    if (mine !== scans) return;
    const state = err.reason === "expired" ? "expired" : "refused";
    const why = t("offline_why")[err.reason] || err.message;
    display(state, { detail: `${why}\n${t("offline_refused")}`, stay: ERROR_MS });
    return;
  }
  if (mine !== scans) return;
  const age = Math.max(0, Math.round(verdict.ageSeconds));
  display("offline", { color: verdict.color, detail: t("offline_as_of")(age), stay: COLOUR_MS });
  await queue.add({
    scan_id: crypto.randomUUID(),
    code,
    scanned_at: scannedAt.toISOString(),
    venue: claims(token).sub || "",
  });
  await showQueue();
}

// --- a scan -------------------------------------------------------------------------------

async function scan(raw) {
  const value = raw.trim();
  if (!value) return;
  const mine = ++scans;
  const isId = ID_NUMBER.test(value);
  const pause = holding(isId);
  if (pause) {
    // The service asked for a pause because it is down: a code can still be checked here.
    if (!isId && pause.state === "down") await checkOffline(value, mine);
    else showHold(pause);
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
    if (isId) display("down", { detail: `${t("down")}\n${t("down_id")}`, stay: ERROR_MS });
    else await checkOffline(value, mine);
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
    if (door.dataset.queued && door.dataset.queued !== "0") upload();
    return;
  }
  const status = answer.status;
  if (status === 401 || status === 403) {
    display("token", { detail: `${answer.detail}\n${t("token")}` });
  } else if (status === 429) {
    hold(isId ? "id" : "all", "busy", answer.retryAfter ?? 1, answer.detail);
  } else if (status >= 500) {
    const detail = `${t("down")}\n${answer.detail}`;
    hold("all", "down", answer.retryAfter ?? 5, detail, { show: isId });
    if (!isId) await checkOffline(value, mine);
  } else if (status === 404) {
    display("unknown", { detail: answer.detail, stay: ERROR_MS });
  } else if (!isId && status === 422 && answer.problem && answer.problem.reason) {
    display(refusedCode(answer.problem), { detail: answer.detail, stay: ERROR_MS });
  } else {
    display(isId ? "invalid" : "refused", { detail: answer.detail, stay: ERROR_MS });
  }
}

// --- the camera ---------------------------------------------------------------------------

let camera = null;

async function toggleCamera() {
  const button = $("#camera-toggle");
  if (camera && camera.running) {
    camera.stop();
  } else {
    camera = camera || new Camera($("#video"), (text) => scan(text));
    try {
      await camera.start();
    } catch (err) {
      display("down", { detail: t("camera_failed")(err.message || err.name), stay: ERROR_MS });
    }
  }
  const on = Boolean(camera && camera.running);
  localStorage.setItem(CAMERA_KEY, on ? "on" : "off");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? t("camera_off") : t("camera_on");
  button.dataset.t = on ? "camera_off" : "camera_on";
}

let enrolCamera = null;

async function scanEnrolmentCode() {
  enrolCamera =
    enrolCamera ||
    new Camera($("#enrol-video"), (text) => {
      enrolCamera.stop();
      $("#enrol-code").value = text;
      enrol(text);
    });
  try {
    await enrolCamera.start();
  } catch (err) {
    setup(t("camera_failed")(err.message || err.name));
  }
}

// --- setting the device up ----------------------------------------------------------------

function start() {
  const who = claims(token);
  $("#venue").textContent = who.sub ? t("venue")(who.sub) : "";
  $("#setup").hidden = true;
  door.hidden = false;
  display("ready");
  input.focus();
  performance.mark("door-shown");
  showKeys();
  refreshKeys();
  showQueue().then(upload);
  keepShell();
  // A door that scans with the camera gets its QR reader ready before the first person, not
  // when the camera is turned on (ZXing is a 1 MB WebAssembly where the browser has no
  // BarcodeDetector). After the first paint, so the door shows no later for it.
  if (localStorage.getItem(CAMERA_KEY) === "on") {
    const ready = (decoder) => (door.dataset.reader = decoder.kind);
    requestAnimationFrame(() => setTimeout(() => prepareDecoder().then(ready, () => {}), 0));
  }
}

function setup(message) {
  door.hidden = true;
  $("#setup").hidden = false;
  const alert = $("#setup-alert");
  alert.textContent = message || "";
  alert.hidden = !message;
  $("#enrol-code").focus();
}

function keep(newToken) {
  token = newToken;
  localStorage.setItem(TOKEN_KEY, token);
  $("#token").value = "";
  $("#enrol-code").value = "";
  start();
}

async function enrol(code) {
  const button = $("#enrol-form button[type=submit]");
  button.disabled = true;
  const alert = $("#setup-alert");
  alert.textContent = t("enrolling");
  alert.hidden = false;
  try {
    const answer = await call("/v1/scanner/enrol", {
      method: "POST",
      body: { enrolment_code: code.trim() },
      lang,
    });
    if (answer.ok) keep(answer.data.token);
    else setup(answer.detail);
  } catch {
    setup(t("unreachable"));
  } finally {
    button.disabled = false;
  }
}

$("#enrol-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = $("#enrol-code").value.trim();
  if (code) enrol(code);
});
$("#enrol-camera").addEventListener("click", scanEnrolmentCode);

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = $("#token").value.trim().replace(/^Bearer\s+/i, "");
  if (!pasted) return;
  const role = claims(pasted).role;
  if (role && role !== "scanner") {
    setup(t("not_a_scanner"));
    return;
  }
  keep(pasted);
});

$("#scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = input.value;
  input.value = "";
  input.focus();
  scan(value);
});

$("#camera-toggle").addEventListener("click", toggleCamera);

$("#change-token").addEventListener("click", () => {
  scans += 1;
  token = "";
  localStorage.removeItem(TOKEN_KEY);
  if (camera) camera.stop();
  setup("");
});

// A tap anywhere on the door screen gives the field back to the QR reader.
door.addEventListener("click", (event) => {
  if (!event.target.closest("button")) input.focus();
});

window.addEventListener("online", () => {
  if (token) {
    refreshKeys();
    upload();
  }
});
setInterval(() => {
  if (!token) return;
  upload();
  const kept = keptKeys();
  if (!kept || Date.now() - kept.fetched_at > KEYS_REFRESH_MS) refreshKeys();
}, UPLOAD_EVERY_MS);

bindLangToggle((next) => {
  lang = next;
  applyText(TEXT, lang);
  if (token) $("#venue").textContent = claims(token).sub ? t("venue")(claims(token).sub) : "";
  showQueue();
});

applyText(TEXT, lang);
if (token) start();
else setup("");
