// The console's one page shell: load the module of the page this path names.
const PAGES = [
  [/^\/staff\/appeals\/[^/]+$/, "./staff-appeal.js"],
  [/^\/staff\/persons(\/[^/]+)?$/, "./staff-person.js"],
  [/^\/staff\/glance$/, "./staff-glance.js"],
  [/^\/staff\/areas$/, "./staff-areas.js"],
  [/^\/staff\/overrides$/, "./staff-overrides.js"],
  [/^\/staff\/audit$/, "./staff-audit.js"],
  [/^\/staff\/venues$/, "./staff-venues.js"],
];

const path = location.pathname.replace(/\/$/, "");
const found = PAGES.find(([pattern]) => pattern.test(path));
import(found ? found[1] : "./staff-queue.js");
