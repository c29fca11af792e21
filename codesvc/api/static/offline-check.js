// Checking a code at a door with no network: the ES256 signature against the keys the door
// kept from /v1/keys, with WebCrypto. The same checks, in the same order, with the same
// reasons as codesvc.codes.verify_offline; tests/test_offline_check.py holds them to it.

const ALGORITHM = "ES256";
const COLORS = ["green", "yellow", "red"];

export class CodeRejected extends Error {
  // reason: malformed, forged, expired or unknown_key
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

function unb64(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Error("not base64url");
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "="));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

function json(bytes) {
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// {color, asOf (ms), ageSeconds, expiresAt (ms), kid} or a thrown CodeRejected.
export async function verifyOffline(code, jwks, now = Date.now()) {
  const malformed = (why) => new CodeRejected("malformed", `This is not a health code${why}.`);
  const parts = typeof code === "string" ? code.split(".") : [];
  if (parts.length !== 3) throw malformed("");
  let header;
  try {
    header = json(unb64(parts[0]));
  } catch {
    throw malformed("");
  }
  if (!isObject(header)) throw malformed("");
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== "string") throw malformed(": its key id is not text");
  if (header.alg !== ALGORITHM) {
    throw new CodeRejected("forged", `The code is signed with ${JSON.stringify(header.alg)}, not ES256.`);
  }
  const jwk = ((jwks && jwks.keys) || []).find((k) => k.kid === kid);
  if (!jwk) {
    throw new CodeRejected(
      "unknown_key",
      `The code is signed by key ${JSON.stringify(kid)}, which is not in this door's key set.`,
    );
  }
  let payload;
  let signature;
  try {
    payload = unb64(parts[1]);
    signature = unb64(parts[2]);
  } catch {
    throw malformed("");
  }
  let key;
  try {
    key = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
  } catch {
    throw new CodeRejected("unknown_key", `Key ${JSON.stringify(kid)} in this door's key set is broken.`);
  }
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const good =
    signature.length === 64 &&
    (await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signed));
  if (!good) throw new CodeRejected("forged", "The code's signature does not verify: it was altered.");
  let claims;
  try {
    claims = json(payload);
  } catch {
    throw malformed("");
  }
  if (!isObject(claims) || !("exp" in claims) || !("at" in claims) || !("ref" in claims)) {
    throw malformed(": it lacks its colour's time or expiry");
  }
  const { color, at, exp } = claims;
  if (!COLORS.includes(color) || !Number.isInteger(at) || !Number.isInteger(exp)) {
    throw malformed(": it does not carry a colour and its time");
  }
  if (now / 1000 >= exp) {
    throw new CodeRejected("expired", "This code has expired; ask the person to refresh it and scan again.");
  }
  return { color, asOf: at * 1000, ageSeconds: (now - at * 1000) / 1000, expiresAt: exp * 1000, kid };
}
