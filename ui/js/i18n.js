// The string catalogues (i18n/vi.json, i18n/en.json: same keys). Vietnamese is the default.
const catalogues = {};
let lang = "vi";

export async function loadCatalogues() {
  for (const l of ["vi", "en"]) {
    const r = await fetch(`i18n/${l}.json`, { cache: "no-cache" });
    catalogues[l] = await r.json();
  }
}

export function currentLang() { return lang; }

/** The string for `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars) {
  let s = catalogues[lang]?.[key];
  if (s === undefined) {
    console.warn("i18n: missing key", key);
    document.documentElement.dataset.missingKey = key;   // visible to the tests
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function has(key) { return catalogues[lang] && key in catalogues[lang]; }

/** Sets the language and re-labels every element carrying data-i18n="key". */
export function setLang(l, root = document) {
  lang = l;
  document.documentElement.lang = l;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.title = t("app.title");
}

/** 36.8 → "36,8 °C" (vi) or "36.8 °C" (en). */
export function formatTemp(c) {
  return new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB", { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(c) + " °C";
}

export function formatNumber(n, digits = 1) {
  return new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);
}
