// The audit of a person (commission): who read or changed their data, when, and whether
// those entries still match the hash chain.
import { api, h, me, notFound, start, t, tableWrap, time } from "./staff-common.js";

const TEXT = {
  zh: {
    title: "人员审计记录",
    person_ref: "人员编号（p_…）",
    show: "查看",
    intact: (n, head) => `链完整：此人的 ${n} 条记录与哈希链一致（链头序号 ${head}）。`,
    broken: "链已损坏：",
    seq: "序号",
    at: "时间",
    actor: "操作人",
    action: "操作",
    detail: "详情",
    hash: "哈希",
    none: "没有记录。",
    only_commission: "此页面仅供市卫健委委员使用。",
  },
  en: {
    title: "The audit of a person",
    person_ref: "Person reference (p_…)",
    show: "Show",
    intact: (n, head) => `Intact: this person's ${n} entries match the hash chain (head at ${head}).`,
    broken: "The chain is broken:",
    seq: "Seq",
    at: "At",
    actor: "Who",
    action: "Action",
    detail: "Detail",
    hash: "Hash",
    none: "No entries.",
    only_commission: "This page is for commission members.",
  },
};

const params = new URLSearchParams(location.search);

async function render(main) {
  if (me().role !== "commission") {
    notFound(main, t("only_commission"));
    return;
  }
  const ref = params.get("person_ref") || "";
  const form = h(
    "form",
    { class: "card row", method: "get", action: "/staff/audit" },
    h("div", {}, h("label", { for: "audit-person" }, t("person_ref")), h("input", { id: "audit-person", name: "person_ref", value: ref, required: true })),
    h("button", { type: "submit" }, t("show")),
  );
  if (!ref) {
    main.replaceChildren(h("h1", {}, t("title")), form);
    return;
  }
  const q = encodeURIComponent(ref);
  const [entries, check] = await Promise.all([api(`/v1/audit?person_ref=${q}&limit=1000`), api(`/v1/audit/verify?person_ref=${q}`)]);
  if (!entries.ok) {
    main.replaceChildren(h("h1", {}, t("title")), form, h("p", { class: "alert", role: "alert" }, entries.detail));
    return;
  }
  const state = check.ok
    ? check.data.intact
      ? h("p", { class: "alert", id: "chain-state", dataset: { intact: "true" } }, t("intact", check.data.entries, check.data.head_seq))
      : h("div", { class: "alert late", id: "chain-state", dataset: { intact: "false" } }, t("broken"), h("ul", {}, check.data.problems.map((p) => h("li", {}, p))))
    : h("p", { class: "alert" }, check.detail);
  const list = entries.data.entries;
  main.replaceChildren(
    h("h1", {}, `${t("title")} · ${ref}`),
    form,
    state,
    list.length
      ? tableWrap(
          t("title"),
          h(
            "table",
            { id: "audit" },
            h("thead", {}, h("tr", {}, [t("seq"), t("at"), t("actor"), t("action"), t("detail"), t("hash")].map((x) => h("th", { scope: "col" }, x)))),
            h(
              "tbody",
              {},
              list.map((e) =>
                h(
                  "tr",
                  { dataset: { seq: String(e.seq) } },
                  h("td", { class: "num" }, String(e.seq)),
                  h("td", {}, time(e.at)),
                  h("td", {}, `${e.actor_role}:${e.actor_sub}`),
                  h("td", {}, e.action, e.subject ? ` (${e.subject})` : ""),
                  h("td", {}, Object.entries(e.detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ")),
                  h("td", { title: e.hash }, h("code", {}, e.hash.slice(0, 12))),
                ),
              ),
            ),
          ),
          "card",
        )
      : h("p", { class: "hint" }, t("none")),
  );
}

start({ text: TEXT, render });
