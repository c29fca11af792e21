// What every console page shares: sign-in, the bar with its navigation, calls made with
// the session cookie (and its CSRF token for changes), words in both languages (the shared
// ones are in staff-words.js), and small builders for the DOM. A page module calls
// start({ text, title, render }).
import {
  COLORS,
  DISTRICTS,
  Unreachable,
  answered,
  bindLangToggle,
  call,
  colorChip,
  currentLang,
  formatTime,
  keepShell,
  retryKey,
} from "./common.js";
import { SHARED } from "./staff-words.js";

export { COLORS, DISTRICTS, colorChip };

let page = null;
let session = null;
// Milliseconds the service's clock is ahead of this one (from each answer's Date header).
let skew = 0;

export function lang() {
  return currentLang();
}

export function me() {
  return session;
}

export function serverNow() {
  return Date.now() + skew;
}

// A word of the page's own table, else the shared one; functions are called with args.
export function t(key, ...args) {
  const l = lang();
  const own = page && page.text ? page.text[l][key] : undefined;
  const value = own !== undefined ? own : SHARED[l][key];
  if (typeof value === "function") return value(...args);
  return value === undefined ? key : value;
}

export function words(table, key) {
  const value = SHARED[lang()][table][key];
  return value === undefined ? key : value;
}

export function districtName(code, l = lang()) {
  const names = DISTRICTS[code];
  if (!names) return code || "";
  return l === "en" ? `${names[1]} (${code})` : `${names[0]}（${code}）`;
}

export function time(iso) {
  return formatTime(iso, lang());
}

// "3 h 20 min left" / "overdue by 1 h 5 min" until `iso`, by the service's clock.
export function timeLeft(iso) {
  const ms = Date.parse(iso) - serverNow();
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const hours = Math.floor(minutes / 60);
  const span =
    hours >= 48 ? t("days", Math.floor(hours / 24), hours % 24) : t("hours", hours, minutes % 60);
  return { overdue: ms < 0, text: ms < 0 ? t("overdue_by", span) : t("left", span) };
}

export function describeCause(cause) {
  if (!cause) return "";
  const [kind, ...rest] = cause.split(":");
  const ref = rest.join(":");
  if (/^R[1-8]$/.test(kind)) return `${words("rules", kind)} (${kind})`;
  const value = SHARED[lang()].cause[kind];
  if (typeof value === "function") return value(kind === "event" ? ref.slice(0, 8) : ref);
  return typeof value === "string" ? value : cause;
}

// h("p", {class: "x", onclick: f}, "text", child): an element; never parses HTML.
// A table that scrolls sideways on a narrow screen rather than widening the page; the
// region takes the keyboard's focus, so it can be scrolled without a mouse.
export function tableWrap(label, table, extraClass = "") {
  const attrs = { class: `table-wrap ${extraClass}`.trim(), tabindex: "0", role: "region" };
  return h("div", { ...attrs, "aria-label": label }, table);
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export class SignedOut extends Error {}

// A click whose request found the session ended has already put the sign-in form up
// (and an unreachable service a notice): nothing more to report.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof SignedOut || event.reason instanceof Unreachable) {
    event.preventDefault();
  }
});

// Call the API with the session cookie; a change carries the CSRF token. An ended
// session puts the sign-in form up with the service's words for why. `retry` names what a
// creating request creates: sent again after no answer, it carries the same Idempotency-Key.
export async function api(path, { method = "GET", body, retry } = {}) {
  let answer;
  try {
    answer = await call(path, {
      method,
      body,
      lang: lang(),
      session: true,
      csrf: method === "GET" ? undefined : session && session.csrf_token,
      idempotencyKey: retry ? retryKey(retry, body) : undefined,
    });
  } catch (err) {
    if (err instanceof Unreachable) notice(t("unreachable"));
    throw err;
  }
  if (retry) answered(retry);
  if (answer.serverDate) skew = answer.serverDate - Date.now();
  if (answer.status === 401 && path !== "/v1/session") {
    session = null;
    signIn(answer.detail);
    throw new SignedOut(answer.detail);
  }
  return answer;
}

// A message at the top of the page (role=alert), or none.
export function notice(text) {
  const box = document.querySelector("#notice");
  if (!box) return;
  box.textContent = text || "";
  box.hidden = !text;
}

function navigation() {
  const links = [
    ["/staff", "queue"],
    ["/staff/persons", "person"],
    ["/staff/glance", "glance"],
  ];
  if (session && session.role === "commission") {
    links.push(
      ["/staff/areas", "areas"],
      ["/staff/overrides", "overrides"],
      ["/staff/audit", "audit"],
      ["/staff/venues", "venues"],
    );
  }
  const here = location.pathname.replace(/\/$/, "");
  return h(
    "nav",
    { class: "console-nav", "aria-label": t("nav") },
    h(
      "ul",
      {},
      links.map(([href, key]) => {
        const current =
          here === href || (href !== "/staff" && here.startsWith(`${href}/`)) ? "page" : null;
        return h("li", {}, h("a", { href, "aria-current": current }, t(key)));
      }),
    ),
  );
}

function renderBar() {
  const bar = document.querySelector("#bar");
  const who = session
    ? h(
        "span",
        { class: "who", id: "who" },
        `${session.name} · ${session.sub} · `,
        session.district ? districtName(session.district) : t("commission"),
      )
    : null;
  const signOut = session
    ? h("button", { type: "button", id: "sign-out", class: "secondary", onclick: doSignOut }, t("sign_out"))
    : null;
  const toggle = h(
    "button",
    { type: "button", class: "lang", "data-lang-toggle": true, lang: lang() === "en" ? "zh-CN" : "en" },
    lang() === "en" ? "中文" : "English",
  );
  bar.replaceChildren(
    h("a", { class: "skip", href: "#main" }, t("skip")),
    h("div", { class: "bar-top" }, h("strong", { class: "brand" }, t("console")), who, signOut, toggle),
    session ? navigation() : "",
  );
  bindLangToggle(() => {
    document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
    renderBar();
    show();
  });
}

async function doSignOut() {
  try {
    await api("/v1/session", { method: "DELETE" });
  } catch {
    return;
  }
  session = null;
  signIn(t("signed_out"));
}

function signIn(message) {
  renderBar();
  const main = document.querySelector("#main");
  const status = h("p", { id: "sign-in-message", class: "alert", role: "alert", hidden: !message }, message || "");
  const form = h(
    "form",
    { id: "sign-in", class: "card narrow", novalidate: true },
    h("h1", {}, t("sign_in_title")),
    h("p", { class: "hint" }, t("sign_in_hint")),
    status,
    h("label", { for: "sign-in-sub" }, t("sub")),
    h("input", { id: "sign-in-sub", name: "sub", autocomplete: "username", required: true, autocapitalize: "off", spellcheck: "false" }),
    h("label", { for: "sign-in-password" }, t("password")),
    h("input", { id: "sign-in-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("label", { for: "sign-in-otp" }, t("otp")),
    h("input", { id: "sign-in-otp", name: "otp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", "aria-describedby": "sign-in-otp-hint" }),
    h("p", { class: "hint", id: "sign-in-otp-hint" }, t("otp_hint")),
    h("button", { type: "submit" }, t("sign_in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    delete status.dataset.status;
    button.disabled = true;
    button.textContent = t("signing_in");
    const otp = form.otp.value.trim();
    let answer;
    try {
      answer = await call("/v1/session", {
        method: "POST",
        body: { sub: form.sub.value.trim(), password: form.password.value, ...(otp ? { otp } : {}) },
        lang: lang(),
        session: true,
      });
    } catch {
      answer = { ok: false, detail: t("unreachable"), problem: null };
    }
    button.disabled = false;
    button.textContent = t("sign_in");
    if (!answer.ok) {
      status.textContent = answer.detail;
      status.hidden = false;
      status.dataset.status = String(answer.status || "");
      form.password.value = "";
      const needsCode = answer.problem && answer.problem.otp_required;
      (needsCode ? form.otp : form.password).focus();
      return;
    }
    session = answer.data;
    renderBar();
    show();
  });
  main.replaceChildren(form);
  form.sub.focus();
}

async function show() {
  const main = document.querySelector("#main");
  notice("");
  main.replaceChildren(h("p", { class: "loading" }, t("loading")));
  try {
    await page.render(main);
  } catch (err) {
    if (err instanceof SignedOut || err instanceof Unreachable) return;
    throw err;
  }
}

// A page: { text: {zh, en}, render(main) }. Signs in first when there is no session.
export async function start(definition) {
  page = definition;
  document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
  let answer;
  try {
    answer = await call("/v1/session", { lang: lang(), session: true });
  } catch {
    renderBar();
    notice(t("unreachable"));
    return;
  }
  if (answer.ok) {
    session = answer.data;
    renderBar();
    await show();
  } else {
    signIn(answer.problem && answer.problem.session_ended ? answer.detail : null);
  }
  // The console's files are kept on this device from now on (after the page is up).
  keepShell();
}

// "Not found" as a page: the service says so, and the officer has a way back.
export function notFound(main, detail) {
  main.replaceChildren(
    h(
      "section",
      { id: "not-found", class: "card" },
      h("h1", {}, t("not_found")),
      h("p", {}, detail),
      h("p", {}, h("a", { href: "/staff" }, t("back_to_queue"))),
    ),
  );
}

// A colour with its word in the page's language and its sign (never colour alone).
export function colorBadge(color) {
  const names = COLORS[color] || { zh: color, en: color, sign: "?" };
  return h(
    "span",
    { class: `badge c-${color}`, dataset: { color } },
    h("span", { "aria-hidden": "true" }, names.sign),
    ` ${lang() === "en" ? names.en : names.zh}`,
  );
}

// A history list: newest first; superseded rows struck through with what replaced them.
export function historyList(intervals, id) {
  const ordered = [...intervals].sort(
    (a, b) =>
      Date.parse(b.from) - Date.parse(a.from) ||
      Number(Boolean(a.superseded_at)) - Number(Boolean(b.superseded_at)),
  );
  return h(
    "ol",
    { class: "history", id },
    ordered.map((i) => {
      const line = [colorBadge(i.color), ` ${time(i.from)} – ${i.to ? time(i.to) : t("now")} · ${describeCause(i.cause)}`];
      return h(
        "li",
        { class: i.superseded_at ? "superseded" : "current", dataset: { color: i.color } },
        i.superseded_at ? h("del", {}, line) : h("span", {}, line),
        i.superseded_at
          ? h("p", { class: "superseded-by" }, t("superseded", time(i.superseded_at), describeCause(i.superseded_by)))
          : null,
      );
    }),
  );
}

// Reasons for a colour, in the words the service wrote for them.
export function reasonList(reasons, id) {
  return h(
    "ul",
    { class: "reasons", id },
    reasons.map((r) => h("li", { dataset: { rule: r.rule } }, colorBadge(r.color), ` ${r.rule} · ${r.text}`)),
  );
}
