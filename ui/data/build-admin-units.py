#!/usr/bin/env python3
"""Builds ui/data/admin-units.json (34 provinces, each with its communes / wards / special zones) for the kiosk's
declaration form, from PyPI's `vietnam-provinces` package (2025 two-level structure, no districts).

    /usr/bin/python3 -m venv /tmp/vp && /tmp/vp/bin/pip install 'vietnam-provinces==2025.10.1'
    /tmp/vp/bin/python ui/data/build-admin-units.py > ui/data/admin-units.json

Output (compact, sorted by Vietnamese name, codes as strings the way the declaration sends them):
    {"meta": {...}, "provinces": [{"code": "19", "name": "Thái Nguyên", "fullName": "Tỉnh Thái Nguyên",
                                    "wards": [["05446", "Phường Quang Trung"], ...]}, ...]}
Province codes are 2 digits and ward codes 5 digits, zero-padded as in the GSO catalogue.
"""
import json
import sys
import unicodedata

import vietnam_provinces as vp

ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"


def sort_key(name):
    # Vietnamese order: base letters (with ă â đ ê ô ơ ư as their own letters), then tones.
    out = []
    for ch in name.lower():
        base = unicodedata.normalize("NFD", ch)
        letter = unicodedata.normalize("NFC", "".join(c for c in base if c not in "\u0300\u0301\u0303\u0309\u0323"))
        out.append(ALPHABET.index(letter) if letter in ALPHABET else (-1 if letter == " " else 100 + ord(letter[0])))
    return out


def main():
    data = json.loads(vp.NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    provinces = []
    for p in data:
        is_city = p["division_type"].startswith("thành phố")
        name = p["name"].removeprefix("Thành phố ")
        wards = sorted(((f'{w["code"]:05d}', w["name"]) for w in p["wards"]), key=lambda w: sort_key(w[1].split(" ", 1)[-1]))
        provinces.append({"code": f'{p["code"]:02d}', "name": name,
                          "fullName": ("Thành phố " if is_city else "Tỉnh ") + name, "wards": [list(w) for w in wards]})
    provinces.sort(key=lambda p: sort_key(p["name"]))
    meta = {
        "source": "PyPI vietnam-provinces " + vp.__version__ + " (https://github.com/sunshine-tech/VietnamProvinces)",
        "upstream": "General Statistics Office of Viet Nam (danhmuchanhchinh.gso.gov.vn); 2025 list from the draft "
                    "Prime Minister's decision on the catalogue and codes of administrative units (chinhphu.vn, July 2025)",
        "dataVersion": vp.__data_version__,
        "structure": "2025 two-level: 34 provinces / centrally-run cities, then communes, wards and special zones (no districts)",
        "licence": "vietnam-provinces is GPL-3.0-or-later (upstream pyproject.toml; the 2025.10.1 wheel declares no licence); "
                   "the unit names and codes are official government data",
        "provinces": len(provinces),
        "wards": sum(len(p["wards"]) for p in provinces),
    }
    json.dump({"meta": meta, "provinces": provinces}, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
