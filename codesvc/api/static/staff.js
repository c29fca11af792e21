// The console's one page shell: load the module of the page this path names. Each page is
// an import() of its own, so the service knows them all (codesvc/api/assets.py) and keeps
// them with the shell on the device.
const PAGES = [
  [/^\/staff\/appeals\/[^/]+$/, () => import("./staff-appeal.js")],
  [/^\/staff\/persons(\/[^/]+)?$/, () => import("./staff-person.js")],
  [/^\/staff\/glance$/, () => import("./staff-glance.js")],
  [/^\/staff\/areas$/, () => import("./staff-areas.js")],
  [/^\/staff\/overrides$/, () => import("./staff-overrides.js")],
  [/^\/staff\/audit$/, () => import("./staff-audit.js")],
  [/^\/staff\/venues$/, () => import("./staff-venues.js")],
];

const path = location.pathname.replace(/\/$/, "");
const found = PAGES.find(([pattern]) => pattern.test(path));
(found ? found[1] : () => import("./staff-queue.js"))();
