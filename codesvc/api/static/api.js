// Calls to this service's JSON API, and the reader's language they ask for. Small and with no
// imports, so a page can send its first request before the rest of its script has arrived.

export const LANG_KEY = "codesvc.lang";

export function currentLang() {
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
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

// Idempotency keys of creating requests, one per thing being created (`scope`): the same
// key while the same request is sent again after no answer came, so the service answers
// the one it already made; a new key once an answer has come, or for a changed request.
const pendingKeys = new Map();

export function retryKey(scope, body) {
  const sent = JSON.stringify(body);
  const known = pendingKeys.get(scope);
  if (known && known.sent === sent) return known.key;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const key = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  pendingKeys.set(scope, { sent, key });
  return key;
}

// An answer came for `scope`: its next request is a new one.
export function answered(scope) {
  pendingKeys.delete(scope);
}

// Call this service's JSON API. Only paths of this origin are allowed, so a token pasted
// into a page is sent nowhere else (the Content-Security-Policy says the same).
// Resolves {ok, status, data, detail, problem, retryAfter, serverDate};
// rejects with Unreachable on a network error or after `timeout` milliseconds.
// `session`: send this origin's session cookie (the staff console); `csrf`: its token,
// which every change made with the cookie must carry; `idempotencyKey`: the same on every
// retry of one creating request, so a retry after a lost answer creates nothing twice.
export async function call(
  path,
  { token, method = "GET", body, lang, timeout = 10000, session = false, csrf, idempotencyKey } = {},
) {
  if (!path.startsWith("/v1/")) throw new Error(`not an API path: ${path}`);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  // Problems come back in the page's language, not the browser's.
  const reader = lang || document.documentElement.lang || "zh-CN";
  headers["Accept-Language"] = reader.startsWith("en") ? "en" : "zh-CN";
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
      credentials: session ? "same-origin" : "omit",
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

