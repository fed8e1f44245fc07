"""KoSIT's official XRechnung validation artefacts, installed by an administrator.

`rathaus einvoice rules install PATH` takes a release of KoSIT's *validator-configuration-xrechnung*
(the zip or its unpacked folder), reads its `scenarios.xml`, and copies the XRechnung XSL for UBL and
CII plus the `scenarios.xml` to `RATHAUS_EINVOICE_RULES_DIR/<version>/` (default
`RATHAUS_DATA_DIR/einvoice-rules/`) with a `manifest.json` (version, installed_at, sha256 of every
file, scenarios with their severity overrides). Validation then runs them in addition to the native
BR-DE rules; the newest installed version is active. Nothing is fetched from the network.

Zip files are untrusted input too: entries with absolute paths, `..`, links or names that escape the
target are refused, and so are archives with too many entries, too many bytes or a suspicious
compression ratio (zip bombs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.conf import settings
from lxml import etree

from rathaus.core.errors import DomainError

from .xmlsafe import CII, UBL

SCENARIOS_NS = "http://www.xoev.de/de/validator/framework/1/scenarios"
MANIFEST = "manifest.json"

MAX_ZIP_ENTRIES = 5000
MAX_ZIP_TOTAL_BYTES = 500 * 1024 * 1024
MAX_ZIP_ENTRY_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 200          # uncompressed/compressed per entry (XSL compresses about 10:1)

_NS_SYNTAX = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": UBL,
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": UBL,
    "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100": CII,
}


class RulesError(DomainError):
    status = 422
    title = "Regelwerk nicht installierbar"


@dataclass
class InstalledRules:
    version: str
    path: Path
    xsl: dict[str, Path]                       # "UBL"/"CII" -> XRechnung XSL
    scenarios: list[dict] = field(default_factory=list)
    installed_at: str = ""
    name: str = ""

    def custom_levels_for(self, syntax: str, customization_id: str) -> dict[str, str] | None:
        for sc in self.scenarios:
            if sc["syntax"] == syntax and customization_id in sc["customization_ids"]:
                return dict(sc["custom_levels"])
        return None


def rules_dir() -> Path:
    configured = getattr(settings, "RATHAUS_EINVOICE_RULES_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "einvoice-rules"


# --------------------------------------------------------------------------- reading what is installed

_cache_lock = threading.Lock()
_cache: dict = {"key": None, "value": None}


def _version_key(version: str):
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-_]", version))


def installed() -> list[InstalledRules]:
    base = rules_dir()
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.iterdir()):
        m = d / MANIFEST
        if not d.is_dir() or d.name.startswith(".") or not m.is_file():
            continue
        try:
            data = json.loads(m.read_text(encoding="utf-8"))
            out.append(InstalledRules(
                version=data["version"], path=d, installed_at=data.get("installed_at", ""),
                name=data.get("name", ""),
                xsl={syntax: d / rel for syntax, rel in data["xsl"].items()},
                scenarios=data.get("scenarios", []),
            ))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    out.sort(key=lambda r: _version_key(r.version))
    return out


def active() -> InstalledRules | None:
    """The newest installed version (cached; re-read when the rules directory changes)."""
    base = rules_dir()
    try:
        st = base.stat()
        key = (str(base), st.st_mtime_ns)
    except OSError:
        key = (str(base), None)
    with _cache_lock:
        if _cache["key"] == key:
            return _cache["value"]
    found = installed() if key[1] is not None else []
    value = found[-1] if found else None
    with _cache_lock:
        _cache["key"], _cache["value"] = key, value
    return value


# --------------------------------------------------------------------------- scenarios.xml

def _safe_parse_file(path: Path) -> etree._Element:
    data = path.read_bytes()
    if b"<!DOCTYPE" in data[:65536]:
        raise RulesError(f"{path.name}: DOCTYPE ist nicht erlaubt.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise RulesError(f"{path.name} ist kein wohlgeformtes XML: {e}") from e


def read_scenarios(path: Path) -> dict:
    """The XRechnung scenarios of a KoSIT `scenarios.xml`: syntax, BT-24 ids, XSL, severity overrides."""
    root = _safe_parse_file(path)
    q = f"{{{SCENARIOS_NS}}}"
    if root.tag != f"{q}scenarios":
        raise RulesError("scenarios.xml ist keine KoSIT-Szenariokonfiguration.")
    name = " ".join((root.findtext(f"{q}name") or "").split())
    date = (root.findtext(f"{q}date") or "").strip()
    scenarios = []
    for sc in root.iter(f"{q}scenario"):
        syntaxes = {_NS_SYNTAX[ns.text.strip()] for ns in sc.iter(f"{q}namespace")
                    if ns.text and ns.text.strip() in _NS_SYNTAX}
        if len(syntaxes) != 1:
            continue
        syntax = syntaxes.pop()
        match = sc.findtext(f"{q}match") or ""
        ids = re.findall(r"'([^']+)'", match)
        xsl = [(r.findtext(f"{q}location") or "").strip()
               for v in sc.iter(f"{q}validateWithSchematron") for r in v.iter(f"{q}resource")]
        xr = [loc for loc in xsl if "/xrechnung/" in loc.lower() or "xrechnung-" in loc.lower()]
        levels = {(c.text or "").strip(): c.get("level", "").strip().lower()
                  for c in sc.iter(f"{q}customLevel") if (c.text or "").strip()}
        scenarios.append({"name": " ".join((sc.findtext(f"{q}name") or "").split()), "syntax": syntax,
                          "customization_ids": ids, "xrechnung_xsl": xr[0] if xr else "",
                          "custom_levels": levels})
    m = re.search(r"XRechnung\s+(\d+\.\d+(?:\.\d+)?)", name)
    version = m.group(1) if m else ""
    if not version:
        for sc in scenarios:
            m = re.search(r"xrechnung/(\d+\.\d+(?:\.\d+)?)/", sc["xrechnung_xsl"])
            if m:
                version = m.group(1)
                break
    return {"name": name, "date": date, "version": version, "scenarios": scenarios}


# --------------------------------------------------------------------------- install / remove

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_extract(zip_path: Path, target: Path) -> None:
    """Extract a zip archive refusing path traversal, links and zip bombs."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as e:
        raise RulesError("Die Datei ist kein gültiges ZIP-Archiv.") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise RulesError(f"Das Archiv hat zu viele Einträge (mehr als {MAX_ZIP_ENTRIES}).")
        total = 0
        target = target.resolve()
        for info in infos:
            name = info.filename
            pure = PurePosixPath(name.replace("\\", "/"))
            if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
                raise RulesError(f"Unzulässiger Pfad im Archiv: {name!r}")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise RulesError(f"Symbolische Links im Archiv sind nicht erlaubt: {name!r}")
            dest = (target / pure).resolve()
            if dest != target and target not in dest.parents:
                raise RulesError(f"Unzulässiger Pfad im Archiv: {name!r}")
            if info.is_dir():
                continue
            total += info.file_size
            if info.file_size > MAX_ZIP_ENTRY_BYTES or total > MAX_ZIP_TOTAL_BYTES:
                raise RulesError("Das Archiv ist entpackt zu groß.")
            if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
                raise RulesError(f"Verdächtiges Kompressionsverhältnis (ZIP-Bombe?): {name!r}")
        for info in infos:
            dest = target / PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zf.open(info) as src, open(dest, "wb") as out:
                # the declared sizes may lie: count what really comes out
                for chunk in iter(lambda src=src: src.read(1 << 20), b""):
                    written += len(chunk)
                    if written > info.file_size or written > MAX_ZIP_ENTRY_BYTES:
                        raise RulesError(f"Eintrag größer als angegeben: {info.filename!r}")
                    out.write(chunk)


def _find_scenarios(folder: Path) -> Path:
    direct = folder / "scenarios.xml"
    if direct.is_file():
        return direct
    found = sorted(p for p in folder.glob("*/scenarios.xml") if p.is_file())
    if not found:
        raise RulesError("Keine scenarios.xml gefunden: erwartet wird ein Release der KoSIT "
                         "validator-configuration-xrechnung (ZIP oder Ordner).")
    return found[0]


def install(source: str | Path) -> InstalledRules:
    """Install a KoSIT validator configuration (zip or folder); returns what was installed."""
    source = Path(source)
    if not source.exists():
        raise RulesError(f"Nicht gefunden: {source}")
    with tempfile.TemporaryDirectory(prefix="einvoice-rules-") as tmp:
        if source.is_dir():
            folder = source
        else:
            folder = Path(tmp) / "src"
            folder.mkdir()
            safe_extract(source, folder)
        scen_path = _find_scenarios(folder)
        base = scen_path.parent
        info = read_scenarios(scen_path)
        if not info["version"]:
            raise RulesError("Die XRechnung-Version ist aus scenarios.xml nicht erkennbar.")
        xsl: dict[str, str] = {}
        for sc in info["scenarios"]:
            rel = sc["xrechnung_xsl"]
            if rel and sc["syntax"] not in xsl:
                xsl[sc["syntax"]] = rel
        if not xsl:
            raise RulesError("scenarios.xml nennt kein XRechnung-XSL.")
        version = info["version"] + (f"_{info['date']}" if info["date"] else "")
        if not re.fullmatch(r"[0-9A-Za-z.\-_]+", version):
            raise RulesError(f"Ungültige Versionsbezeichnung: {version!r}")
        staging = Path(tmp) / "out"
        staging.mkdir()
        files = {}
        for rel in [*sorted(set(xsl.values())), "scenarios.xml"]:
            pure = PurePosixPath(rel)
            if pure.is_absolute() or ".." in pure.parts:
                raise RulesError(f"Unzulässiger Pfad in scenarios.xml: {rel!r}")
            src = (base / pure).resolve()
            if not src.is_file() or base.resolve() not in src.parents:
                raise RulesError(f"In der Konfiguration fehlt die Datei {rel}.")
            dest = staging / pure
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            files[rel] = _sha256(dest)
        # the stylesheets must compile before they replace anything
        from . import xslt

        for rel in set(xsl.values()):
            try:
                xslt.compiled(staging / rel)
            except Exception as e:  # saxonche raises its own error type
                raise RulesError(f"{rel} lässt sich nicht übersetzen: {e}") from e
            finally:
                xslt.forget(staging)
        manifest = {
            "version": version, "xrechnung_version": info["version"], "release_date": info["date"],
            "name": info["name"], "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source.name, "xsl": xsl, "files": files, "scenarios": info["scenarios"],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        target_root = rules_dir()
        target_root.mkdir(parents=True, exist_ok=True)
        final = target_root / version
        tmp_final = target_root / f".{version}.new"
        if tmp_final.exists():
            shutil.rmtree(tmp_final)
        shutil.copytree(staging, tmp_final)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp_final, final)
        _touch(target_root)
    return next(r for r in installed() if r.version == version)


def remove(version: str) -> None:
    base = rules_dir()
    if not re.fullmatch(r"[0-9A-Za-z.\-_]+", version or "") or not (base / version / MANIFEST).is_file():
        raise RulesError(f"Regelwerk {version!r} ist nicht installiert.")
    shutil.rmtree(base / version)
    _touch(base)
    from . import xslt

    xslt.forget(base / version)


def verify(rules: InstalledRules) -> list[str]:
    """Files whose checksum no longer matches the manifest."""
    data = json.loads((rules.path / MANIFEST).read_text(encoding="utf-8"))
    bad = []
    for rel, digest in data.get("files", {}).items():
        p = rules.path / rel
        if not p.is_file() or _sha256(p) != digest:
            bad.append(rel)
    return bad


def _touch(path: Path) -> None:
    # the directory's mtime is the cache key of active(); make sure it moves even on coarse clocks
    now = datetime.now().timestamp()
    os.utime(path, (now, now))
    with _cache_lock:
        _cache["key"] = None
