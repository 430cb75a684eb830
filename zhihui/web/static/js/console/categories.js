// The incident category tree (GET /meta/categories), loaded once; names in the screen's language.
import { api } from "../api.js";
import { getLang } from "../i18n.js";

let flat = null;
let byCode = {};
let loading = null;

export function loadCategories() {
  if (flat) return Promise.resolve(flat);
  if (!loading) {
    loading = api("/meta/categories").then((tree) => {
      const out = [];
      const walk = (nodes, path, enPath) => nodes.forEach((n) => {
        const label = [...path, n.name].join("/");
        out.push({ code: n.code, name: n.name, en: n.en, label, enLabel: [...enPath, n.en].join(" / "), level: n.level,
          urgent: n.urgent, police: n.police, leaf: !n.children.length });
        walk(n.children, [...path, n.name], [...enPath, n.en]);
      });
      walk(tree, [], []);
      flat = out;
      byCode = Object.fromEntries(out.map((c) => [c.code, c]));
      return flat;
    }).catch((e) => { loading = null; throw e; });
  }
  return loading;
}

// The full path ("刑事/抢劫" or "Criminal / Robbery"), or only its last part with leaf=true.
export function categoryLabel(code, fallback = "", { leaf = false } = {}) {
  const c = byCode[code];
  if (!c) return leaf ? (fallback || "").split("/").slice(-1)[0] : fallback;
  if (getLang() === "en") return leaf ? c.en : c.enLabel;
  return leaf ? c.name : c.label;
}
