// The health declaration, a few fields per step so that each step fits the kiosk screen with the on-screen keyboard.
// Fields and rules: Sources/CheckpointCore/Queue/Declaration.swift (see validate.js). No districtId: since the 2025
// reform Vietnam has provinces, then communes / wards / special zones.
//
// Scanning a health QR (PC-COVID or chip ID card): `startScan()` shows the camera mirror and listens to
// GET /v1/qr/events; the daemon decodes the camera's frames only while that stream is open. A code read becomes a
// "check what was read" view (`view = "confirm"`): confirmed, the fields go into the form (`prefill`) and the
// declaration records `source` ("qr-pccovid" / "qr-cccd"); the person can still correct every field. A masked ID
// number stays masked: shown, never submitted. A refusal shows its translated reason and scanning goes on.
import { t, has } from "./i18n.js";
import { checkField, SYMPTOMS } from "./validate.js";

const NATIONS = ["VN", "LA", "KH", "CN", "KR", "JP", "TH", "US"];
const HOME_PROVINCE = "19";   // Thái Nguyên, where the kiosks are piloted: listed first
const QUESTIONS = ["hasPatient", "hasFromSickCountry", "hasSick"];

/** Lower-case, no diacritics, đ → d: "Phường Quang Trung" → "phuong quang trung". */
export function fold(s) {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function emptyData() {
  return {
    fullName: "", otherUser: false, birthYear: "", gender: null, nation: "VN", passport: "",
    provinceId: null, wardId: null, address: "", phone: "", email: "",
    hasPatient: null, hasFromSickCountry: null, hasSick: null, countryPassing: "",
    symptoms: [], symptomsNote: "", consent: false,
    source: "form", maskedIdNumber: "",      // set from a QR only; maskedIdNumber is shown, never sent
  };
}

export class DeclarationForm {
  /**
   * @param {object} o  {form, steps, title, count, back, next, cancel, keyboard, notice, units, skipChecks,
   *                     onDone(shortCode), onQuit(reason)}
   */
  constructor(o) {
    Object.assign(this, o);
    this.data = null;
    this.screeningId = null;
    this.errors = {};
    this.step = 0;
    this.view = "step";        // "step" | "errors" | "scan" | "confirm"
    this.pending = null;       // {json, key}: the submission being sent (again, on "try again")
    this.key = null;           // one Idempotency-Key per form session, whatever the body: see submit()
    this.pickerState = {};
    this.steps = this.defineSteps();
    this.back.addEventListener("click", () => this.go(-1));
    this.next.addEventListener("click", () => this.go(+1));
    this.form.addEventListener("submit", (e) => e.preventDefault());
    window.addEventListener("resize", () => this.layoutPicker());
  }

  defineSteps() {
    const d = () => this.data;
    return [
      { id: "name", title: "field.fullName", fields: ["fullName", "otherUser"], render: (c) => {
        c.append(this.textField("fullName", { telex: true, autocap: true, max: 255, label: false }));
        c.append(this.toggle("otherUser", "field.otherUser"));
      } },
      { id: "birth", title: "step.birth", fields: ["birthYear", "gender"], render: (c) => {
        const row = el("div", "row birth-row");
        row.append(this.textField("birthYear", { layout: "numeric", max: 4, allowed: /[0-9]/, autofocus: true }));
        c.append(row);
        c.append(this.choices("gender", ["Nam", "Nu", "Khac"].map((g) => [g, "gender." + g]), "field.gender"));
      } },
      { id: "nation", title: "field.nation", fields: ["nation"], render: (c) => {
        c.append(this.choices("nation", NATIONS.map((n) => [n, "nation." + n])));
      } },
      { id: "passport", title: "field.passport", optional: true, fields: ["passport"], render: (c) => {
        c.append(this.textField("passport", { telex: false, upper: true, max: 20, allowed: /[A-Za-z0-9]/, label: false }));
        if (d().maskedIdNumber) c.append(el("p", "hint qr-masked", t("qr.masked-id", { id: d().maskedIdNumber })));
      } },
      { id: "province", title: "field.provinceId", fields: ["provinceId"], render: (c) => c.append(this.picker("provinceId")) },
      { id: "ward", title: "field.wardId", fields: ["wardId"], render: (c) => c.append(this.picker("wardId")) },
      { id: "address", title: "field.address", fields: ["address"], render: (c) => {
        c.append(this.textField("address", { telex: true, max: 255, label: false }));
      } },
      { id: "phone", title: "field.phone", fields: ["phone"], render: (c) => {
        c.append(this.textField("phone", { layout: "numeric", max: 13, allowed: /[0-9+]/, plus: true, label: false }));
      } },
      { id: "email", title: "field.email", optional: true, fields: ["email"], render: (c) => {
        c.append(this.textField("email", { telex: false, max: 255, label: false }));
      } },
      { id: "contacts", title: "q.intro", fields: QUESTIONS, render: (c) => c.append(this.yesno()) },
      { id: "travel", title: "field.countryPassing", optional: true, fields: ["countryPassing"], render: (c) => {
        c.append(this.textField("countryPassing", { telex: true, max: 1000, label: false }));
      } },
      { id: "symptoms", title: "field.symptoms", optional: true, fields: ["symptoms"], render: (c) => {
        c.append(el("p", "hint", t("symptom.none")));
        c.append(this.multi("symptoms", SYMPTOMS.map((s) => [s, "symptom." + s])));
      } },
      { id: "symptomsNote", title: "field.symptomsNote", optional: true, fields: ["symptomsNote"],
        skip: () => d().symptoms.length === 0, render: (c) => {
          c.append(this.textField("symptomsNote", { telex: true, max: 1000, label: false }));
        } },
      { id: "consent", title: "consent.title", fields: ["consent"], render: (c) => this.consent(c) },
    ];
  }

  // ---- lifecycle ----
  start(screeningId) {
    this.wipe();
    this.data = emptyData();
    this.screeningId = screeningId;
    this.key = uuid();
    this.step = 0;
    this.render();
  }

  /** Drops everything the person entered: DOM values, JS state, pending submission, a scan in progress. */
  wipe() {
    this.stopScan();
    this.scanned = null;
    for (const i of this.form.querySelectorAll("input")) i.value = "";
    this.form.reset();
    this.stepsEl.replaceChildren();
    this.keyboard.detach();
    this.data = null;
    this.screeningId = null;
    this.errors = {};
    this.pending = null;
    this.key = null;
    this.pickerState = {};
    this.view = "step";
  }

  /** Fills fields from a health QR's declaration prefill (`fields` of a GET /v1/qr/events read). */
  prefill(fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (this.data && k in this.data) this.data[k] = k === "birthYear" && typeof v === "number" ? String(v) : v;
    }
    this.render();
  }

  // ---- scanning a health QR ----
  startScan(screeningId) {
    if (!this.data) { this.wipe(); this.data = emptyData(); this.screeningId = screeningId; this.step = 0; }
    this.view = "scan";
    this.scanNote = null;
    this.scanned = null;
    this.render();
    this.stopScan();
    const es = new EventSource("/v1/qr/events");
    this.scan = es;
    es.addEventListener("scanning", () => { document.body.dataset.qrScan = "open"; });
    es.addEventListener("qr", (e) => {
      let o;
      try { o = JSON.parse(e.data); } catch (err) { return; }
      if (this.scan !== es || this.view !== "scan") return;
      if (o && (o.kind === "qr-pccovid" || o.kind === "qr-cccd") && o.fields && typeof o.fields === "object") {
        this.stopScan();
        this.scanned = { kind: o.kind, fields: o.fields, maskedIdNumber: typeof o.maskedIdNumber === "string" ? o.maskedIdNumber : "" };
        this.view = "confirm";
        this.render();
      } else if (o && typeof o.refused === "string") {
        this.scanNote = o.refused;
        this.renderScanNote();
      }
    });
    es.onerror = () => {
      // 404 (scanning off) or the daemon went away: say so; the person can fill the form.
      if (es.readyState === EventSource.CLOSED && this.scan === es) {
        this.stopScan();
        this.scanNote = "unavailable";
        this.renderScanNote();
      }
    };
  }

  stopScan() {
    if (this.scan) { this.scan.close(); this.scan = null; }
    document.body.dataset.qrScan = "closed";
  }

  /** The refusal (or "scanning unavailable") under the camera mirror, in the page's language. */
  renderScanNote() {
    const p = this.stepsEl.querySelector("#qr-note");
    if (!p) return;
    const code = this.scanNote;
    p.dataset.refused = code || "";
    p.hidden = !code;
    p.textContent = !code ? "" : code === "unavailable" ? t("qr.unavailable")
      : has("qr.refused." + code) ? t("qr.refused." + code) : t("qr.refused.unknown");
  }

  renderScan(box) {
    box.dataset.step = "qr-scan";
    const mirror = el("div", "mirror qr-mirror");
    const img = document.createElement("img");
    img.id = "qr-preview";
    img.className = "preview";
    img.alt = "";
    img.addEventListener("error", () => { img.classList.add("broken"); img.removeAttribute("src"); });
    img.src = "/v1/camera/preview.mjpeg";
    mirror.append(img, el("div", "qr-frame"));
    const side = el("div", "qr-side");
    const hint = el("p", "body strong", t("qr.hint"));
    hint.dataset.i18n = "qr.hint";
    const formats = el("p", "hint", t("qr.formats"));
    formats.dataset.i18n = "qr.formats";
    side.append(hint, formats);
    const note = el("p", "error qr-note");
    note.id = "qr-note";
    note.setAttribute("role", "status");
    note.hidden = true;
    side.append(note);
    const manual = el("button", "btn btn-secondary", t("qr.manual"));
    manual.type = "button";
    manual.id = "qr-manual";
    manual.dataset.i18n = "qr.manual";
    manual.addEventListener("click", () => { this.stopScan(); this.view = "step"; this.step = 0; this.render(); });
    side.append(manual);
    const wrap = el("div", "qr-scan");
    wrap.append(mirror, side);
    box.append(wrap);
  }

  renderConfirm(box) {
    box.dataset.step = "qr-confirm";
    const s = this.scanned;
    const f = s.fields;
    box.append(el("p", "body", t(s.kind === "qr-cccd" ? "qr.read-cccd" : "qr.read-pccovid")));
    const list = el("dl", "qr-read");
    const row = (key, value, field) => {
      const dt = el("dt", null, t(key));
      const dd = el("dd", null, value);
      dd.dataset.field = field;
      list.append(dt, dd);
    };
    if (f.fullName) row("field.fullName", f.fullName, "fullName");
    if (f.birthYear) row("field.birthYear", String(f.birthYear), "birthYear");
    if (f.gender) row("field.gender", t("gender." + f.gender), "gender");
    if (f.passport) row("field.passport", f.passport, "passport");
    else if (s.maskedIdNumber) row("field.passport", s.maskedIdNumber + " " + t("qr.masked"), "maskedIdNumber");
    if (f.address) row("field.address", f.address, "address");
    if (f.phone) row("field.phone", f.phone, "phone");
    if (f.otherUser === true) row("field.otherUser", t("form.yes"), "otherUser");
    box.append(list);
    box.append(el("p", "hint", t("qr.check")));
    const actions = el("div", "qr-actions");
    const again = el("button", "btn btn-quiet", t("qr.again"));
    again.type = "button";
    again.id = "qr-again";
    again.addEventListener("click", () => this.startScan(this.screeningId));
    const edit = el("button", "btn btn-secondary", t("qr.edit"));
    edit.type = "button";
    edit.id = "qr-edit";
    edit.addEventListener("click", () => this.acceptScan(false));
    const ok = el("button", "btn btn-primary", t("qr.confirm"));
    ok.type = "button";
    ok.id = "qr-confirm";
    ok.addEventListener("click", () => this.acceptScan(true));
    actions.append(again, edit, ok);
    box.append(actions);
  }

  /** Puts what was read into the form: to the first step still to fill (`confirmed`), or to the first step to correct. */
  acceptScan(confirmed) {
    const s = this.scanned;
    if (!s || !this.data) return;
    this.scanned = null;
    this.data.maskedIdNumber = s.maskedIdNumber;
    this.data.source = s.kind;
    this.view = "step";
    this.prefill(s.fields);
    const b = this.body();
    const todo = this.steps.findIndex((st) => !(st.skip && st.skip()) && st.fields.some((f) => checkField(f, b[f])));
    this.step = confirmed && todo >= 0 ? todo : 0;
    this.render();
  }

  relabel() {
    if (!this.data) return;
    if (this.view !== "scan") { this.render(); return; }
    // Scanning: the texts carry data-i18n (relabelled by setLang); re-rendering would restart the camera mirror.
    this.title.textContent = t("qr.title");
    this.renderScanNote();
  }

  visibleSteps() { return this.steps.filter((s) => !(s.skip && s.skip())); }

  // ---- rendering ----
  render() {
    if (!this.data) return;
    this.keyboard.detach();
    this.stepsEl.replaceChildren();
    const steps = this.visibleSteps();
    const idx = steps.indexOf(this.steps[this.step]);
    this.back.parentElement.hidden = this.view === "scan" || this.view === "confirm";
    if (this.view === "scan" || this.view === "confirm") {
      this.title.textContent = t(this.view === "scan" ? "qr.title" : "qr.confirm-title");
      this.count.textContent = "";
      const box = el("div", "step");
      if (this.view === "scan") this.renderScan(box); else this.renderConfirm(box);
      this.stepsEl.append(box);
      if (this.view === "scan") this.renderScanNote();
      return;
    }
    if (this.view === "errors") {
      this.title.textContent = t("submit.errors");
      this.count.textContent = "";
      this.renderErrors();
      this.back.hidden = true;
      this.next.textContent = t("consent.submit");
      return;
    }
    const s = this.steps[this.step];
    const box = el("div", "step");
    box.dataset.step = s.id;
    this.title.textContent = t(s.title) + (s.optional ? " " + t("form.optional") : "");
    this.count.textContent = t("form.step", { n: idx + 1, total: steps.length });
    s.render(box);
    if (s.optional && s.id !== "symptoms") box.append(el("p", "hint", t("form.skip-hint")));
    this.stepsEl.append(box);
    this.back.hidden = idx === 0;
    this.next.textContent = t(s.id === "consent" ? "consent.submit" : "form.next");
    this.next.dataset.action = s.id === "consent" ? "submit" : "next";
    const first = box.querySelector("input[data-autofocus]");
    if (first) first.focus();
    this.layoutPicker();
  }

  errorEl(name) {
    const code = this.errors[name];
    if (!code) return null;
    const p = el("p", "error", t("err." + code));
    p.dataset.errorFor = name;
    return p;
  }

  textField(name, opts) {
    const f = el("div", "field");
    const id = "f-" + name;
    // A step with one field has its name as the step title; the input is labelled by that title.
    const label = opts.label === false ? null : el("label", "field-label", t("field." + name));
    if (label) label.htmlFor = id;
    const input = document.createElement("input");
    input.id = id;
    input.className = "input";
    input.name = name;
    input.dataset.field = name;
    input.setAttribute("inputmode", "none");     // no OS keyboard: ours
    input.autocomplete = "off";
    input.spellcheck = false;
    input.value = this.data[name] ?? "";
    if (this.errors[name]) input.classList.add("invalid");
    if (opts.autofocus !== false) input.dataset.autofocus = "";
    input.addEventListener("focus", () => {
      this.keyboard.attach(input, opts);
      input.classList.add("active");
      this.layoutPicker();
    });
    input.addEventListener("blur", () => input.classList.remove("active"));
    input.addEventListener("input", () => {
      this.data[name] = input.value;
      if (this.errors[name]) { delete this.errors[name]; input.classList.remove("invalid"); f.querySelector(".error")?.remove(); }
    });
    if (!label) input.setAttribute("aria-labelledby", "step-title");
    f.append(...(label ? [label, input] : [input]));
    const e = this.errorEl(name);
    if (e) f.append(e);
    return f;
  }

  toggle(name, labelKey) {
    const b = el("button", "choice toggle", t(labelKey));
    b.type = "button";
    b.dataset.field = name;
    b.setAttribute("aria-pressed", String(!!this.data[name]));
    b.addEventListener("click", () => { this.data[name] = !this.data[name]; b.setAttribute("aria-pressed", String(this.data[name])); });
    return b;
  }

  choices(name, options, labelKey) {
    const f = el("div", "field");
    if (labelKey) f.append(el("span", "field-label", t(labelKey)));
    const g = el("div", "choices");
    g.dataset.field = name;
    for (const [value, key] of options) {
      const b = el("button", "choice", t(key));
      b.type = "button";
      b.dataset.value = value;
      b.setAttribute("aria-pressed", String(this.data[name] === value));
      b.addEventListener("click", () => {
        this.data[name] = value;
        delete this.errors[name];
        for (const o of g.children) o.setAttribute("aria-pressed", String(o === b));
        f.querySelector(".error")?.remove();
      });
      g.append(b);
    }
    f.append(g);
    const e = this.errorEl(name);
    if (e) f.append(e);
    return f;
  }

  multi(name, options) {
    const g = el("div", "choices wide");
    g.dataset.field = name;
    for (const [value, key] of options) {
      const b = el("button", "choice toggle", t(key));
      b.type = "button";
      b.dataset.value = value;
      b.setAttribute("aria-pressed", String(this.data[name].includes(value)));
      b.addEventListener("click", () => {
        const set = new Set(this.data[name]);
        if (set.has(value)) set.delete(value); else set.add(value);
        this.data[name] = SYMPTOMS.filter((s) => set.has(s));
        b.setAttribute("aria-pressed", String(set.has(value)));
      });
      g.append(b);
    }
    const f = el("div", "field");
    f.append(g);
    const e = this.errorEl(name);
    if (e) f.append(e);
    return f;
  }

  yesno() {
    const grid = el("div", "yesno");
    for (const q of QUESTIONS) {
      const label = el("span", "yesno-q", t("field." + q));
      const yes = el("button", "choice yes", t("form.yes"));
      const no = el("button", "choice no", t("form.no"));
      for (const [b, v] of [[yes, 1], [no, 2]]) {
        b.type = "button";
        b.dataset.field = q;
        b.dataset.value = String(v);
        b.setAttribute("aria-pressed", String(this.data[q] === v));
        b.addEventListener("click", () => {
          this.data[q] = v;
          delete this.errors[q];
          yes.setAttribute("aria-pressed", String(v === 1));
          no.setAttribute("aria-pressed", String(v === 2));
          grid.querySelector(`[data-error-for="${q}"]`)?.remove();
        });
      }
      grid.append(label, yes, no);
      const e = this.errorEl(q);
      if (e) { e.classList.add("yesno-error"); grid.append(e); }
    }
    return grid;
  }

  // ---- province / commune pickers: filter by typing, as many results as fit, paged ----
  units_for(name) {
    if (name === "provinceId") {
      const ps = this.units.provinces.map((p) => ({ code: p.code, name: p.name }));
      ps.sort((a, b) => (b.code === HOME_PROVINCE) - (a.code === HOME_PROVINCE));
      return ps;
    }
    const p = this.units.provinces.find((p) => p.code === this.data.provinceId);
    return p ? p.wards.map(([code, name]) => ({ code, name })) : [];
  }

  picker(name) {
    const wrap = el("div", "picker");
    wrap.dataset.field = name;
    if (name === "wardId" && !this.data.provinceId) {
      wrap.append(el("p", "error", t("ward.choose-province")));
      return wrap;
    }
    const st = (this.pickerState[name] ||= { q: "", page: 0 });
    const head = el("div", "picker-head");
    const input = document.createElement("input");
    input.className = "input";
    input.id = "f-" + name + "-filter";
    input.dataset.filterFor = name;
    input.setAttribute("inputmode", "none");
    input.placeholder = t("ward.filter");
    input.setAttribute("aria-label", t("ward.filter"));
    input.value = st.q;
    if (name === "wardId") input.dataset.autofocus = "";
    input.addEventListener("focus", () => { this.keyboard.attach(input, { telex: false, max: 40 }); this.layoutPicker(); });
    input.addEventListener("input", () => { st.q = input.value; st.page = 0; this.layoutPicker(); });
    const count = el("span", "picker-count");
    const prev = el("button", "btn btn-secondary picker-page", "◀");
    const next = el("button", "btn btn-secondary picker-page", "▶");
    prev.type = next.type = "button";
    prev.dataset.page = "prev"; next.dataset.page = "next";
    prev.addEventListener("click", () => { st.page = Math.max(0, st.page - 1); this.layoutPicker(); });
    next.addEventListener("click", () => { st.page += 1; this.layoutPicker(); });
    head.append(input, count, prev, next);
    const grid = el("div", "picker-grid");
    wrap.append(head);
    const chosen = this.units_for(name).find((u) => u.code === this.data[name]);
    const sel = el("p", "selected-unit", chosen ? t("ward.selected", { name: chosen.name }) : "");
    sel.hidden = !chosen;
    const e = this.errorEl(name);
    if (e) wrap.append(e);
    wrap.append(grid, sel);
    return wrap;
  }

  /** Renders as many picker results as fit the space left (depends on orientation and on the keyboard). */
  layoutPicker() {
    requestAnimationFrame(() => {
      const wrap = this.stepsEl.querySelector(".picker[data-field]");
      if (!wrap || !this.data) return;
      const grid = wrap.querySelector(".picker-grid");
      if (!grid) return;
      const name = wrap.dataset.field;
      const st = this.pickerState[name];
      const q = fold(st.q.trim());
      const all = this.units_for(name).filter((u) => !q || fold(u.name).includes(q));
      grid.replaceChildren();
      const w = grid.clientWidth, h = grid.clientHeight;
      const cols = Math.max(1, Math.floor((w + 8) / (name === "provinceId" ? 230 : 290)));
      const rows = Math.max(1, Math.floor((h + 8) / 80));
      const per = cols * rows;
      const pages = Math.max(1, Math.ceil(all.length / per));
      st.page = Math.min(st.page, pages - 1);
      grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
      for (const u of all.slice(st.page * per, st.page * per + per)) {
        const b = el("button", "choice", u.name);
        b.type = "button";
        b.dataset.value = u.code;
        b.setAttribute("aria-pressed", String(this.data[name] === u.code));
        b.addEventListener("click", () => {
          this.data[name] = u.code;
          if (name === "provinceId") { this.data.wardId = null; delete this.pickerState.wardId; }
          delete this.errors[name];
          wrap.querySelector(".error")?.remove();
          for (const o of grid.children) o.setAttribute("aria-pressed", String(o === b));
          const sel = wrap.querySelector(".selected-unit");
          sel.textContent = t("ward.selected", { name: u.name });
          sel.hidden = false;
        });
        grid.append(b);
      }
      wrap.querySelector(".picker-count").textContent = t("ward.count", { n: all.length });
      const [prev, next] = wrap.querySelectorAll(".picker-page");
      prev.disabled = st.page === 0;
      next.disabled = st.page >= pages - 1;
      prev.hidden = next.hidden = pages <= 1;
    });
  }

  consent(c) {
    const box = el("div", "consent-text");
    // The face photo's retention is the daemon's [queue] face_retention_hours (GET /v1/kiosk/settings).
    const h = this.settings?.faceRetentionHours;
    const period = !(h > 0) ? t("period.configured") : h % 24 === 0 ? t("period.days", { n: h / 24 }) : t("period.hours", { n: h });
    for (const k of ["what", "why", "who", "keep", "rights"]) box.append(el("p", "", t("consent." + k, { period })));
    box.append(el("p", "consent-law", t("consent.law")));
    c.append(box);
    const f = el("div", "field");
    f.append(this.toggle("consent", "consent.agree"));
    const e = this.errorEl("consent");
    if (e) f.append(e);
    f.querySelector(".toggle").addEventListener("click", () => { delete this.errors.consent; f.querySelector(".error")?.remove(); });
    c.append(f);
  }

  renderErrors() {
    const box = el("div", "step");
    box.dataset.step = "errors";
    const list = el("ul", "errors-list");
    for (const [field, code] of Object.entries(this.errors)) {
      const li = el("li");
      li.dataset.errorFor = field;
      const txt = el("span", "err-text");
      txt.append(el("b", "", has("field." + field) ? t("field." + field) : field), el("span", "err-code", t("err." + code)));
      const fix = el("button", "btn btn-secondary", t("submit.fix"));
      fix.type = "button";
      fix.addEventListener("click", () => {
        const i = this.steps.findIndex((s) => s.fields.includes(field));
        if (i >= 0) { this.step = i; this.view = "step"; this.render(); }
      });
      li.append(txt, fix);
      list.append(li);
    }
    box.append(list);
    this.stepsEl.append(box);
  }

  // ---- navigation, checks, submission ----
  body() {
    const d = this.data;
    const b = { fullName: d.fullName.trim(), birthYear: /^\d+$/.test(d.birthYear) ? Number(d.birthYear) : d.birthYear,
      gender: d.gender, nation: d.nation, provinceId: d.provinceId, wardId: d.wardId, address: d.address.trim(),
      phone: d.phone.trim(), hasPatient: d.hasPatient, hasFromSickCountry: d.hasFromSickCountry, hasSick: d.hasSick,
      consent: d.consent === true, screeningId: this.screeningId };
    if (d.otherUser) b.otherUser = true;
    if (d.passport.trim()) b.passport = d.passport.trim();
    if (d.email.trim()) b.email = d.email.trim();
    if (d.countryPassing.trim()) b.countryPassing = d.countryPassing.trim();
    if (d.symptoms.length) b.symptoms = [...d.symptoms];
    if (d.symptoms.length && d.symptomsNote.trim()) b.symptomsNote = d.symptomsNote.trim();
    if (d.source === "qr-pccovid" || d.source === "qr-cccd") b.source = d.source;
    for (const k of Object.keys(b)) if (b[k] === null || b[k] === "") delete b[k];
    return b;
  }

  check(fields) {
    const b = this.body();
    let ok = true;
    for (const f of fields) {
      const code = checkField(f, b[f]);
      if (code) { this.errors[f] = code; ok = false; } else delete this.errors[f];
    }
    return ok;
  }

  go(dir) {
    if (!this.data) return;
    if (this.view === "errors") { this.submit(); return; }
    const s = this.steps[this.step];
    if (dir > 0 && s.id === "consent") { this.submit(); return; }
    if (dir > 0 && !this.skipChecks && !this.check(s.fields)) { this.render(); return; }
    let i = this.step;
    do { i += dir; } while (i > 0 && i < this.steps.length - 1 && this.steps[i].skip && this.steps[i].skip());
    this.step = Math.max(0, Math.min(this.steps.length - 1, i));
    this.render();
  }

  async submit() {
    if (!this.skipChecks) {
      const all = this.steps.flatMap((s) => s.fields);
      if (!this.check(all)) {
        // Only this step's fields wrong (typically the consent tick): show them in place; else the list.
        const here = new Set(this.view === "step" ? this.steps[this.step].fields : []);
        if (Object.keys(this.errors).every((f) => here.has(f))) this.render(); else this.showErrors();
        return;
      }
    }
    // The same key for every send of this form session, even when a field changed after a lost answer: if an
    // earlier send was saved after all, the daemon answers 422 idempotency-key-reused with that record's code
    // (the first version stands) instead of storing this person twice.
    this.pending = { json: JSON.stringify(this.body()), key: this.key };
    await this.send();
  }

  async send() {
    if (!this.pending) return;
    const { json, key } = this.pending;
    this.notice.show("sending");
    let r;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), (this.submitTimeoutS || 20) * 1000);
    try {
      r = await fetch("/v1/declarations", {
        method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": key }, body: json, signal: ac.signal,
      });
    } catch (e) {
      if (this.data) this.notice.show("network", () => this.send());
      return;
    } finally { clearTimeout(timer); }
    let o = {};
    try { o = await r.json(); } catch (e) { /* not JSON */ }
    if (!this.data) return;          // wiped meanwhile (inactivity)
    if (r.status === 201) {
      this.notice.hide();
      const code = o.shortCode || (o.id ? String(o.id).slice(0, 8).toUpperCase() : "");
      this.wipe();
      this.onDone(code, o);
      return;
    }
    if (r.status === 422 && o.code === "idempotency-key-reused") {
      // An earlier send of this form was saved (its answer was lost), before the last change: that one stands.
      this.notice.hide();
      const code = o.shortCode || (o.id ? String(o.id).slice(0, 8).toUpperCase() : "");
      this.wipe();
      this.onDone(code, { alreadySaved: true });
      return;
    }
    if (r.status === 422) {
      this.notice.hide();
      this.errors = {};
      const list = Array.isArray(o.errors) && o.errors.length ? o.errors : [{ field: o.field, code: o.code }];
      for (const e of list) {
        const field = String(e.field || "").replace(/\[\d+\]$/, "") || "unknown";
        if (!(field in this.errors)) this.errors[field] = ["required", "type", "empty", "too-long", "out-of-range", "invalid-choice",
          "invalid-phone", "invalid-email", "invalid-characters", "unknown-field", "consent-required"].includes(e.code) ? e.code : "unknown";
      }
      this.pending = null;
      this.showErrors();
      return;
    }
    if (r.status === 409) {
      this.notice.show("used", () => { this.wipe(); this.onQuit("used"); });
      return;
    }
    // 503 / 507 (queue full, disk), or anything else: keep the data, offer a retry, ask the staff.
    this.notice.show("failed", () => this.send(), () => this.notice.hide());
  }

  showErrors() {
    this.view = "errors";
    this.render();
  }
}
