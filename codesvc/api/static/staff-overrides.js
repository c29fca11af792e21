// Overrides under the four-eyes rule: propose a colour with a reason; a different member
// approves or rejects it. The proposer is offered no button for their own proposal (and
// the service refuses it anyway).
import { api, colorBadge, h, me, notFound, start, t, tableWrap, time } from "./staff-common.js";

const TEXT = {
  zh: {
    title: "人工设定颜色",
    rule: "任何人都不能独自改变一个人的颜色：一名委员提出，另一名委员批准后才生效，理由对申诉人可见。",
    propose: "提出人工设定",
    person_ref: "人员编号（p_…）",
    color: "颜色",
    reason: "理由（申诉人和批准的委员都能看到）",
    until: "截止时间（上海时间，可不填）",
    submit: "提出",
    proposed: (id) => `已提出 ${id}，等待另一名委员批准。`,
    pending: "等待批准的提议",
    none_pending: "没有等待批准的提议。",
    decided: "最近的决定",
    none_decided: "还没有决定。",
    who: "提出人",
    when: "提出时间",
    act: "操作",
    approve: "批准",
    approve_label: (id) => `批准 ${id}`,
    reject: "驳回",
    reject_label: (id) => `驳回 ${id}`,
    reject_reason: (id) => `驳回 ${id} 的理由`,
    yours: "您提出的：需由另一名委员决定",
    approved_by: (who, at) => `${who} 于 ${at} 批准`,
    rejected_by: (who, at, why) => `${who} 于 ${at} 驳回：${why}`,
    open_ended: "不限期",
    only_commission: "此页面仅供市卫健委委员使用。",
    colors: { green: "绿码", yellow: "黄码", red: "红码" },
  },
  en: {
    title: "Colours set by hand",
    rule: "Nobody changes a person's colour alone: one member proposes, a different member approves, and the reason is shown to the citizen.",
    propose: "Propose an override",
    person_ref: "Person reference (p_…)",
    color: "Colour",
    reason: "Reason (seen by the citizen and by the approving member)",
    until: "Until (Shanghai time, optional)",
    submit: "Propose",
    proposed: (id) => `Proposed ${id}; awaiting another member's approval.`,
    pending: "Proposals awaiting a decision",
    none_pending: "No proposals await a decision.",
    decided: "Recent decisions",
    none_decided: "No decisions yet.",
    who: "Proposed by",
    when: "Proposed at",
    act: "Action",
    approve: "Approve",
    approve_label: (id) => `Approve ${id}`,
    reject: "Reject",
    reject_label: (id) => `Reject ${id}`,
    reject_reason: (id) => `Why ${id} is rejected`,
    yours: "Yours: another member decides",
    approved_by: (who, at) => `approved by ${who} at ${at}`,
    rejected_by: (who, at, why) => `rejected by ${who} at ${at}: ${why}`,
    open_ended: "open-ended",
    only_commission: "This page is for commission members.",
    colors: { green: "green", yellow: "yellow", red: "red" },
  },
};

function proposeForm(reload) {
  const result = h("p", { role: "status", class: "result", id: "propose-result" });
  const form = h(
    "form",
    { id: "propose-form", class: "card" },
    h("h2", {}, t("propose")),
    h("label", { for: "propose-person" }, t("person_ref")),
    h("input", { id: "propose-person", name: "person_ref", required: true, autocomplete: "off" }),
    h("label", { for: "propose-color" }, t("color")),
    h("select", { id: "propose-color", name: "color" }, ["red", "yellow", "green"].map((c) => h("option", { value: c }, t("colors")[c]))),
    h("label", { for: "propose-reason" }, t("reason")),
    h("textarea", { id: "propose-reason", name: "reason", rows: "2", maxlength: "500", required: true }),
    h("label", { for: "propose-until" }, t("until")),
    h("input", { id: "propose-until", name: "until", type: "datetime-local" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("submit"))),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { person_ref: form.person_ref.value.trim(), color: form.color.value, reason: form.reason.value };
    if (form.until.value) body.until = `${form.until.value}:00+08:00`;
    const answer = await api("/v1/overrides", { method: "POST", body, retry: "override" });
    if (answer.ok) await reload(t("proposed", answer.data.override_id));
    else result.textContent = answer.detail;
  });
  return form;
}

function pendingRow(p, reload) {
  const mine = p.proposed_by === me().sub;
  const cell = h("td", {});
  if (mine) {
    cell.append(h("span", { class: "hint", dataset: { own: "true" } }, t("yours")));
  } else {
    const reasonId = `reject-reason-${p.override_id}`;
    const status = h("p", { role: "status", class: "result" });
    const approve = h("button", { type: "button", "aria-label": t("approve_label", p.override_id), dataset: { action: "approve" } }, t("approve"));
    const reason = h("input", { id: reasonId, "aria-label": t("reject_reason", p.override_id), maxlength: "500" });
    const reject = h("button", { type: "button", class: "danger", "aria-label": t("reject_label", p.override_id), dataset: { action: "reject" } }, t("reject"));
    approve.addEventListener("click", async () => {
      const answer = await api(`/v1/overrides/${encodeURIComponent(p.override_id)}/approve`, { method: "POST" });
      if (answer.ok) await reload(t("approved_by", answer.data.approved_by, time(answer.data.approved_at)));
      else status.textContent = answer.detail;
    });
    reject.addEventListener("click", async () => {
      const answer = await api(`/v1/overrides/${encodeURIComponent(p.override_id)}/reject`, {
        method: "POST",
        body: { reason: reason.value },
      });
      if (answer.ok) await reload();
      else status.textContent = answer.detail;
    });
    cell.append(h("div", { class: "actions" }, approve, reason, reject), status);
  }
  return h(
    "tr",
    { dataset: { override: p.override_id } },
    h("td", {}, p.override_id),
    h("td", {}, h("a", { href: `/staff/persons/${encodeURIComponent(p.person_ref)}` }, p.person_ref)),
    h("td", {}, colorBadge(p.color)),
    h("td", {}, p.reason),
    h("td", {}, p.until ? time(p.until) : t("open_ended")),
    h("td", {}, p.proposed_by),
    h("td", {}, time(p.proposed_at)),
    cell,
  );
}

async function render(main, message = "") {
  if (me().role !== "commission") {
    notFound(main, t("only_commission"));
    return;
  }
  const [pending, all] = await Promise.all([api("/v1/overrides?status=proposed"), api("/v1/overrides")]);
  const reload = (text) => render(main, text);
  const header = h("tr", {}, ["", t("person_ref"), t("color"), t("reason"), t("until"), t("who"), t("when"), t("act")].map((x) => h("th", { scope: "col" }, x)));
  const proposals = pending.ok ? pending.data.overrides : [];
  const decided = all.ok ? all.data.overrides.filter((p) => p.status !== "proposed").slice(0, 50) : [];
  main.replaceChildren(
    h("h1", {}, t("title")),
    h("p", { class: "hint" }, t("rule")),
    message ? h("p", { class: "alert", role: "status", id: "overrides-message" }, message) : "",
    h(
      "div",
      { class: "columns" },
      proposeForm(reload),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("decided")),
        decided.length
          ? h(
              "ol",
              { class: "notes", id: "decided" },
              decided.map((p) =>
                h(
                  "li",
                  { dataset: { override: p.override_id, status: p.status } },
                  colorBadge(p.color),
                  ` ${p.person_ref} · ${p.reason} · ${p.proposed_by} · `,
                  p.status === "approved" ? t("approved_by", p.approved_by, time(p.approved_at)) : t("rejected_by", p.rejected_by, time(p.rejected_at), p.rejection_reason),
                ),
              ),
            )
          : h("p", { class: "hint" }, t("none_decided")),
      ),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, t("pending")),
      proposals.length
        ? tableWrap(t("pending"), h("table", { id: "pending" }, h("thead", {}, header), h("tbody", {}, proposals.map((p) => pendingRow(p, reload)))))
        : h("p", { class: "hint", id: "none-pending" }, t("none_pending")),
    ),
  );
}

start({ text: TEXT, render: (main) => render(main) });
