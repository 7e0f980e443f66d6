"""Headless Chromium helpers for the kiosk screen tests: viewport, screenshots, layout checks, request log."""
import json
import math
import os
import time

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SIZES = {"landscape": (1280, 800), "portrait": (800, 1280)}

# Touch targets: the issue asks for ≥ 15 mm. A CSS pixel's size on the kiosk is set by the panel and the kiosk
# session's scale (systemd/checkpoint-kiosk.default: CSS px per inch = panel ppi ÷ KIOSK_SCALE); the stated
# assumption is at most 108 CSS px per inch (e.g. 21.5" 1920×1080 at scale 1, 15.6" 1920×1080 at 1.35). At that
# density 15 mm is 15 / 25.4 × 108 = 63.8 → 64 CSS px, the minimum checked. (Not the CSS reference pixel's 96/in:
# a 10.1" 1280×800 panel at scale 1 shows 149 CSS px per inch, where 64 px are only 11 mm; see README.)
KIOSK_CSS_PPI_MAX = 108
MIN_TARGET_MM = 15
MIN_TARGET_PX = math.ceil(MIN_TARGET_MM / 25.4 * KIOSK_CSS_PPI_MAX)


def start(log_dir=None, spki=()):
    """Headless Chromium through chromedriver (its log in log_dir). spki: public-key hashes (base64 SHA-256 of the
    SubjectPublicKeyInfo, harness Stack.tls_spki()) of server certificates it accepts without knowing their CA: the
    harness's receiver over HTTPS with its throwaway test CA."""
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-features=Translate", "--disable-gpu", "--hide-scrollbars",
              "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1280", "--lang=vi",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--disable-sync", "--disable-default-apps", "--disable-extensions"]:
        o.add_argument(a)
    if spki:
        o.add_argument("--ignore-certificate-errors-spki-list=" + ",".join(spki))
    o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    svc = Service(CHROMEDRIVER, log_path=os.path.join(log_dir, "chromedriver.log") if log_dir else os.devnull)
    d = webdriver.Chrome(service=svc, options=o)
    d.set_script_timeout(30)
    return d


def viewport(d, orientation):
    w, h = SIZES[orientation]
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
    time.sleep(0.15)
    got = d.execute_script("return [innerWidth, innerHeight]")
    assert got == [w, h], f"viewport {got} != {w}x{h}"


def wait(d, js, timeout=20, what=None, interval=0.1):
    """Waits until the JS expression `js` (returned) is truthy; returns its value."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = d.execute_script("return (" + js + ")")
            if last:
                return last
        except JavascriptException:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or js} (last: {last!r})")


def shot(d, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".png")
    d.execute_script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    d.save_screenshot(path)
    return path


# In-page layout checks: no horizontal (or vertical) page scroll; every visible element inside the viewport;
# elements that hide their overflow do not hide content; every touch target at least MIN px on each side;
# body text ≥ 24 px.
LAYOUT_JS = r"""
const MIN = arguments[0];
const W = innerWidth, H = innerHeight, problems = [];
const de = document.documentElement;
if (de.scrollWidth > W || document.body.scrollWidth > W) problems.push(`page scrolls horizontally: ${Math.max(de.scrollWidth, document.body.scrollWidth)} > ${W}`);
if (de.scrollHeight > H || document.body.scrollHeight > H) problems.push(`page scrolls vertically: ${Math.max(de.scrollHeight, document.body.scrollHeight)} > ${H}`);
const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') + (e.dataset && e.dataset.key ? `[${e.dataset.key}]` : '') + (e.textContent ? ` "${e.textContent.trim().slice(0, 30)}"` : '');
const visible = (e) => { const s = getComputedStyle(e); if (s.display === 'none' || s.visibility === 'hidden' || +s.opacity === 0) return false; const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
let targets = 0, texts = 0;
// WCAG contrast of a text colour on the first opaque background behind it (disabled controls are exempt).
const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const bgOf = (e) => { for (let x = e; x; x = x.parentElement) { const c = rgb(getComputedStyle(x).backgroundColor); if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) return c; } return [255, 255, 255]; };
const contrast = (e) => { const a = lum(rgb(getComputedStyle(e).color)), b = lum(bgOf(e)); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
for (const e of document.body.querySelectorAll('*')) {
  if (e.closest('svg.defs') || (e.closest('svg') && e.tagName.toLowerCase() !== 'svg')) continue;
  if (!visible(e)) continue;
  const r = e.getBoundingClientRect();
  if (r.left < -0.5 || r.top < -0.5 || r.right > W + 0.5 || r.bottom > H + 0.5) problems.push(`outside the viewport: ${name(e)} [${r.left|0},${r.top|0},${r.right|0},${r.bottom|0}]`);
  const s = getComputedStyle(e);
  if ((s.overflowX === 'hidden' || s.overflowX === 'clip') && e.scrollWidth > e.clientWidth + 1) problems.push(`clipped horizontally: ${name(e)} ${e.scrollWidth} > ${e.clientWidth}`);
  if ((s.overflowY === 'hidden' || s.overflowY === 'clip') && e.scrollHeight > e.clientHeight + 1) problems.push(`clipped vertically: ${name(e)} ${e.scrollHeight} > ${e.clientHeight}`);
  if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && e.scrollWidth > e.clientWidth + 1) problems.push(`scrolls: ${name(e)}`);
  if ((s.overflowY === 'auto' || s.overflowY === 'scroll') && e.scrollHeight > e.clientHeight + 1) problems.push(`scrolls: ${name(e)}`);
  // A child sticking out of a visible parent box that does not clip (overlap = something is cut or covered).
  const p = e.parentElement;
  if (p && p !== document.body && visible(p) && !['inline', 'contents'].includes(s.display)) {
    const q = p.getBoundingClientRect();
    if (r.left < q.left - 1 || r.right > q.right + 1 || r.top < q.top - 1 || r.bottom > q.bottom + 1)
      problems.push(`sticks out of its parent: ${name(e)} [${r.left|0},${r.top|0},${r.right|0},${r.bottom|0}] in ${name(p)} [${q.left|0},${q.top|0},${q.right|0},${q.bottom|0}]`);
  }
  if (e.matches('button, input, select, a[href], [role=button]')) {
    targets++;
    if (r.width < MIN - 0.5 || r.height < MIN - 0.5) problems.push(`touch target ${r.width|0}x${r.height|0} < ${MIN}: ${name(e)}`);
  }
  for (const n of e.childNodes) {
    if (n.nodeType === 3 && n.textContent.trim()) {
      texts++;
      const fs = parseFloat(s.fontSize);
      if (fs < 24 - 0.01) problems.push(`text ${fs}px < 24px: ${name(e)}`);
      if (!e.closest(':disabled')) { const cr = contrast(e); if (cr < 4.5) problems.push(`contrast ${cr.toFixed(2)} < 4.5: ${name(e)}`); }
      break;
    }
  }
}
const h = [...document.querySelectorAll('h1, .headline')].filter(visible);
for (const e of h) if (parseFloat(getComputedStyle(e).fontSize) < 48 && !e.closest('#screen-form')) problems.push(`headline < 48px: ${name(e)}`);
return {problems, targets, texts};
"""


def layout_problems(d, min_target=MIN_TARGET_PX):
    r = d.execute_script(LAYOUT_JS, min_target)
    return r["problems"]


def requests(d):
    """Every request the page made since the last call (Chromium performance log): url, method, headers, postData."""
    out = []
    for entry in d.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            r = m["params"]["request"]
            out.append({"url": r["url"], "method": r.get("method"), "headers": r.get("headers", {}), "postData": r.get("postData")})
    return out


def console_errors(d):
    try:
        return [e["message"] for e in d.get_log("browser") if e["level"] in ("SEVERE",)]
    except WebDriverException:
        return []
