"""Actions on the kiosk page, the way a person does them: taps on the screen and on the on-screen keyboard."""
import time

from browser import wait


def tap(d, css):
    """Taps the first visible element matching `css` (a real click, so pointer events and focus happen)."""
    els = [e for e in d.find_elements("css selector", css) if e.is_displayed()]
    assert els, f"nothing visible to tap: {css}"
    els[0].click()
    time.sleep(0.05)


def key(d, k):
    tap(d, f'#keyboard .key[data-key="{k}"]')


def type_keys(d, text):
    """Types `text` on the on-screen keyboard, one key per character (upper case through Shift; Telex is the page's)."""
    for ch in text:
        if ch == " ":
            key(d, "{space}")
        elif ch.isalpha() and ch.isupper():
            # The name field capitalises words by itself; elsewhere press Shift first.
            caps = d.execute_script(
                "const k = document.querySelector('#keyboard .key[data-key=\"' + arguments[0] + '\"]'); return k && k.textContent === arguments[0].toUpperCase();",
                ch.lower())
            if not caps:
                key(d, "{shift}")
            key(d, ch.lower())
        else:
            key(d, ch)


def step_id(d):
    return d.execute_script("const s = document.querySelector('#steps .step'); return s && s.dataset.step")


def next_step(d, expect=None):
    before = step_id(d)
    tap(d, "#form-next")
    if expect:
        wait(d, f"document.querySelector('#steps .step') && document.querySelector('#steps .step').dataset.step === '{expect}'",
             5, f"step {expect} after {before}")


def field_value(d, name):
    return d.execute_script("const i = document.querySelector('input[data-field=\"' + arguments[0] + '\"]'); return i && i.value", name)


def choose(d, value, within="#steps"):
    tap(d, f'{within} .choice[data-value="{value}"]')


def pick_unit(d, field, filter_text, code):
    """Filters a province / commune picker by typing and taps the unit with `code`."""
    tap(d, f'input[data-filter-for="{field}"]')
    type_keys(d, filter_text)
    wait(d, f"document.querySelector('.picker-grid .choice[data-value=\"{code}\"]')", 5, f"{field} {code} in the list")
    tap(d, f'.picker-grid .choice[data-value="{code}"]')
    wait(d, f"document.querySelector('.picker-grid .choice[data-value=\"{code}\"]').getAttribute('aria-pressed') === 'true'", 3)


def fill_declaration(d, p, shots=None):
    """Goes through every step with person `p` (dict). `shots(name)` is called on each step for screenshots."""
    snap = shots or (lambda name: None)
    wait(d, "document.querySelector('#steps .step')", 5, "the form")
    assert step_id(d) == "name"
    type_keys(d, p["name_keys"])
    assert field_value(d, "fullName") == p["fullName"], field_value(d, "fullName")
    snap("form-1-name")
    next_step(d, "birth")
    type_keys(d, p["birthYear"])
    choose(d, p["gender"])
    snap("form-2-birth")
    next_step(d, "nation")
    choose(d, p.get("nation", "VN"))
    snap("form-3-nation")
    next_step(d, "passport")
    if p.get("passport"):
        type_keys(d, p["passport"])
    snap("form-4-passport")
    next_step(d, "province")
    snap("form-5-province")
    pick_unit(d, "provinceId", p["province_filter"], p["provinceId"])
    next_step(d, "ward")
    pick_unit(d, "wardId", p["ward_filter"], p["wardId"])
    snap("form-6-ward")
    next_step(d, "address")
    type_keys(d, p["address_keys"])
    snap("form-7-address")
    next_step(d, "phone")
    type_keys(d, p["phone"])
    snap("form-8-phone")
    next_step(d, "email")
    if p.get("email"):
        type_keys(d, p["email"])
    snap("form-9-email")
    next_step(d, "contacts")
    for q in ["hasPatient", "hasFromSickCountry", "hasSick"]:
        tap(d, f'.yesno .choice[data-field="{q}"][data-value="{p[q]}"]')
    snap("form-10-contacts")
    next_step(d, "travel")
    snap("form-11-travel")
    next_step(d, "symptoms")
    for s in p.get("symptoms", []):
        choose(d, s)
    snap("form-12-symptoms")
    next_step(d, "symptomsNote" if p.get("symptoms") else "consent")
    if p.get("symptoms"):
        snap("form-13-symptoms-note")
        next_step(d, "consent")
    snap("form-14-consent")
