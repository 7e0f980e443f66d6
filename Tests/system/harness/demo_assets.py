"""The demo pipeline's files, made the one way the demo (Tests/demo/demo.py), the soak (Tests/soak/soak.py), the
daemon benchmark and the system tests make them: face photos, the YuNet model, replay frames, a throwaway TLS CA
with a server certificate for 127.0.0.1, the demo calibration, and the daemon's config from
systemd/checkpointd.demo.toml. Each function takes the work directory; nothing prints unless something fails."""
import base64
import glob
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from .env import MODEL_NAME, ROOT, SHARED, binary, free_port, python

DEMO_TEMPLATE = ROOT / "systemd" / "checkpointd.demo.toml"
MAKE_FRAMES = ROOT / "Tests" / "demo" / "make_frames.py"


def photos(shared=None):
    """Face photos for the visitors (five paths): ../shared when present, otherwise photographs from Debian packages
    (python3-skimage's astronaut, facedetect's Grace Hopper; installed when missing)."""
    faces = Path(shared or SHARED) / "fixtures" / "faces"
    if faces.is_dir():
        return [str(faces / "masked/astronaut-mask-blue.png"), str(faces / "masked/grace_hopper_512-mask-white.png"),
                str(faces / "with-face/astronaut.png"), str(faces / "masked/grace_hopper_512-mask-black.png"),
                str(faces / "with-face/grace_hopper_512.jpg")]
    need = []
    for p in ("python3-skimage", "facedetect"):
        q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        if "ok installed" not in q.stdout:
            need.append(p)
    if need:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need], check=True,
                       stdout=subprocess.DEVNULL)
    a = subprocess.run([python, "-c", 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), '
                        '"data", "astronaut.png"))'], capture_output=True, text=True, check=True).stdout.strip()
    g = sorted(glob.glob("/usr/share/doc/facedetect/examples/grace_hopper*.jpg"))[:1]
    g = g[0] if g else ""
    return [a, g, a, g, a]


def model(work, shared=None):
    """Copies the YuNet model into work; False (the daemon will fall back to Haar) when there is none."""
    src = Path(shared or SHARED) / "models" / MODEL_NAME
    if not src.is_file():
        return False
    shutil.copy(src, Path(work) / MODEL_NAME)
    return True


def frames(work, out, fps, lead, visit, gap, faces=None):
    """Replay frames in `out` from the photos (default: photos()): `lead` s of empty background, then each photo
    `visit` s in view followed by `gap` s of background, at `fps`; returns the frame count (make_frames.py)."""
    work = Path(work)
    faces = list(faces or photos())
    boxes = work / "boxes.json"
    with open(boxes, "wb") as f:
        subprocess.run([binary("checkpointctl"), "detect", "--json", "--model", str(work / MODEL_NAME),
                        "--allow-fallback", *faces], stdout=f, stderr=subprocess.DEVNULL)
    Path(out).mkdir(parents=True, exist_ok=True)
    p = subprocess.run([python, str(MAKE_FRAMES), str(out), str(fps), str(lead), str(visit), str(gap), str(boxes),
                        *faces], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"make_frames.py failed (exit {p.returncode}): {p.stdout}")
    return int(p.stdout.split()[-1])


def tls(work):
    """A throwaway CA (ca.pem, ca.key) and a server certificate for 127.0.0.1 (server.pem, server.key) in work;
    returns a free TCP port on 127.0.0.1 for the receiver."""
    w = Path(work)

    def openssl(*args):
        p = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {p.stderr}")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=checkpointd demo CA",
            "-keyout", w / "ca.key", "-out", w / "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", w / "server.key",
            "-out", w / "server.csr")
    (w / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", w / "server.csr", "-CA", w / "ca.pem", "-CAkey", w / "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", w / "san.ext", "-out", w / "server.pem")
    return free_port()


def spki(cert):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate's key: what Chromium's
    --ignore-certificate-errors-spki-list takes to accept that certificate without knowing its CA."""
    def openssl(*args, input=None):
        p = subprocess.run(["openssl", *[str(a) for a in args]], input=input, capture_output=True)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {p.stderr.decode(errors='replace')}")
        return p.stdout
    der = openssl("pkey", "-pubin", "-outform", "der", input=openssl("x509", "-in", cert, "-pubkey", "-noout"))
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


CALIBRATION = """\
# Demo calibration: the simulator reports true temperatures, so the fit is the identity.
[sensor]
model = "gy-mcu90640"
serial = "SIM-DEMO-0001"
emissivity = 0.98
[calibration]
id = "demo-identity"
calibrated_by = "make-demo"
calibrated_at = 2026-11-23T08:00:00+07:00
method = "2-point"
[fit]
gain = 1.0
offset = 0.0
points = [[35.0, 35.0], [40.0, 40.0]]
residual_rms_c = 0.0
max_residual_c = 0.0
[ambient]
coefficient = 0.0
reference_c = 25.0
[distance]
table = [[0.3, 0.0], [1.0, 0.0]]
[body]
skin_to_body_offset_c = 0.9
[registration]
homography = [0.05, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 1.0]
nominal_distance_m = 0.5
baseline_m = 0.0
parallax_px_m = 0.0
[reference]
enabled = false
region = [0, 0, 2, 2]
temperature_c = 35.0
max_noise_c = 0.5
"""


def calibration(work):
    """The demo calibration in work/calibration.toml: identity fit, 0.9 °C skin-to-body."""
    path = Path(work) / "calibration.toml"
    path.write_text(CALIBRATION)
    return path


# --- sed's s command, as the configs are edited -----------------------------------------------------------------
def _split_s(expr):
    """s<d>pattern<d>replacement<d>flags → (pattern, replacement, flags), in sed's (GNU) syntax."""
    if len(expr) < 2 or expr[0] != "s":
        raise ValueError(f"only sed's s command is supported: {expr!r}")
    d = expr[1]
    parts, cur, i = [], "", 2
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr):
            nxt = expr[i + 1]
            cur += nxt if nxt == d else c + nxt  # an escaped delimiter is the character itself
            i += 2
            continue
        if c == d and len(parts) < 2:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if len(parts) != 2:
        raise ValueError(f"unterminated sed s command: {expr!r}")
    return parts[0], parts[1], cur


def _bre(pattern):
    """A POSIX basic regular expression (GNU flavour) as a Python one."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            out += {"(": "(", ")": ")", "{": "{", "}": "}", "+": "+", "?": "?", "|": "|", "n": "\n",
                    "t": "\t"}.get(n, "\\" + n)
            i += 2
            continue
        if c == "[":  # a bracket expression is copied as it is (up to its closing bracket)
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            j = pattern.index("]", j)
            out += pattern[i:j + 1].replace("\\", "\\\\")
            i = j + 1
            continue
        out += {"(": r"\(", ")": r"\)", "{": r"\{", "}": r"\}", "+": r"\+", "?": r"\?", "|": r"\|"}.get(c, c)
        i += 1
    return out


def _replacement(rep):
    """sed's replacement (& the match, \\1…\\9 groups, \\n a newline, \\& a literal &) as a function of the match."""
    parts, i = [], 0
    while i < len(rep):
        c = rep[i]
        if c == "\\" and i + 1 < len(rep):
            n = rep[i + 1]
            parts.append(int(n) if n.isdigit() else {"n": "\n", "t": "\t"}.get(n, n))
            i += 2
        elif c == "&":
            parts.append(0)
            i += 1
        else:
            parts.append(c)
            i += 1
    return lambda m: "".join(m.group(p) or "" if isinstance(p, int) else p for p in parts)


def sed(text, exprs):
    """Applies sed s commands (`s#^key = .*#key = value#`, flags g and I) line by line, in order, as `sed -e … -e …`
    does (a newline a replacement adds stays in that line's pattern space for the later commands)."""
    cmds = []
    for e in exprs:
        pat, rep, flags = _split_s(e)
        cmds.append((re.compile(_bre(pat), re.S | (re.I if "I" in flags else 0)), _replacement(rep),
                     0 if "g" in flags else 1))
    lines = text.split("\n")
    last = lines.pop() if lines and lines[-1] == "" else None
    out = []
    for line in lines:
        for rx, rep, count in cmds:
            line = rx.sub(rep, line, count=count)
        out.append(line)
    return "\n".join(out) + ("\n" if last is not None else "")


def set_exprs(values):
    """{key: TOML literal} as s commands replacing each line `key = …`."""
    return [f"s\x01^{re.escape(k)} = .*\x01{k} = {str(v).replace(chr(92), chr(92) * 2).replace('&', chr(92) + '&')}\x01"
            for k, v in (values or {}).items()]


def config(work, port, tcp_port=0, sed_exprs=(), name="checkpointd.toml"):
    """The daemon's config in work/name from systemd/checkpointd.demo.toml: everything under work, the receiver on
    `port` over verified HTTPS (work/ca.pem), the demo calibration (work/calibration.toml), the kiosk screen from
    the repository's ui/ (served only when tcp_port names a loopback port: 0, off, by default so parallel runs do not
    collide), log level info; then the extra sed s commands."""
    w = str(Path(work))
    base = [f"s#/tmp/checkpointd-demo#{w}#g",
            f's#^calibration = .*#calibration = "{w}/calibration.toml"#',
            f's#^endpoint = .*#endpoint = "https://127.0.0.1:{port}/v1/records"#',
            f's#^allow_insecure_http = .*#allow_insecure_http = false\\nca_file = "{w}/ca.pem"#',
            f"s#^tcp_port = .*#tcp_port = {tcp_port or 0}#",
            f's#^dir = .*#dir = "{ROOT}/ui"#',
            's#^level = .*#level = "info"#']
    path = Path(work) / name
    path.write_text(sed(DEMO_TEMPLATE.read_text(), [*base, *sed_exprs]))
    return path


def check_config(config_path):
    """`checkpointd --check-config --no-environment CONFIG`: (exit status, its output)."""
    p = subprocess.run([binary("checkpointd"), "--check-config", "--no-environment", str(config_path)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def declaration(name, k, phone="", screening_id=None):
    """A health declaration as the kiosk front end posts it, bound to the person's own screening (when given)."""
    d = {"fullName": name, "birthYear": 1980 + k % 40, "gender": "Nam" if k % 2 == 0 else "Nu", "nation": "VN",
         "provinceId": "19", "wardId": "05446", "address": "Tổ 5, phường Quang Trung, TP Thái Nguyên",
         "phone": phone or "091234567%d" % k, "hasPatient": 2, "hasFromSickCountry": 2, "hasSick": 1 if k == 1 else 2,
         "symptoms": ["fever"] if k == 1 else [], "consent": True}
    if screening_id and screening_id != "-":
        d["screeningId"] = screening_id
    return d


def declaration_json(*args, **kw):
    return json.dumps(declaration(*args, **kw), ensure_ascii=False)

