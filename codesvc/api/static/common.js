// What every page shares: the language toggle, calls to this service, colour words, times.

const LANG_KEY = "codesvc.lang";
// Times are shown in the city's zone, whatever zone the phone is in (SPEC §3).
const CITY_ZONE = "Asia/Shanghai";

// A colour is never shown by hue alone: always its word in both languages and a sign.
export const COLORS = {
  green: { zh: "绿码", en: "green", sign: "✓" },
  yellow: { zh: "黄码", en: "yellow", sign: "!" },
  red: { zh: "红码", en: "red", sign: "✕" },
};

export function currentLang() {
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
}

// Fill every [data-t] element from texts[lang] and point the toggle at the other language.
export function applyText(texts, lang) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of document.querySelectorAll("[data-t]")) {
    const text = texts[lang][el.dataset.t];
    if (typeof text === "string") el.textContent = text;
  }
  for (const button of document.querySelectorAll("[data-lang-toggle]")) {
    button.textContent = lang === "en" ? "中文" : "English";
    button.lang = lang === "en" ? "zh-CN" : "en";
  }
}

// Wire the toggle: remember the choice and tell the page, which re-renders.
export function bindLangToggle(onChange) {
  for (const button of document.querySelectorAll("[data-lang-toggle]")) {
    button.addEventListener("click", () => {
      const next = currentLang() === "en" ? "zh" : "en";
      localStorage.setItem(LANG_KEY, next);
      onChange(next);
    });
  }
}

// The service could not be reached in time: the network, the server, or a hang.
export class Unreachable extends Error {}

// Seconds from a Retry-After header (seconds or an HTTP date); null when absent.
function retryAfter(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

// Call this service's JSON API. Only paths of this origin are allowed, so a token pasted
// into a page is sent nowhere else (the Content-Security-Policy says the same).
// Resolves {ok, status, data, detail, problem, retryAfter, serverDate};
// rejects with Unreachable on a network error or after `timeout` milliseconds.
export async function call(path, { token, method = "GET", body, lang, timeout = 10000 } = {}) {
  if (!path.startsWith("/v1/")) throw new Error(`not an API path: ${path}`);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (lang) headers["Accept-Language"] = lang === "en" ? "en" : "zh-CN";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  let text;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
    text = await response.text();
  } catch (err) {
    throw new Unreachable(err && err.name === "AbortError" ? "timed out" : String(err));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const ok = response.ok;
  const problem = ok ? null : data;
  const detail =
    problem && typeof problem.detail === "string"
      ? problem.detail
      : `HTTP ${response.status} ${response.statusText}`.trim();
  const date = Date.parse(response.headers.get("Date") || "");
  return {
    ok,
    status: response.status,
    data: ok ? data : null,
    problem,
    detail,
    retryAfter: retryAfter(response),
    serverDate: Number.isNaN(date) ? null : date,
  };
}

// "2月8日 10:00" / "8 Feb 10:00", in the city's zone; the year only when it is not this one.
export function formatTime(iso, lang) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const parts = (d, month) =>
    Object.fromEntries(
      new Intl.DateTimeFormat("en-GB", {
        timeZone: CITY_ZONE,
        year: "numeric",
        month,
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      })
        .formatToParts(d)
        .map((part) => [part.type, part.value]),
    );
  const p = parts(when, lang === "en" ? "short" : "numeric");
  const year = p.year === parts(new Date(), "numeric").year ? "" : p.year;
  if (lang === "en") return `${p.day} ${p.month}${year ? ` ${year}` : ""} ${p.hour}:${p.minute}`;
  return `${year ? `${year}年` : ""}${p.month}月${p.day}日 ${p.hour}:${p.minute}`;
}

// A colour chip: sign, Chinese word, English word (used in lists).
export function colorChip(color) {
  const words = COLORS[color];
  const chip = document.createElement("span");
  chip.className = `chip c-${color}`;
  chip.dataset.color = color;
  const sign = document.createElement("span");
  sign.className = "sign";
  sign.setAttribute("aria-hidden", "true");
  sign.textContent = words ? words.sign : "?";
  const zh = document.createElement("span");
  zh.lang = "zh-CN";
  zh.textContent = words ? words.zh : color;
  const en = document.createElement("span");
  en.lang = "en";
  en.textContent = words ? words.en : "";
  chip.append(sign, zh, " ", en);
  return chip;
}
