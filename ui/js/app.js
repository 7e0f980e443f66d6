// The kiosk screen: follows the daemon's screening state (Server-Sent Events), shows the result, takes the
// health declaration. The daemon drives the flow (it keeps a result on screen while its person is in view and a
// while after); the page only keeps the person in the declaration while they type.
import { loadCatalogues, setLang, t, currentLang, formatTemp, formatNumber } from "./i18n.js";
import { Keyboard } from "./keyboard.js";
import { DeclarationForm } from "./form.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// Timings (seconds). The query overrides exist for the browser tests only.
const num = (k, d) => (params.has(k) && isFinite(Number(params.get(k))) ? Number(params.get(k)) : d);
const DONE_MAX_S = num("done-max", 15);          // "declaration saved" at most this long
const INACTIVE_S = num("inactivity", 90);        // no touch in the declaration → "Are you still there?"
const STILL_S = num("still", 20);                // … then wipe

const EQUIPMENT_FLAGS = new Set(["sensor_unavailable", "reference_missing", "reference_noisy", "not_calibrated"]);
const KNOWN_FLAGS = new Set(["warming_up", "too_far", "several_faces", "sensor_unavailable", "reference_missing", "reference_noisy", "implausible_low", "not_calibrated"]);
const PROMPT_ICON = { "too-far": "i-closer", "too-close": "i-back", "multiple-faces": "i-two", "not-frontal": "i-eye",
  blurry: "i-still", settling: "i-still", "no-face": "i-closer", ready: "i-still" };
const KNOWN_REASONS = new Set(Object.keys(PROMPT_ICON));

const app = {
  view: null,          // the daemon's last state (GET /v1/screening or an SSE "screening" event)
  mode: "follow",      // "follow" the daemon | "form" (declaration; ignores the daemon, except a new person's result) | "done"
  shown: null,         // the result on screen: {screeningId, screening, at}
  doneFor: null,       // screeningId the "declaration saved" screen belongs to
  alerted: new Set(),  // screeningIds an elevated alert has sounded for
  declared: new Set(), // screeningIds a declaration was saved for (not offered again)
  timers: {},
  warm: null,          // {left, at}
};
window.kiosk = app;    // read-only inspection from the tests (mode, view)

// ---------------------------------------------------------------- screen helpers
function showScreen(name) {
  const entering = document.body.dataset.screen !== name;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.dataset.screen !== name;
  document.body.dataset.screen = name;
  // The camera mirror streams only while it is on screen.
  const img = $("preview");
  if (name === "camera") {
    if (entering) img.classList.remove("broken");        // try again on each visit; hidden if it fails
    if (!img.getAttribute("src") && !img.classList.contains("broken")) img.src = "/v1/camera/preview.mjpeg";
  } else if (img.getAttribute("src")) {
    img.removeAttribute("src");
  }
}

function setStatus(kind) {
  const icon = { idle: "i-ready", "warming-up": "i-hourglass", unavailable: "i-staff", "face-seen": "i-eye", measuring: "i-thermo",
    normal: "i-ok", elevated: "i-staff", invalid: "i-retry", declare: "i-form", done: "i-ok" }[kind];
  const s = $("status");
  s.dataset.kind = kind;
  $("status-use").setAttribute("href", "#" + icon);
  const txt = $("status-text");
  txt.dataset.i18n = "status." + kind;
  txt.textContent = t("status." + kind);
}

function clearTimer(name) { clearTimeout(app.timers[name]); clearInterval(app.timers[name]); delete app.timers[name]; }

// ---------------------------------------------------------------- the daemon's state
function onView(v) {
  if (!v || typeof v !== "object") return;
  app.view = v;
  document.body.dataset.seq = String(v.seq ?? "");
  document.body.dataset.daemonState = v.state || "";
  if (app.mode === "form") {
    // The person stepped aside to type: stay, unless someone else has been measured meanwhile. The camera is on
    // this kiosk, so a new result means a new person stands at it: the typed declaration (someone's personal
    // data) is wiped and the new person gets their own result and id (ui/README.md, "A new person").
    if (v.state === "result" && v.screeningId && v.screeningId !== form.screeningId) quitForm("new-person");
    return;
  }
  if (app.mode === "done") {
    if (v.state === "result" && v.screeningId === app.doneFor) return;
    leaveDone();
    return;
  }
  render();
}

function render() {
  const v = app.view;
  if (!v) return;
  if (v.state !== "warming-up") clearTimer("warm");
  // The daemon keeps a result on screen while its person is in view (and a while after): the page follows it,
  // except that a result already declared is not offered again.
  if (v.state === "result" && v.screening && !app.declared.has(v.screeningId)) return renderResult(v);
  if (v.state !== "result") app.shown = null;
  if (v.sensor && v.sensor.available === false) { setStatus("unavailable"); showScreen("unavailable"); return; }
  switch (v.state) {
    case "warming-up": return renderWarmup(v);
    case "face-seen": return renderFace(v);
    case "measuring": return renderMeasuring(v);
    default: setStatus("idle"); showScreen("idle");
  }
}

function renderWarmup(v) {
  setStatus("warming-up");
  showScreen("warming-up");
  const left = v.sensor?.warmUpRemainingSeconds;
  // A new daemon update restarts the local count; a re-render (language switch) does not.
  if (typeof left !== "number") app.warm = null;
  else if (!app.warm || app.warm.seq !== v.seq) app.warm = { left, at: performance.now(), seq: v.seq };
  const tick = () => {
    const el = $("warmup-left");
    if (!app.warm) { el.textContent = "--:--"; return; }
    const s = Math.max(0, Math.ceil(app.warm.left - (performance.now() - app.warm.at) / 1000));
    el.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  tick();
  clearTimer("warm");
  app.timers.warm = setInterval(tick, 500);   // display only: between the daemon's updates
}

function renderFace(v) {
  setStatus("face-seen");
  showScreen("camera");
  $("face-panel").hidden = false;
  $("measure-panel").hidden = true;
  const reasons = Array.isArray(v.reasons) ? v.reasons : [];
  let reason = reasons.find((r) => KNOWN_REASONS.has(r)) || (v.faces > 1 ? "multiple-faces" : v.faces === 0 ? "no-face" : "ready");
  const p = $("prompt");
  p.dataset.i18n = "prompt." + reason;
  p.dataset.reason = reason;
  p.textContent = t("prompt." + reason);
  $("prompt-use").setAttribute("href", "#" + PROMPT_ICON[reason]);
  const d = $("distance");
  if (typeof v.distanceM === "number" && v.faces === 1) {
    d.hidden = false;
    d.textContent = t("prompt.distance", { d: formatNumber(v.distanceM, 1) });
  } else d.hidden = true;
}

function renderMeasuring(v) {
  setStatus("measuring");
  showScreen("camera");
  $("face-panel").hidden = true;
  $("measure-panel").hidden = false;
  const f = v.progress?.frames ?? 0, n = v.progress?.needed ?? 0;
  $("progress-bar").style.width = n > 0 ? `${Math.min(100, (100 * f) / n)}%` : "0%";
  $("progress").setAttribute("aria-valuemax", String(n));
  $("progress").setAttribute("aria-valuenow", String(f));
  $("progress-text").textContent = n > 0 ? t("measuring.progress", { frames: f, needed: n }) : "";
}

function renderResult(v) {
  const s = v.screening;
  const kind = s.result === "normal" || s.result === "elevated" ? s.result : "invalid";
  if (!app.shown || app.shown.screeningId !== v.screeningId) app.shown = { screeningId: v.screeningId, screening: s };
  setStatus(kind);
  showScreen("result");
  // Declaring is offered only while the measured person stands at the kiosk: once they left (the daemon holds the
  // result on screen a while), nobody else can tap it and take their id.
  $("declare").hidden = v.personInView === false;
  const card = $("result-card");
  card.dataset.result = kind;
  card.dataset.screeningId = v.screeningId || "";
  const head = $("result-headline"), body = $("result-body"), temp = $("result-temp"), todo = $("result-todo"), staff = $("result-staff");
  temp.hidden = todo.hidden = staff.hidden = true;
  staff.replaceChildren();
  const staffLine = (key, extra) => {
    const b = document.createElement("span");
    b.textContent = t("staff.label");
    staff.append(b, " " + t(key) + (extra ? " " + extra : ""));
    staff.hidden = false;
  };
  if (kind === "normal") {
    $("result-use").setAttribute("href", "#i-ok");
    head.textContent = t("result.normal.headline");
    temp.hidden = typeof s.correctedTemperatureC !== "number";
    if (!temp.hidden) temp.textContent = formatTemp(s.correctedTemperatureC);
    body.textContent = t("result.normal.body");
  } else if (kind === "elevated") {
    // Never a diagnosis: the person is asked to wait for a clinical-thermometer check; the reading is for the staff.
    $("result-use").setAttribute("href", "#i-staff");
    head.textContent = t("result.elevated.headline");
    body.textContent = t("result.elevated.body");
    const reading = typeof s.correctedTemperatureC === "number"
      ? t("staff.reading", { temp: formatTemp(s.correctedTemperatureC), threshold: formatTemp(s.thresholdC ?? 37.5) }) : "";
    staffLine("staff.secondary", reading);
    if (!app.alerted.has(v.screeningId)) { app.alerted.add(v.screeningId); soundAlert(); }
  } else {
    $("result-use").setAttribute("href", "#i-retry");
    const flags = Array.isArray(s.flags) ? s.flags : [];
    const flag = flags.find((f) => KNOWN_FLAGS.has(f)) || "unknown";
    head.textContent = t("result.invalid.headline");
    body.textContent = t("flag." + flag);
    body.dataset.flag = flag;
    todo.textContent = t("todo." + flag);
    todo.hidden = false;
    if (EQUIPMENT_FLAGS.has(flag)) staffLine("staff.check-equipment");
  }
}

// ---------------------------------------------------------------- the elevated alert (for the staff)
let audio = null;
function soundAlert() {
  document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
  try {
    audio ||= new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    const t0 = audio.currentTime + 0.05;
    // Three two-tone chimes (880 Hz then 660 Hz), 1.2 s apart: noticeable for the staff, not a siren.
    for (let i = 0; i < 3; i++) {
      for (const [f, dt] of [[880, 0], [660, 0.3]]) {
        const o = audio.createOscillator(), g = audio.createGain();
        o.type = "sine";
        o.frequency.value = f;
        const at = t0 + i * 1.2 + dt;
        g.gain.setValueAtTime(0.0001, at);
        g.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
        o.connect(g).connect(audio.destination);
        o.start(at);
        o.stop(at + 0.3);
      }
    }
    document.body.dataset.alertState = audio.state;
  } catch (e) {
    document.body.dataset.alertState = "error";
  }
}

// ---------------------------------------------------------------- declaration, done, inactivity
function startForm(scan) {
  if (!app.shown || app.view?.personInView === false || app.view?.screeningId !== app.shown.screeningId) return;
  app.mode = "form";
  document.body.dataset.mode = "form";
  setStatus("declare");
  showScreen("form");
  form.start(app.shown.screeningId);
  if (scan === true) form.startScan(app.shown.screeningId);   // the daemon reads the camera only while this is open
  touched();
}

function touched() {
  if (app.mode !== "form") return;
  clearTimer("inactive");
  app.timers.inactive = setTimeout(askStillThere, INACTIVE_S * 1000);
}

function askStillThere() {
  app.stillLeft = STILL_S;
  const upd = () => { $("still-body").textContent = t("still.body", { s: app.stillLeft }); };
  upd();
  $("still").hidden = false;
  clearTimer("still");
  app.timers.still = setInterval(() => {
    app.stillLeft -= 1;
    upd();
    if (app.stillLeft <= 0) quitForm("inactive");
  }, 1000);
}

function quitForm(why) {
  if (why === "used" && app.shown) app.declared.add(app.shown.screeningId);   // 409: that result is taken
  clearTimer("still");
  clearTimer("inactive");
  $("still").hidden = true;
  notice.hide();
  form.wipe();
  app.mode = "follow";
  document.body.dataset.mode = "follow";
  document.body.dataset.lastQuit = why;
  app.shown = null;
  render();
  if (!app.view) { setStatus("idle"); showScreen("idle"); }
}

function showDone(shortCode, answer) {
  clearTimer("inactive");
  // Saved, but without a temperature reading (the screening's hold ran out, or an earlier send of this form was
  // saved first): say so, so the person or the staff can measure again.
  const note = answer?.alreadySaved ? "done.earlier" : answer?.screening?.result === "unavailable" ? "done.unavailable" : null;
  $("done-note").hidden = !note;
  if (note) { $("done-note").dataset.i18n = note; $("done-note").textContent = t(note); } else delete $("done-note").dataset.i18n;
  app.doneFor = app.shown?.screeningId ?? null;
  if (app.doneFor) app.declared.add(app.doneFor);
  app.shown = null;
  app.mode = "done";
  document.body.dataset.mode = "done";
  $("short-code").textContent = shortCode;
  setStatus("done");
  showScreen("done");
  clearTimer("done");
  app.timers.done = setTimeout(leaveDone, DONE_MAX_S * 1000);
}

function leaveDone() {
  clearTimer("done");
  $("short-code").textContent = "";
  $("done-note").hidden = true;
  app.doneFor = null;
  app.mode = "follow";
  document.body.dataset.mode = "follow";
  render();
}

// Modal for sending / 409 / 503-507 / network errors.
const notice = {
  show(kind, primary, secondary) {
    const text = { sending: "submit.sending", network: "submit.network", failed: "submit.failed", used: "submit.used" }[kind];
    $("notice").dataset.kind = kind;
    $("notice-text").dataset.i18n = text;
    $("notice-text").textContent = t(text);
    $("notice-use").setAttribute("href", kind === "sending" ? "#i-hourglass" : kind === "used" ? "#i-retry" : "#i-staff");
    const ok = $("notice-ok"), retry = $("notice-retry");
    retry.hidden = !(kind === "network" || kind === "failed");
    ok.hidden = kind === "sending" || kind === "network";
    ok.dataset.i18n = kind === "failed" ? "form.back" : "submit.ok";
    ok.textContent = t(ok.dataset.i18n);
    retry.onclick = primary ? () => primary() : null;
    ok.onclick = kind === "used" ? () => primary() : () => (secondary ? secondary() : notice.hide());
    if (kind === "network") { ok.hidden = false; ok.dataset.i18n = "form.back"; ok.textContent = t("form.back"); ok.onclick = () => notice.hide(); }
    $("notice").hidden = false;
  },
  hide() { $("notice").hidden = true; },
};

// ---------------------------------------------------------------- connection to the daemon
let es = null;
function connect() {
  es = new EventSource("/v1/screening/events");
  es.addEventListener("screening", (e) => {
    try { onView(JSON.parse(e.data)); } catch (err) { console.warn("bad event", err); }
  });
  es.onopen = () => { $("conn").hidden = true; document.body.dataset.connected = "true"; };
  es.onerror = () => {
    $("conn").hidden = false;
    document.body.dataset.connected = "false";
    if (es.readyState === EventSource.CLOSED) {      // the browser gave up (e.g. HTTP error): retry ourselves
      clearTimer("reconnect");
      app.timers.reconnect = setTimeout(connect, 3000);
    }
  };
}

async function initialState() {
  try {
    const r = await fetch("/v1/screening", { cache: "no-store" });
    if (r.ok && !app.view) onView(await r.json());
  } catch (e) { /* the event stream will bring it */ }
}

// ---------------------------------------------------------------- language
function switchLang() {
  const l = currentLang() === "vi" ? "en" : "vi";
  setLang(l);
  document.body.dataset.lang = l;
  for (const o of document.querySelectorAll(".lang-opt")) o.classList.toggle("active", o.dataset.lang === l);
  keyboard.relabel();
  form.relabel();
  if (app.mode === "follow") render();
  if (!$("still").hidden) $("still-body").textContent = t("still.body", { s: app.stillLeft });
}

// ---------------------------------------------------------------- start
let keyboard, form;
async function main() {
  await loadCatalogues();
  const units = await (await fetch("data/admin-units.json")).json();
  let settings = {};
  try { settings = await (await fetch("/v1/kiosk/settings", { cache: "no-store" })).json(); } catch (e) { /* stated generically */ }
  keyboard = new Keyboard($("keyboard"), t);
  form = new DeclarationForm({
    form: $("form"), stepsEl: $("steps"), title: $("step-title"), count: $("step-count"),
    back: $("form-back"), next: $("form-next"), keyboard, notice, units, settings,
    skipChecks: params.has("skip-client-checks"),
    submitTimeoutS: num("submit-timeout", 20),       // no answer within this → "try again"
    onDone: (code, answer) => showDone(code, answer),
    onQuit: (why) => quitForm(why),
  });
  setLang("vi");
  document.body.dataset.lang = "vi";
  document.querySelector('.lang-opt[data-lang="vi"]').classList.add("active");
  $("lang").addEventListener("click", switchLang);
  $("declare").addEventListener("click", () => startForm(false));
  $("declare-qr").addEventListener("click", () => startForm(true));
  $("form-cancel").addEventListener("click", () => quitForm("cancel"));
  $("still-continue").addEventListener("click", () => { clearTimer("still"); $("still").hidden = true; touched(); });
  $("still-quit").addEventListener("click", () => quitForm("inactive"));
  $("preview").addEventListener("error", () => { $("preview").classList.add("broken"); $("preview").removeAttribute("src"); });
  document.addEventListener("pointerdown", touched, true);
  document.addEventListener("keydown", touched, true);
  setStatus("idle");
  showScreen("idle");
  if (params.has("no-events")) {
    // Test-only: no daemon connection; the test feeds states (screenshots of states the demo cannot produce).
    app.feed = onView;
    $("conn").hidden = true;
    document.body.dataset.connected = "true";
  } else {
    connect();
    initialState();
  }
  setTimeout(() => { if (document.body.dataset.connected !== "true") $("conn").hidden = false; }, 3000);
  document.body.classList.remove("booting");
  document.body.dataset.ready = "true";
}

main();
