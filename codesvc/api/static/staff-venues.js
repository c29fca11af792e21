// Venues (commission): refuse every token of a venue at once, in every instance, or accept
// it again.
import { api, h, me, notFound, start, t, tableWrap, time } from "./staff-common.js";

const TEXT = {
  zh: {
    title: "场所扫码设备",
    revoke: "停用场所",
    venue: "场所编号",
    reason: "原因",
    submit: "停用",
    revoked: "已停用的场所",
    none: "没有停用的场所。",
    by: "停用人",
    at: "时间",
    act: "操作",
    reinstate: "恢复",
    reinstate_label: (v) => `恢复场所 ${v}`,
    only_commission: "此页面仅供市卫健委委员使用。",
  },
  en: {
    title: "Venue scanners",
    revoke: "Revoke a venue",
    venue: "Venue id",
    reason: "Reason",
    submit: "Revoke",
    revoked: "Revoked venues",
    none: "No venue is revoked.",
    by: "By",
    at: "At",
    act: "Action",
    reinstate: "Reinstate",
    reinstate_label: (v) => `Reinstate venue ${v}`,
    only_commission: "This page is for commission members.",
  },
};

async function render(main) {
  if (me().role !== "commission") {
    notFound(main, t("only_commission"));
    return;
  }
  const found = await api("/v1/venues");
  const result = h("p", { role: "status", class: "result" });
  const form = h(
    "form",
    { id: "revoke-form", class: "card row" },
    h("div", {}, h("label", { for: "revoke-venue" }, t("venue")), h("input", { id: "revoke-venue", name: "venue", required: true })),
    h("div", {}, h("label", { for: "revoke-reason" }, t("reason")), h("input", { id: "revoke-reason", name: "reason", required: true, maxlength: "500" })),
    h("button", { type: "submit", class: "danger" }, t("submit")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await api(`/v1/venues/${encodeURIComponent(form.venue.value.trim())}/revoke`, {
      method: "POST",
      body: { reason: form.reason.value },
    });
    if (answer.ok) render(main);
    else result.textContent = answer.detail;
  });
  const rows = found.ok ? found.data.revoked : [];
  main.replaceChildren(
    h("h1", {}, t("title")),
    h("h2", {}, t("revoke")),
    form,
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("revoked")),
      rows.length
        ? tableWrap(
            t("revoked"),
            h(
            "table",
            { id: "revoked" },
            h("thead", {}, h("tr", {}, [t("venue"), t("reason"), t("by"), t("at"), t("act")].map((x) => h("th", { scope: "col" }, x)))),
            h(
              "tbody",
              {},
              rows.map((r) => {
                const button = h("button", { type: "button", class: "secondary", "aria-label": t("reinstate_label", r.venue) }, t("reinstate"));
                button.addEventListener("click", async () => {
                  const answer = await api(`/v1/venues/${encodeURIComponent(r.venue)}/reinstate`, { method: "POST" });
                  if (answer.ok) render(main);
                  else result.textContent = answer.detail;
                });
                return h("tr", { dataset: { venue: r.venue } }, h("td", {}, r.venue), h("td", {}, r.reason), h("td", {}, r.revoked_by), h("td", {}, time(r.revoked_at)), h("td", {}, button));
              }),
            ),
            ),
          )
        : h("p", { class: "hint" }, t("none")),
    ),
  );
}

start({ text: TEXT, render });
