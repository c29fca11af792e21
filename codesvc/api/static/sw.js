// The service worker: keeps the pages' shells on the device, so a page opened before opens
// with no network but its one API call, and a door keeps scanning when the network goes.
// The service fills in the version and the file lists when it starts (codesvc/api/assets.py):
// a new release is a new worker, which fetches the new files and drops the old ones.

const VERSION = "__VERSION__";
// Page addresses served from the cache (query and fragment ignored).
const PAGES = ["__PAGES__"];
// Fetched when the worker installs: the pages and every file they load at start.
const PRECACHE = ["__PRECACHE__"];
const CACHE = `codesvc-${VERSION}`;
// Fingerprinted files never change under their name: the first copy is good for ever.
const FINGERPRINTED = /^\/static\/[^/]+\.[0-9a-f]{10}\.[a-z]+$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // "no-cache": the pages from the service itself, not an older copy in the HTTP cache.
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith("codesvc-") && n !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

async function fromCache(request, key) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && FINGERPRINTED.test(new URL(request.url).pathname)) {
    await cache.put(key, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && PAGES.includes(url.pathname)) {
    event.respondWith(fromCache(request, url.pathname));
  } else if (FINGERPRINTED.test(url.pathname)) {
    event.respondWith(fromCache(request, url.pathname));
  }
  // Everything else, the API above all, goes to the network untouched.
});
