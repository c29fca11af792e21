// The service worker: keeps the pages' shells on the device, so a page opened before opens
// with no network but its one API call, and a door keeps scanning when the network goes.
// The service fills in the version and the shells when it starts (codesvc/api/assets.py):
// a new release is a new worker, which fetches the new files and drops the old ones.

const VERSION = "__VERSION__";
// Each shell: its page addresses, every file they load at start, and whether it is fetched
// when the worker installs ("eager": the public pages) or when one of its pages is first open
// (the staff console, which no citizen's phone needs).
const SHELLS = {"__SHELLS__": 0};
// The console's addresses as the service routes them ("/staff/appeals/{appeal_id}", from its
// one table of them), each served the one console page (its script picks the view). Any
// other address under /staff goes to the service, so a mistyped one shows the service's 404.
const CONSOLE = {"__CONSOLE__": 0};
const CACHE = `codesvc-${VERSION}`;
// Fingerprinted files never change under their name: the first copy is good for ever.
const FINGERPRINTED = /^\/static\/[^/]+\.[0-9a-f]{10}\.[a-z]+$/;

// routed(template, pathname), from route-match.js (written in here by the service).
/* __ROUTED__ */

// The shell a page address belongs to and the address its page is kept under, or null.
function shellOf(pathname) {
  const page = CONSOLE.paths.some((path) => routed(path, pathname)) ? CONSOLE.page : pathname;
  const name = Object.keys(SHELLS).find((n) => SHELLS[n].pages.includes(page));
  return name ? { name, page } : null;
}

async function keep(name) {
  const cache = await caches.open(CACHE);
  // "no-cache": the files from the service itself, not an older copy in the HTTP cache.
  await cache.addAll(SHELLS[name].files.map((url) => new Request(url, { cache: "no-cache" })));
}

async function keepIfMissing(name) {
  const cache = await caches.open(CACHE);
  if (!(await cache.match(SHELLS[name].pages[0]))) await keep(name);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      // The eager shells, and the shell of any page open now (the one that registered us).
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const wanted = new Set(Object.keys(SHELLS).filter((n) => SHELLS[n].eager));
      for (const client of open) {
        const found = shellOf(new URL(client.url).pathname);
        if (found) wanted.add(found.name);
      }
      await Promise.all([...wanted].map(keep));
      await self.skipWaiting();
    })(),
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
  const shell = request.mode === "navigate" ? shellOf(url.pathname) : null;
  if (shell) {
    event.respondWith(fromCache(request, shell.page));
    // A shell first opened after the worker installed is kept from now on.
    event.waitUntil(keepIfMissing(shell.name).catch(() => {}));
  } else if (FINGERPRINTED.test(url.pathname)) {
    event.respondWith(fromCache(request, url.pathname));
  }
  // Everything else, the API above all, goes to the network untouched.
});
