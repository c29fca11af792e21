// The console's one page shell: show the view its address names. The addresses are the
// service's own table of console routes (console-paths.js, generated from it); each view is
// an import() of its own, so the service knows them all (codesvc/api/assets.py) and keeps
// them with the shell on the device.
import { PATHS, routed } from "./console-paths.js";

const person = () => import("./staff-person.js");
const VIEWS = {
  queue: () => import("./staff-queue.js"),
  appeal: () => import("./staff-appeal.js"),
  persons: person,
  person,
  glance: () => import("./staff-glance.js"),
  areas: () => import("./staff-areas.js"),
  overrides: () => import("./staff-overrides.js"),
  audit: () => import("./staff-audit.js"),
  venues: () => import("./staff-venues.js"),
};

// The service and its worker serve this page at these addresses only.
const found = PATHS.find(([template]) => routed(template, location.pathname));
if (!found) throw new Error(`${location.pathname} is not a console address`);
VIEWS[found[1]]();
