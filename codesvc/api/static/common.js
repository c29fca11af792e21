// What every page shares: the language toggle, calls to this service, colour words, times.
import { LANG_KEY, currentLang } from "./api.js";

export { Unreachable, answered, call, currentLang, retryKey } from "./api.js";

// Times are shown in the city's zone, whatever zone the phone is in (SPEC §3).
const CITY_ZONE = "Asia/Shanghai";

// A colour is never shown by hue alone: always its word in both languages and a sign.
export const COLORS = {
  green: { zh: "绿码", en: "green", sign: "✓" },
  yellow: { zh: "黄码", en: "yellow", sign: "!" },
  red: { zh: "红码", en: "red", sign: "✕" },
};


// Shanghai's districts (GB/T 2260): Chinese and English names.
export const DISTRICTS = {
  310101: ["黄浦区", "Huangpu"],
  310104: ["徐汇区", "Xuhui"],
  310105: ["长宁区", "Changning"],
  310106: ["静安区", "Jing'an"],
  310107: ["普陀区", "Putuo"],
  310109: ["虹口区", "Hongkou"],
  310110: ["杨浦区", "Yangpu"],
  310112: ["闵行区", "Minhang"],
  310113: ["宝山区", "Baoshan"],
  310114: ["嘉定区", "Jiading"],
  310115: ["浦东新区", "Pudong"],
  310116: ["金山区", "Jinshan"],
  310117: ["松江区", "Songjiang"],
  310118: ["青浦区", "Qingpu"],
  310120: ["奉贤区", "Fengxian"],
  310151: ["崇明区", "Chongming"],
};

// Rule names and what superseded a colour, in both languages (the citizen's page and the
// console say the same).
export const RULE_WORDS = {
  zh: {
    R1: "来自中风险地区",
    R2: "来自高风险地区",
    R3: "密切接触者",
    R4: "次密切接触者",
    R5: "检测阳性",
    R6: "落地检测未完成",
    R7: "人工设定",
    R8: "未参加区域检测",
  },
  en: {
    R1: "arrival from a medium-risk area",
    R2: "arrival from a high-risk area",
    R3: "close contact",
    R4: "secondary contact",
    R5: "positive test",
    R6: "landing tests not done",
    R7: "set by hand",
    R8: "missed a test campaign",
  },
};

// An appeal's category, as the citizen and the staff both name it.
export const CATEGORY_WORDS = {
  zh: {
    wrong_travel_record: "行程记录有误",
    missing_test_result: "缺少检测结果",
    wrong_test_result: "检测结果有误",
    other: "其他",
  },
  en: {
    wrong_travel_record: "wrong travel record",
    missing_test_result: "missing test result",
    wrong_test_result: "wrong test result",
    other: "other",
  },
};

export const CAUSE_WORDS = {
  zh: {
    none: "无限制",
    event: (id) => `新信息（记录 ${id}）`,
    appeal: (id) => `申诉 ${id}`,
    listing: (area) => `风险地区名单变更（${area}）`,
    campaign: () => "区域检测",
    override: () => "人工设定（经两名委员批准）",
    recomputed: "重新计算",
  },
  en: {
    none: "no hold",
    event: (id) => `new information (record ${id})`,
    appeal: (id) => `appeal ${id}`,
    listing: (area) => `risk-area listing changed (${area})`,
    campaign: () => "test campaign",
    override: () => "set by hand (approved by two commission members)",
    recomputed: "recomputed",
  },
};

// Fill every [data-t] element from texts[lang] and point the toggle at the other language.
export function applyText(texts, lang) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of document.querySelectorAll("[data-t]")) {
    const text = texts[lang][el.dataset.t];
    if (typeof text === "string") el.textContent = text;
  }
  for (const button of document.querySelectorAll("[data-lang-toggle]")) {
    button.textContent = lang === "en" ? "中文" : "English";
    button.lang = lang === "en" ? "zh-CN" : "en";
  }
}

// Wire the toggle: remember the choice and tell the page, which re-renders.
export function bindLangToggle(onChange) {
  for (const button of document.querySelectorAll("[data-lang-toggle]")) {
    button.addEventListener("click", () => {
      const next = currentLang() === "en" ? "zh" : "en";
      localStorage.setItem(LANG_KEY, next);
      onChange(next);
    });
  }
}

// Keep this site's pages on the device (the service worker, /sw.js), so the next open needs
// the network for its API call only. Called once a page has what it needs on screen, so the
// worker's downloads never compete with a first open.
export function keepShell() {
  if (!("serviceWorker" in navigator) || keepShell.done) return;
  keepShell.done = true;
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

// "2月8日 10:00" / "8 Feb 10:00", in the city's zone; the year only when it is not this one.
export function formatTime(iso, lang) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const parts = (d, month) =>
    Object.fromEntries(
      new Intl.DateTimeFormat("en-GB", {
        timeZone: CITY_ZONE,
        year: "numeric",
        month,
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      })
        .formatToParts(d)
        .map((part) => [part.type, part.value]),
    );
  const p = parts(when, lang === "en" ? "short" : "numeric");
  const year = p.year === parts(new Date(), "numeric").year ? "" : p.year;
  if (lang === "en") return `${p.day} ${p.month}${year ? ` ${year}` : ""} ${p.hour}:${p.minute}`;
  return `${year ? `${year}年` : ""}${p.month}月${p.day}日 ${p.hour}:${p.minute}`;
}

// A colour chip: sign, Chinese word, English word (used in lists).
export function colorChip(color) {
  const words = COLORS[color];
  const chip = document.createElement("span");
  chip.className = `chip c-${color}`;
  chip.dataset.color = color;
  const sign = document.createElement("span");
  sign.className = "sign";
  sign.setAttribute("aria-hidden", "true");
  sign.textContent = words ? words.sign : "?";
  const zh = document.createElement("span");
  zh.lang = "zh-CN";
  zh.textContent = words ? words.zh : color;
  const en = document.createElement("span");
  en.lang = "en";
  en.textContent = words ? words.en : "";
  chip.append(sign, zh, " ", en);
  return chip;
}
