// Telex input for Vietnamese, as a pure module (no DOM): the on-screen keyboard feeds it one key at a time.
//
//   aa → â   aw → ă   ee → ê   oo → ô   ow → ơ   uw → ư   w → ư (no vowel yet)   uow / uwo / uwow → ươ
//   dd → đ   tones: s sắc, f huyền, r hỏi, x ngã, j nặng; z removes the tone
//   Typing the same modifier again undoes it and types the letter: "ass" → "as", "aaa" → "aa", "ddd" → "dd".
//
// The tone sits on the syllable's main vowel, recomputed after every key (so "hoafn" → "hoàn"):
//   1. a vowel with a shape mark (â ă ê ô ơ ư) takes it; in "ươ" the ơ does;
//   2. otherwise, with a final consonant, the last vowel of the cluster ("toán", "hoàng");
//   3. otherwise (open syllable): three vowels → the middle one ("ngoài"); two vowels → the first ("mái",
//      "mùa"), except "oa", "oe", "uy", which follow the STYLE:
//        "new" (default; the Ministry of Education's modern convention, Unikey's "kiểu mới"): hoà, khoẻ, thuý;
//        "old" (the traditional one, common on older ID cards): hòa, khỏe, thúy.
//   "qu" and "gi" before a vowel are consonants ("quá", "giá"; but "gì", "gìn").
// Case is kept: "Ddaif" → "Đài", "NGUYEENX" → "NGUYỄN".

export const TONES = { s: "\u0301", f: "\u0300", r: "\u0309", x: "\u0303", j: "\u0323" };
const TONE_MARKS = new Set(Object.values(TONES));
const VOWELS = "aăâeêioôơuưy";

function isVowel(c) { return VOWELS.includes(c.toLowerCase()); }
function isLetter(c) { return /^[a-zđ]$/i.test(c) || isVowel(c); }

/** Splits a word into its toneless form (NFC) and its tone mark ("" if none). */
export function decompose(word) {
  let tone = "";
  const nfd = word.normalize("NFD");
  let out = "";
  for (const ch of nfd) {
    if (TONE_MARKS.has(ch)) tone = ch; else out += ch;
  }
  return { base: out.normalize("NFC"), tone };
}

/** Index range [start, end) of the vowel cluster that carries the tone, or null. */
function vowelCluster(base) {
  const low = base.toLowerCase();
  let start = -1, end = -1;
  for (let i = 0; i < low.length; i++) {
    if (isVowel(low[i])) {
      if (start < 0) start = i;
      end = i + 1;
    } else if (start >= 0) break;
  }
  if (start < 0) return null;
  // "qu" + vowel and "gi" + vowel: the u / i belongs to the consonant.
  if (end - start > 1) {
    if (low[start] === "u" && start > 0 && low[start - 1] === "q") start++;
    else if (low[start] === "i" && start > 0 && low[start - 1] === "g") start++;
  }
  return { start, end, final: end < base.length };
}

/** The index in `base` of the vowel that should carry a tone, or -1. */
export function toneIndex(base, style = "new") {
  const c = vowelCluster(base);
  if (!c) return -1;
  const low = base.toLowerCase();
  const cl = low.slice(c.start, c.end);
  if (cl.includes("ươ")) return c.start + cl.indexOf("ươ") + 1;
  for (let i = cl.length - 1; i >= 0; i--) if ("ăâêôơư".includes(cl[i])) return c.start + i;
  if (c.final) return c.end - 1;
  if (cl.length >= 3) return c.start + 1;
  if (cl.length === 2) {
    if (style === "new" && ["oa", "oe", "uy"].includes(cl)) return c.start + 1;
    return c.start;
  }
  return c.start;
}

/** Puts `tone` (a combining mark or "") on the right vowel of the toneless `base`. */
export function placeTone(base, tone, style = "new") {
  if (!tone) return base;
  const i = toneIndex(base, style);
  if (i < 0) return base;
  return (base.slice(0, i) + (base[i] + tone).normalize("NFC") + base.slice(i + 1)).normalize("NFC");
}

const SAME_CASE = (target, lower) => (target === target.toUpperCase() && target !== target.toLowerCase() ? lower.toUpperCase() : lower);

function replaceAt(s, i, lower) { return s.slice(0, i) + SAME_CASE(s[i], lower) + s.slice(i + 1); }

/**
 * Applies one typed key to the word being typed (the letters before the caret since the last non-letter).
 * Returns the new word. Keys that are not letters are simply appended (the caller ends the word on them).
 */
export function applyKey(word, key, style = "new") {
  const k = key.toLowerCase();
  const { base, tone } = decompose(word);
  const c = vowelCluster(base);
  const low = base.toLowerCase();
  const finish = (b, t) => placeTone(b, t, style);

  if (k in TONES || k === "z") {
    if (!c) return word + key;                        // no vowel yet: an initial consonant (s, r, x) or a typo
    if (k === "z") return tone ? finish(base, "") : word + key;
    if (tone === TONES[k]) return base + key;         // same tone again: undo it and type the letter
    return finish(base, TONES[k]);
  }
  if (k === "d") {
    const last = base.length - 1;
    if (last >= 0 && low[last] === "d") return finish(replaceAt(base, last, "đ"), tone);
    if (last >= 0 && low[last] === "đ") return finish(replaceAt(base, last, "d"), tone) + key;
    return finish(base + key, tone);
  }
  if (c && (k === "a" || k === "e" || k === "o")) {
    const cl = low.slice(c.start, c.end);
    const plainAt = cl.lastIndexOf(k);
    const hat = { a: "â", e: "ê", o: "ô" }[k];
    const hatAt = cl.lastIndexOf(hat);
    if (hatAt >= 0) return finish(replaceAt(base, c.start + hatAt, k), tone) + key;  // "aaa" → "aa"
    if (plainAt >= 0) return finish(replaceAt(base, c.start + plainAt, hat), tone);
    if (k === "a" && cl.includes("ă")) return finish(replaceAt(base, c.start + cl.indexOf("ă"), "â"), tone);
    if (k === "o" && cl.includes("ơ")) return finish(replaceAt(base, c.start + cl.indexOf("ơ"), "ô"), tone);
    return finish(base + key, tone);
  }
  if (k === "w") {
    if (!c) {
      // "w" alone (or after a consonant) is ư, unless "qu"/"gi" left the u or i as the only vowel.
      const u = low.lastIndexOf("u");
      if (u >= 0 && u === low.length - 1 && low[u - 1] === "q") return finish(replaceAt(base, u, "ư"), tone);
      return finish(base + SAME_CASE(key, "ư"), tone);
    }
    const cl = low.slice(c.start, c.end);
    const at = (s) => c.start + cl.indexOf(s);
    if (cl.includes("uo")) { let b = replaceAt(base, at("uo"), "ư"); b = replaceAt(b, at("uo") + 1, "ơ"); return finish(b, tone); }
    if (cl.includes("ưo")) return finish(replaceAt(base, at("ưo") + 1, "ơ"), tone);
    if (cl.includes("uơ")) return finish(replaceAt(base, at("uơ"), "ư"), tone);
    if (cl.includes("ươ")) { let b = replaceAt(base, at("ươ"), "u"); b = replaceAt(b, at("ươ") + 1, "o"); return finish(b, tone) + key; }
    if (cl.includes("ă")) return finish(replaceAt(base, at("ă"), "a"), tone) + key;
    if (cl.includes("ơ")) return finish(replaceAt(base, at("ơ"), "o"), tone) + key;
    if (cl.includes("ư")) return finish(replaceAt(base, at("ư"), "u"), tone) + key;
    if (cl.includes("a")) return finish(replaceAt(base, at("a"), "ă"), tone);
    if (cl.includes("â")) return finish(replaceAt(base, at("â"), "ă"), tone);
    if (cl.includes("o")) return finish(replaceAt(base, at("o"), "ơ"), tone);
    if (cl.includes("ô")) return finish(replaceAt(base, at("ô"), "ơ"), tone);
    if (cl.includes("u")) return finish(replaceAt(base, c.start + cl.lastIndexOf("u"), "ư"), tone);
    return finish(base + key, tone);
  }
  if (isLetter(key)) return finish(base + key, tone);   // a plain letter may move the tone ("hòa" + n → "hoàn")
  return word + key;
}

/** Applies a tone mark from a direct diacritic key to the word (same placement; same tone twice removes it). */
export function applyTone(word, mark, style = "new") {
  const { base, tone } = decompose(word);
  if (toneIndex(base, style) < 0) return word;
  return placeTone(base, tone === mark ? "" : mark, style);
}

/** Splits a text into its leading part and the trailing word the next key edits. */
export function splitWord(text) {
  const m = /[\p{L}\u0300-\u036f]*$/u.exec(text);
  return [text.slice(0, m.index), m[0]];
}

/** Types a whole string through Telex, key by key (for tests and for pasting). */
export function telex(input, style = "new") {
  let text = "";
  for (const ch of input) {
    if (/\p{L}/u.test(ch)) {
      const [head, word] = splitWord(text);
      text = head + applyKey(word, ch, style);
    } else text += ch;
  }
  return text;
}
