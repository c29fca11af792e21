// The citizen page's first step, loaded on its own (async) so that it runs as soon as this
// small file has arrived: take the token and ask for the code, while the rest of the page's
// script is still on its way. On a slow phone that saves a whole round trip (SPEC §9).
import { call, currentLang } from "./api.js";

export const TOKEN_KEY = "codesvc.citizen.token";

// #token=<JWT> from the city's app: kept for this tab's session, then taken out of the address
// so it is not in the history, a bookmark or a shared link. A fragment never reaches a server.
export function tokenFromFragment() {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!given) return "";
  sessionStorage.setItem(TOKEN_KEY, given.trim());
  history.replaceState(null, "", location.pathname + location.search);
  return given.trim();
}

export const firstToken = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY) || "";

// {answer} or {error}: settled either way, so an early failure is handled where it is awaited.
export const firstCode = firstToken
  ? call("/v1/me/code", { token: firstToken, lang: currentLang() }).then(
      (answer) => ({ answer }),
      (error) => ({ error }),
    )
  : null;
