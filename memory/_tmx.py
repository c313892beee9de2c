"""TMX 1.4 in and out, so a memory moves between cpwx, OmegaT, Trados and Translate Toolkit.

Context travels as OmegaT does it (``<prop type="prev">``/``"next"``: the nearest neighbours),
with the whole window in ``x-cpwx-context``. Reading is strict and happens in full before
anything is stored: a malformed file is refused whole. Entity declarations are refused (no
billion laughs); a DOCTYPE naming the TMX DTD, as OmegaT writes it, is fine.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ._entry import HUMAN, TmContext, TmEntry

__all__ = ["TmxError", "read_tmx", "write_tmx"]

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_STAMP = "%Y%m%dT%H%M%SZ"


class TmxError(Exception):
    """A TMX file that cannot be read; the message names the file and the problem."""


def _lang(code: str | None) -> str:
    """``en-US`` -> ``en``: the memory is keyed by ISO 639-1 codes, as jobs are."""
    return (code or "").split("-")[0].split("_")[0].strip().lower()


def _seg_text(seg: ET.Element) -> str:
    """A segment's text without inline codes (``<bpt>``, ``<ph>``, ...): their content is
    markup of the source format, not words; their tails are words."""
    parts = [seg.text or ""]
    for child in seg:
        if child.tag == "hi":
            parts.append(_seg_text(child))
        parts.append(child.tail or "")
    return "".join(parts).strip()


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, _STAMP)
    except ValueError:
        return None


def _refuse_entities(path: Path) -> None:
    with path.open("rb") as f:
        tail = b""
        while chunk := f.read(1 << 20):
            if b"<!ENTITY" in tail + chunk:
                raise TmxError(f"{path}: refused: the file declares XML entities")
            tail = chunk[-8:]


def read_tmx(path: Path) -> list[TmEntry]:
    """Every (source, translation) pair in the file, one entry per target language."""
    try:
        _refuse_entities(path)
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise TmxError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ET.ParseError as exc:
        raise TmxError(f"{path}: not valid XML: {exc}") from exc
    header, body = root.find("header"), root.find("body")
    if root.tag != "tmx" or header is None or body is None:
        raise TmxError(f"{path}: not TMX: expected <tmx> with <header> and <body>")
    default_source = header.get("srclang", "")
    entries: list[TmEntry] = []
    for n, tu in enumerate(body.iter("tu"), 1):
        try:
            entries += _unit(tu, default_source)
        except TmxError as exc:
            raise TmxError(f"{path}: translation unit {n}: {exc}") from exc
    return entries


def _context(props: dict[str, str]) -> TmContext:
    if props.get("x-cpwx-context"):
        try:
            window = json.loads(props["x-cpwx-context"])
            return TmContext(tuple(window["prev"]), tuple(window["next"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TmxError("bad x-cpwx-context") from exc
    return TmContext(
        (props["prev"],) if props.get("prev") else (),
        (props["next"],) if props.get("next") else (),
    )


def _unit(tu: ET.Element, default_source: str) -> list[TmEntry]:
    """One ``<tu>``: an entry per translation of its source segment."""
    segs: dict[str, str] = {}
    for tuv in tu.findall("tuv"):
        lang, seg = _lang(tuv.get(_XML_LANG) or tuv.get("lang")), tuv.find("seg")
        if not lang or seg is None:
            raise TmxError("a <tuv> lacks xml:lang or <seg>")
        segs[lang] = _seg_text(seg)
    source_lang = _lang(tu.get("srclang") or default_source)
    if source_lang in ("", "*all*") and segs:
        source_lang = next(iter(segs))
    if source_lang not in segs:
        raise TmxError("no <tuv> in the source language")
    props = {p.get("type", ""): (p.text or "") for p in tu.findall("prop")}
    try:
        terms = tuple(str(t) for t in json.loads(props.get("x-cpwx-terms") or "[]"))
    except (ValueError, TypeError) as exc:
        raise TmxError("bad x-cpwx-terms") from exc
    source, context = segs[source_lang], _context(props)
    return [
        TmEntry(
            source=source,
            target=text,
            source_lang=source_lang,
            target_lang=lang,
            model=props.get("x-cpwx-model") or HUMAN,
            glossary_hash=props.get("x-cpwx-glossary-hash", ""),
            glossary_terms=terms,
            context=context,
            confidence=_float(props.get("x-cpwx-confidence"), 1.0),
            compute_seconds=_float(props.get("x-cpwx-compute-seconds"), 0.0),
            reuse_count=int(_float(tu.get("usagecount"), 0)),
            created_at=_stamp(tu.get("creationdate")),
            last_used=_stamp(tu.get("lastusagedate")),
            user_approved=props.get("x-cpwx-approved") == "true",
            movie_id=props.get("x-cpwx-movie") or None,
            audio_hash=props.get("x-cpwx-audio-hash") or None,
        )
        for lang, text in segs.items()
        if lang != source_lang and text and source
    ]


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def write_tmx(entries: Iterable[TmEntry], path: Path, tool_version: str = "1") -> int:
    """Write TMX 1.4 atomically; returns the translation units written."""
    items = list(entries)
    sources = {e.source_lang for e in items}
    root = ET.Element("tmx", version="1.4")
    header = {
        "creationtool": "cpwx",
        "creationtoolversion": tool_version,
        "segtype": "sentence",
        "o-tmf": "cpwx",
        "adminlang": "en",
        "srclang": sources.pop() if len(sources) == 1 else "*all*",
        "datatype": "plaintext",
    }
    ET.SubElement(root, "header", header)
    body = ET.SubElement(root, "body")
    for e in items:
        attrs: dict[str, str] = {"srclang": e.source_lang, "usagecount": str(e.reuse_count)}
        for name, moment in (("creationdate", e.created_at), ("lastusagedate", e.last_used)):
            if moment is not None:
                attrs[name] = moment.astimezone(UTC).strftime(_STAMP)
        tu = ET.SubElement(body, "tu", attrs)
        props = {
            "x-cpwx-model": e.model,
            "x-cpwx-confidence": f"{e.confidence:.4f}",
            "x-cpwx-compute-seconds": f"{e.compute_seconds:.4f}",
            "x-cpwx-approved": "true" if e.user_approved else "false",
            "x-cpwx-glossary-hash": e.glossary_hash,
            "x-cpwx-terms": json.dumps(list(e.glossary_terms), ensure_ascii=False)
            if e.glossary_terms
            else "",
            "x-cpwx-movie": e.movie_id or "",
            "x-cpwx-audio-hash": e.audio_hash or "",
            "prev": e.context.prev[0] if e.context.prev else "",
            "next": e.context.next[0] if e.context.next else "",
            "x-cpwx-context": json.dumps(
                {"prev": list(e.context.prev), "next": list(e.context.next)}, ensure_ascii=False
            ),
        }
        for kind, value in props.items():
            if value:
                ET.SubElement(tu, "prop", type=kind).text = value
        for lang, text in ((e.source_lang, e.source), (e.target_lang, e.target)):
            ET.SubElement(ET.SubElement(tu, "tuv", {_XML_LANG: lang}), "seg").text = text
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            ET.ElementTree(root).write(f, encoding="UTF-8", xml_declaration=True)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(items)
