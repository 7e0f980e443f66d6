// The on-screen keyboard (the kiosk has no physical one). Two layouts:
//   "text": digits, QWERTY, direct Vietnamese letters (ă â đ ê ô ơ ư) and tone keys (sắc huyền hỏi ngã nặng),
//           with Telex on the letter keys (aa → â, dd → đ, s/f/r/x/j tones … see telex.js) — switchable;
//   "numeric": a keypad for the phone number and the year of birth.
// It edits one <input> at a time (the field with focus), always at the end of its value, and fires "input".
import { applyKey, applyTone, splitWord, TONES } from "./telex.js";

const TEXT_ROWS = [
  ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"],
  ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"],
  ["a", "s", "d", "f", "g", "h", "j", "k", "l", "{bksp}"],
  ["{shift}", "z", "x", "c", "v", "b", "n", "m", ",", "."],
  ["ă", "â", "đ", "ê", "ô", "ơ", "ư", "-", "/", "@"],
  ["{telex}", "{tone:s}", "{tone:f}", "{tone:r}", "{tone:x}", "{tone:j}", "{space}"],
];
const NUMERIC_ROWS = [
  ["1", "2", "3"],
  ["4", "5", "6"],
  ["7", "8", "9"],
  ["{plus}", "0", "{bksp}"],
];
// What the tone keys show: the mark on a dotted circle.
const TONE_LABEL = { s: "◌\u0301", f: "◌\u0300", r: "◌\u0309", x: "◌\u0303", j: "◌\u0323" };

export class Keyboard {
  /** @param {HTMLElement} el  @param {(key: string) => string} t  translation */
  constructor(el, t) {
    this.el = el;
    this.t = t;
    this.input = null;
    this.opts = {};
    this.shift = false;
    this.telexOn = true;
    this.layout = null;
    el.addEventListener("pointerdown", (e) => e.preventDefault()); // keep focus in the field
    el.addEventListener("click", (e) => {
      const k = e.target.closest(".key");
      if (k) this.press(k.dataset.key);
    });
  }

  /** Attaches to `input`. opts: {layout: "text"|"numeric", telex: bool, autocap: bool, upper: bool, max: n, allowed: RegExp} */
  attach(input, opts = {}) {
    this.input = input;
    this.opts = opts;
    this.telexOn = opts.telex !== false;
    this.shift = false;
    this.render(opts.layout || "text");
    this.el.hidden = false;
  }

  detach() {
    this.input = null;
    this.el.hidden = true;
    this.el.replaceChildren();
    this.layout = null;
  }

  /** Re-labels after a language switch. */
  relabel() { if (this.layout) this.render(this.layout); }

  render(layout) {
    this.layout = layout;
    this.el.classList.toggle("numeric", layout === "numeric");
    const rows = layout === "numeric" ? NUMERIC_ROWS : TEXT_ROWS;
    const frag = document.createDocumentFragment();
    for (const row of rows) {
      const r = document.createElement("div");
      r.className = "kb-row";
      for (let key of row) {
        if (key === "{plus}") { if (!this.opts.plus) continue; key = "+"; }   // "+84" for phone numbers only
        r.append(this.keyEl(key));
      }
      frag.append(r);
    }
    this.el.replaceChildren(frag);
  }

  keyEl(key) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "key";
    b.dataset.key = key;
    const upper = this.shift || this.autoUpper();
    if (key === "{bksp}") { b.textContent = "⌫"; b.classList.add("fn", "wide"); b.setAttribute("aria-label", this.t("kbd.backspace")); }
    else if (key === "{shift}") { b.textContent = "⇧"; b.classList.add("fn"); b.classList.toggle("on", this.shift); b.setAttribute("aria-label", this.t("kbd.shift")); }
    else if (key === "{space}") { b.textContent = this.t("kbd.space"); b.classList.add("space"); }
    else if (key === "{telex}") { b.textContent = this.t(this.telexOn ? "kbd.telex-on" : "kbd.telex-off"); b.classList.add("fn", "wide"); b.classList.toggle("on", this.telexOn); b.setAttribute("aria-pressed", String(this.telexOn)); }
    else if (key.startsWith("{tone:")) { const k = key.slice(6, 7); b.textContent = TONE_LABEL[k]; b.classList.add("tone"); b.setAttribute("aria-label", this.t("kbd.tone." + k)); }
    else b.textContent = upper ? key.toUpperCase() : key;
    return b;
  }

  /** Capitalise the first letter of each word (names) or everything (ID numbers). */
  autoUpper() {
    if (!this.input) return false;
    if (this.opts.upper) return true;
    if (!this.opts.autocap) return false;
    const v = this.input.value;
    return v === "" || /\s$/.test(v);
  }

  refreshCase() { if (this.layout === "text") this.render("text"); }

  press(key) {
    const input = this.input;
    if (!input) return;
    let v = input.value;
    if (key === "{bksp}") v = Array.from(v).slice(0, -1).join("");
    else if (key === "{shift}") { this.shift = !this.shift; this.render(this.layout); return; }
    else if (key === "{telex}") { this.telexOn = !this.telexOn; this.render(this.layout); return; }
    else if (key === "{space}") v += " ";
    else if (key.startsWith("{tone:")) {
      const [head, word] = splitWord(v);
      v = head + applyTone(word, TONES[key.slice(6, 7)], this.opts.style);
    } else {
      const ch = this.shift || this.autoUpper() ? key.toUpperCase() : key;
      if (this.opts.allowed && !this.opts.allowed.test(ch)) return;
      if (/\p{L}/u.test(ch) && this.telexOn && this.opts.telex !== false) {
        const [head, word] = splitWord(v);
        v = head + applyKey(word, ch, this.opts.style);
      } else v += ch;
      if (this.shift) this.shift = false;
    }
    if (this.opts.max && Array.from(v).length > this.opts.max) return;
    input.value = v;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    if (this.layout === "text") this.render("text");   // case of the key caps may change
  }
}
