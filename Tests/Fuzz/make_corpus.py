#!/usr/bin/env python3
"""Writes the seed corpora in Tests/Fuzz/corpus/<target>/ (run from anywhere; rerun after changing the example files).

Frames are encoded here from the vendor protocol (GY-MCU90640: 5A 5A 02 06, 768 LE int16 pixels, Ta, LE sum of
771 words; GY-MCU90614/90615: 5A 5A type 04, BE object and ambient, low byte of the sum); configs and calibrations
are the repository's own example files, whole and with comments stripped (smaller inputs fuzz faster).
"""
import json
import math
import os
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def gy_frame(pixels, ambient):
    """pixels: 768 values row-major as seen from the sensor; the module sends columns mirrored."""
    words = []
    for k in range(768):
        row, col = divmod(k, 32)
        words.append(int(round(pixels[row * 32 + (31 - col)] * 100)))
    words.append(int(round(ambient * 100)))
    body = struct.pack("<4B", 0x5A, 0x5A, 0x02, 0x06) + struct.pack("<769h", *words)
    total = sum(struct.unpack("<771H", body)) & 0xFFFF
    return body + struct.pack("<H", total)


def scene(face_c, ambient_c=24.0):
    return [ambient_c + (face_c - ambient_c) * math.exp(-((x - 16) ** 2 + (y - 10) ** 2) / 40.0)
            for y in range(24) for x in range(32)]


def sp_frame(obj, amb, kind=0x45):
    b = bytes([0x5A, 0x5A, kind, 0x04]) + struct.pack(">hh", int(round(obj * 100)), int(round(amb * 100)))
    return b + bytes([sum(b) & 0xFF])


def strip_comments(text):
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or not s:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)

    # Serial framers.
    a, b = gy_frame(scene(36.5), 26.0), gy_frame(scene(38.2), 27.5)
    put("gymcu90640", "one-frame", a)
    put("gymcu90640", "two-frames", a + b)
    put("gymcu90640", "garbage-then-frame", bytes(range(256)) + a)
    put("gymcu90640", "truncated-then-frame", a[:900] + b)
    put("gymcu90640", "bad-checksum-then-frame", a[:-1] + bytes([a[-1] ^ 0xFF]) + b)
    put("gymcu90640", "emissivity-reply", bytes([0x01, 0x5A, 0x5A, 0x62, (0xB4 + 0x62) & 0xFF]) + a)  # first byte odd: query sent
    hot = scene(36.5)
    hot[5] = 327.67
    hot[6] = -327.68
    put("gymcu90640", "extreme-pixels", gy_frame(hot, -40.0))

    put("singlepoint", "frames", sp_frame(36.6, 24.3) + sp_frame(37.9, 25.0, 0x46))
    put("singlepoint", "garbage-then-frame", b"\x5a\x5a\x45\x04\x00" + sp_frame(36.6, 24.3))
    put("singlepoint", "extremes", sp_frame(327.67, -327.68) + sp_frame(-40.0, 85.0))

    put("asciiline", "default-format", "Ambient: 25.1 Object: 36.4\r\nAmbient: 25.2 Object: 36.6\r\n")
    put("asciiline", "variants", "ambient=25 object=37.0\nAMBIENT 24.75 OBJECT -3.5\nTa=25 To=36\n")
    put("asciiline", "overlong", "Ambient: 25 " + "x" * 300 + "\nAmbient: 25.0 Object: 36.0\n")

    # TOML, config and calibration files.
    for src in sorted((ROOT / "systemd").glob("*.toml")) + sorted((ROOT / "calibration").glob("*.toml")):
        text = src.read_text()
        put("toml", src.name, strip_comments(text))
        if src.parent.name == "systemd":
            put("config", src.name, text)
            put("config", "stripped-" + src.name, strip_comments(text))
        else:
            put("calibration", src.name, text)
            put("calibration", "stripped-" + src.name, strip_comments(text))
    put("toml", "features.toml", '''# every construct the key locator tracks
title = "a # not a comment [not.a.table]"
"quoted key" = 'literal = [x]'
dotted.key . "with spaces" = 1
multi = """
line [1]
key = "inside"
"""
lit = \'\'\'
raw \\ [x]
\'\'\'
arr = [ 1, [2, 3], { a = 1, b.c = "x" },
  # comment inside an array
  "s,]" ]
inline = { x = 1, y = { z = [1, 2] } }
when = 2026-11-20T09:30:00+07:00
day = 2026-11-20
at = 07:30:00.5
f = [inf, -inf, nan, 1e-05, -0.0, 6.02e23]

[table.sub]
k = true

[[points]]
x = 1
[[points]]
x = 2
[points.extra]
y = 3
[[points.more]]
z = 4
''')
    put("config", "missing-calibration.toml", '[kiosk]\ncheckpoint_id = "cp-1"\ndevice_id = "k1"\n[thermal]\nmodel = "gy-mcu90640"\ncalibration = "calibration/none.toml"\n')
    put("config", "wrong-types.toml", '[camera]\nfps = "15"\nwidth = 640.5\n[upload]\nendpoint = "http://x"\n[unknown]\na = 1\n')

    # Local API declarations.
    good = {
        "fullName": "Nguyễn Văn A", "birthYear": 1985, "gender": "Nam", "nation": "VN", "provinceId": "19",
        "districtId": "164", "wardId": "05431", "address": "Tổ 5, phường Quang Trung", "phone": "+84912345678",
        "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 2, "consent": True,
    }
    put("declaration", "minimal.json", json.dumps(good, ensure_ascii=False))
    full = dict(good, otherUser=False, passport="C1234567", email="a@example.vn", countryPassing="Hà Nội",
                symptoms=["fever", "cough"], symptomsNote="từ hôm qua")
    put("declaration", "full.json", json.dumps(full, ensure_ascii=False, indent=1))
    put("declaration", "unknown-field.json", json.dumps(dict(good, nationalId="001085000001")))
    put("declaration", "no-consent.json", json.dumps(dict(good, consent=False)))
    put("declaration", "bad-types.json", json.dumps(dict(good, birthYear="1985", phone=912345678)))
    put("declaration", "not-object.json", '[1, "two", {"three": null}]')
    put("declaration", "from-qr.json", json.dumps(dict(good, source="qr-cccd", passport="079203001234"), ensure_ascii=False))
    put("declaration", "bad-source.json", json.dumps(dict(good, source="qr")))

    health_qr()

    record = {
        "id": "6A1F4C2E-3B5D-4E7F-8A9B-0C1D2E3F4A5B", "checkpointId": "cp-1", "deviceId": "kiosk-1",
        "clock": {"wallTime": "2026-11-20T02:30:00.125Z", "clockSynced": True,
                  "bootId": "4f0e1c2a-8d1b-4c53-9a36-0f2b8e5d7c11", "monotonicNanos": 123456789},
        "declaration": full,
        "screening": {"result": "normal", "rawTemperatureC": 34.1, "correctedTemperatureC": 36.7, "flags": [],
                      "calibrationId": "cal-1", "sensor": "gy-mcu90640@/dev/ttyUSB0",
                      "measuredAt": "2026-11-20T02:29:58.5Z", "frameCount": 4, "ambientC": 26.0, "thresholdC": 37.5},
        "softwareVersion": "0.1.0", "faceCaptured": True,
    }
    put("queue-record", "record.json", json.dumps(record, ensure_ascii=False, sort_keys=True))
    unavailable = dict(record, screening={"result": "unavailable", "flags": ["no-result-in-time"]}, faceCaptured=False)
    put("queue-record", "unavailable.json", json.dumps(unavailable, ensure_ascii=False))

    # HTTP responses the uploader reads.
    crlf = lambda *lines: "\r\n".join(lines).encode()
    put("upload-response", "201-receipt", crlf("HTTP/1.1 201 Created", "Content-Type: application/json", "", "") +
        b'{"id":"6a1f4c2e-3b5d-4e7f-8a9b-0c1d2e3f4a5b","duplicate":false}')
    put("upload-response", "200-duplicate", crlf("HTTP/2 200", "content-type: application/json", "", "") + b'{"duplicate":true}')
    put("upload-response", "503-retry-after-seconds", crlf("HTTP/1.1 503 Service Unavailable", "Retry-After: 120", "", "") + b"busy")
    put("upload-response", "429-retry-after-date", crlf("HTTP/1.1 429 Too Many Requests", "retry-after: Wed, 18 Nov 2026 20:00:00 GMT", "", ""))
    put("upload-response", "503-rfc850-date", crlf("HTTP/1.1 503 x", "Retry-After: Wednesday, 18-Nov-26 20:00:00 GMT", "", ""))
    put("upload-response", "500-asctime-date", crlf("HTTP/1.1 500 x", "RETRY-AFTER:Wed Nov 18 20:00:00 2026", "", ""))
    put("upload-response", "100-continue-then-422", crlf("HTTP/1.1 100 Continue", "Retry-After: 5", "", "HTTP/1.1 422 Unprocessable", "Content-Length: 40", "", "") +
        b'{"error":"record JSON does not match"}')
    put("upload-response", "401", crlf("HTTP/1.1 401 Unauthorized", "WWW-Authenticate: Bearer", "", ""))
    put("upload-response", "413-long-body", crlf("HTTP/1.1 413 Content Too Large", "", "") + b"x" * 3000)



def health_qr():
    """Seeds for pccovid-qr and cccd-qr (Tests/Fuzz/Sources/QRTargets.swift), synthetic people only. The first byte
    picks the mode: "R" (< 0x80) = the rest is the code's text as is; 0x80 + k = the rest replaces field k of the
    target's template code."""
    raw = lambda text: b"R" + text.encode()
    field = lambda k, text: bytes([0x80 + k]) + text.encode()
    pc = {
        "published-shape": "031090001234|PHAM VAN CUONG|1990-03-15|0|163000000000000001|<1<HS4010000000003<0912000003",
        "masked": "******001234|PHAM VAN CUONG|1990-**-**|0|163000000000000001|<1<HS4010000000003<0912000003",
        "masked-day": "******001234|PHAM VAN CUONG|1990-03-**|0|163000000000000001|<1",
        "masked-month": "031090001234|PHAM VAN CUONG|1990-**-15|0|163000000000000001|<1",
        "proxy": "******001235|PHAM THI DUNG|2015-**-**|1|163000000000000002|163000000000000001<2<<+84912000004",
        "no-ext": "031090001234|PHAM VAN CUONG|1990-03-15|0|163000000000000001|",
        "passport": "C1234567|PHAM VAN CUONG|1990-03-15|0|163000000000000001|<0<<0912000003<signature",
        "leap-day": "031090001234|PHAM VAN CUONG|2000-02-29|0|163000000000000001|<1",
        "bad-date": "031090001234|PHAM VAN CUONG|2001-02-29|0|163000000000000001|<1",
        "whitespace": " \ufeff 031090001234 | PHAM VAN CUONG |1990-03-15| 0 |163000000000000001| < 1 \r\n",
        "five-fields": "031090001234|PHAM VAN CUONG|1990-03-15|0|163000000000000001",
        "eu-dcc": "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOK.IR9B+9D-7",
        "vietqr": "00020101021238540010A00000072701240006970436011012345678900208QRIBFTTA53037045802VN6304ABCD",
        "url": "HTTPS://QR.EXAMPLE.VN/CHECKIN/12",
    }
    for name, text in pc.items():
        put("pccovid-qr", name, raw(text))
    for k, text in [(0, "****12"), (0, "**"), (1, "Nguy\u1ec5n V\u0103n A"), (2, "1987-13-01"), (2, "1987-**-32"),
                    (3, "2"), (4, "16x"), (6, "12a"), (7, "3"), (8, "HS-401"), (9, "0912 000 003"), (12, "1899-01-01")]:
        put("pccovid-qr", f"field-{k}-{text.encode().hex()[:16]}", field(k, text))

    cccd = "079203001234|025123456|Nguy\u1ec5n V\u0103n An|01011990|Nam|S\u1ed1 3, Quang Trung, Ph\u01b0\u1eddng Phan \u0110\u00ecnh Ph\u00f9ng, Th\u00e1i Nguy\u00ean|15082021"
    import unicodedata
    seeds = {
        "seven-fields": cccd,
        "seven-fields-nfd": unicodedata.normalize("NFD", cccd),
        "six-fields": "001300000001|Tr\u1ea7n Th\u1ecb B\u00edch|29022000|N\u1eef|Th\u00f4n \u0110\u00f4ng, X\u00e3 Ph\u00fa L\u01b0\u01a1ng|01072023",
        "empty-old-cmnd": "001300000001||TR\u1ea6N TH\u1eca B\u00cdCH|29022000|NU\u031b\u0303|H\u00e0 N\u1ed9i|01072023",
        "bad-date": "001300000001|Tr\u1ea7n Th\u1ecb B\u00edch|31022000|N\u1eef|H\u00e0 N\u1ed9i|01072023",
        "issued-before-birth": "001300000001|Tr\u1ea7n Th\u1ecb B\u00edch|01012000|N\u1eef|H\u00e0 N\u1ed9i|01011999",
        "eight-fields": cccd + "|x",
    }
    for name, text in seeds.items():
        put("cccd-qr", name, raw(text))
    for k, text in [(0, "07920300123"), (1, "025123456789"), (2, "Nguye\u0302\u0303n V\u0103n An"), (3, "29021900"), (4, "Khac"),
                    (5, "  "), (6, "15082027"), (9, "N\u1eef"), (10, "\u0301An")]:
        put("cccd-qr", f"field-{k}-{text.encode().hex()[:16]}", field(k, text))


if __name__ == "__main__":
    main()
