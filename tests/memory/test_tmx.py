"""TMX 1.4 interop, checked with a real TMX reader and writer: translate-toolkit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from translate.storage.tmx import tmxfile

from memory import TmContext, TmEntry, TmxError, read_tmx, write_tmx

ENTRIES = [
    TmEntry(
        "Tum mere liye kya ho?",
        "What am I to you?",
        "hi",
        "en",
        model="indictrans2@abc",
        confidence=0.93,
        reuse_count=4,
        created_at=datetime(2026, 1, 2, 3, 4, 5),
        last_used=datetime(2026, 2, 3, 4, 5, 6),
        user_approved=True,
        glossary_hash="g1",
        glossary_terms=("Jai",),
        context=TmContext(("Jai, ruko!",), ("Pata nahi.", "Chalo.")),
        movie_id="jaane_tu",
        audio_hash="a" * 64,
    ),
    TmEntry("Namaste <ji> & co.", "Hello <ji> & co.", "hi", "en"),
    TmEntry("Good morning.", "Bonjour.", "en", "fr"),
]


def test_export_reads_back_in_translate_toolkit_and_in_cpwx(tmp_path: Path) -> None:
    path = tmp_path / "out.tmx"
    assert write_tmx(ENTRIES, path) == 3
    store = tmxfile.parsefile(str(path))
    units = [(u.source, u.target) for u in store.units]
    assert units == [(e.source, e.target) for e in ENTRIES]
    assert read_tmx(path) == ENTRIES


def test_import_of_a_translate_toolkit_file(tmp_path: Path) -> None:
    store = tmxfile(sourcelanguage="en-US", targetlanguage="de")
    store.addtranslation("The film begins.", "en-US", "Der Film beginnt.", "de")
    store.addtranslation("Nobody knows.", "en-US", "Niemand weiß es.", "de")
    path = tmp_path / "tt.tmx"
    path.write_bytes(bytes(store))
    entries = read_tmx(path)  # its DOCTYPE names the TMX DTD: that is fine
    assert [(e.source, e.target, e.source_lang, e.target_lang) for e in entries] == [
        ("The film begins.", "Der Film beginnt.", "en", "de"),
        ("Nobody knows.", "Niemand weiß es.", "en", "de"),
    ]
    assert all(e.model == "human" and e.confidence == 1.0 for e in entries)


def test_inline_codes_are_dropped_and_their_tails_kept(tmp_path: Path) -> None:
    path = tmp_path / "inline.tmx"
    path.write_text(
        '<tmx version="1.4"><header srclang="en"/><body><tu>'
        '<tuv xml:lang="en"><seg>Press <bpt i="1">&lt;b&gt;</bpt>OK<ept i="1">&lt;/b&gt;</ept>'
        " now</seg></tuv>"
        '<tuv xml:lang="fr-FR"><seg>Appuyez sur <ph>&lt;br/&gt;</ph>OK</seg></tuv>'
        "</tu></body></tmx>"
    )
    [entry] = read_tmx(path)
    assert (entry.source, entry.target, entry.target_lang) == (
        "Press OK now",
        "Appuyez sur OK",
        "fr",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('<tmx version="1.4"><header srclang="en"/><body><tu>', "not valid XML"),
        ("<root/>", "not TMX"),
        (
            '<tmx version="1.4"><header srclang="en"/><body><tu><tuv><seg>x</seg></tuv></tu>'
            "</body></tmx>",
            "lacks xml:lang",
        ),
        (
            '<tmx version="1.4"><header srclang="de"/><body><tu>'
            '<tuv xml:lang="en"><seg>x</seg></tuv></tu></body></tmx>',
            "no <tuv> in the source language",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><tmx version="1.4"><header/><body/></tmx>',
            "declares XML entities",
        ),
    ],
)
def test_malformed_files_are_refused_whole(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.tmx"
    path.write_text(body)
    with pytest.raises(TmxError, match=message):
        read_tmx(path)
