// Whether a path is the address a route's template names: its "{name}" is one segment.
// One text for the service worker and the console's script: codesvc/api/assets.py writes it
// into both (the worker is a classic script and cannot import it), so they match alike.
function routed(template, pathname) {
  const want = template.split("/");
  const got = pathname.split("/");
  return (
    want.length === got.length &&
    want.every((part, i) => (part.startsWith("{") ? got[i] !== "" : part === got[i]))
  );
}
