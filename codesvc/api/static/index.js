// The index: links to the pages, in the chosen language.
import { applyText, bindLangToggle, currentLang, keepShell } from "./common.js";

const TEXT = {
  zh: {
    title: "健康码",
    citizen: "我的健康码",
    citizen_about: "查看您的颜色、原因、二维码和历史，提出申诉。",
    scanner: "场所扫码",
    scanner_about: "场所门口的平板：扫码或输入身份证号，显示颜色。",
    api: "接口文档",
    api_about: "本服务的 OpenAPI 文档（供开发者使用）。",
  },
  en: {
    title: "Health code",
    citizen: "My health code",
    citizen_about: "Your colour, why, your QR code and history; file an appeal.",
    scanner: "Venue scanner",
    scanner_about: "For a venue's tablet at the door: scan a code or an id number, see the colour.",
    api: "API reference",
    api_about: "This service's OpenAPI document, for developers.",
  },
};

applyText(TEXT, currentLang());
bindLangToggle((lang) => applyText(TEXT, lang));
keepShell();
