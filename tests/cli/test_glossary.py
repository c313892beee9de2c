"""``cpwx glossary ...`` through the real CLI against a real glossary store."""

from __future__ import annotations

import json
from pathlib import Path

from glossary import GlossaryStore
from records import Segment, Transcript, Word
from testkit import run_cli, tree_state


def _one_line_error(result_stderr: str, needle: str) -> None:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpwx: error:"), result_stderr
    assert needle in lines[0] and "Traceback" not in result_stderr


def _learned(cache: Path) -> GlossaryStore:
    store = GlossaryStore(cache / "glossary_learned")
    lines = ("Where is Aditi now?", "I told Aditi twice.", "Ask Aditi again.")
    segments = tuple(
        Segment(0, 1, t, None, tuple(Word(w, score=0.95) for w in t.split())) for t in lines
    )
    store.learn("jaane_tu", Transcript("en", segments))
    return store


def test_add_show_export_import_round_trip(cli_env: dict[str, str], tmp_path: Path) -> None:
    _learned(Path(cli_env["CACHE_DIR"]))
    added = run_cli(
        "glossary", "add", "--term", "Jai", "--type", "character_name", "--movie", "Jaane_Tu",
        "--translation", "gu=જય", "--translation", "ta=ஜய்", env=cli_env,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.stdout == "added 'Jai' (character_name) to jaane_tu\n"
    ji = run_cli(
        "glossary", "add", "--term", "ji", "--type", "cultural_term", "--movie", "global",
        "--preserve", env=cli_env,
    )  # fmt: skip
    assert ji.code == 0, ji.stderr

    shown = run_cli("glossary", "show", "jaane_tu", "--json", env=cli_env)
    assert shown.code == 0, shown.stderr
    doc = shown.json
    entries = {e["term"]: e for e in doc["entries"]}
    assert doc["movie_id"] == "jaane_tu" and set(entries) == {"Aditi", "Jai"}
    assert entries["Jai"]["translations"] == {"gu": "જય", "ta": "ஜய்"}
    assert entries["Jai"]["source"] == "user" and entries["Aditi"]["frequency"] == 3
    table = run_cli("glossary", "show", "jaane_tu", env=cli_env)
    assert table.code == 0 and "Aditi" in table.stdout and "gu=જય" in table.stdout
    assert "kept as is" in run_cli("glossary", "show", "global", env=cli_env).stdout
    empty = run_cli("glossary", "show", "nothing_yet", env=cli_env)
    assert empty.code == 0 and "no glossary entries" in empty.stderr

    target = tmp_path / "exports" / "jaane_tu.json"
    exported = run_cli("glossary", "export", "jaane_tu", str(target), env=cli_env)
    assert exported.code == 0, exported.stderr
    assert exported.stdout == f"exported 2 entries of jaane_tu to {target}\n"
    assert json.loads(target.read_text(encoding="utf-8")) == doc

    other = {**cli_env, "CACHE_DIR": str(tmp_path / "other-cache")}
    imported = run_cli("glossary", "import", str(target), env=other)
    assert imported.code == 0, imported.stderr
    assert imported.stdout == "imported 2 entries into jaane_tu: Aditi, Jai\n"
    assert run_cli("glossary", "show", "jaane_tu", "--json", env=other).json == doc


def test_bad_input_is_one_line_and_changes_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    cache = Path(cli_env["CACHE_DIR"])
    _learned(cache)
    before = tree_state(cache)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "cpwx-glossary",
                "version": 1,
                "movie_id": "jaane_tu",
                "entries": [{"term": "Jai", "type": "character_name"}, {"type": "slang"}],
            }
        ),
        encoding="utf-8",
    )
    result = run_cli("glossary", "import", str(bad), env=cli_env)
    assert result.code == 1 and result.stdout == ""
    _one_line_error(result.stderr, "entry 2: a glossary entry has no 'term'")
    bad.write_text("{oops", encoding="utf-8")
    _one_line_error(
        run_cli("glossary", "import", str(bad), env=cli_env).stderr, "not a valid glossary"
    )
    _one_line_error(
        run_cli("glossary", "import", str(tmp_path / "missing.json"), env=cli_env).stderr,
        "cannot read",
    )
    for args, needle in [
        (("--type", "slang", "--movie", "x"), "unknown term type 'slang'"),
        (("--type", "character_name", "--movie", "../x"), "bad movie id '../x'"),
        (("--type", "character_name", "--movie", "x", "--translation", "gu"), "LANG=TEXT"),
    ]:
        result = run_cli("glossary", "add", "--term", "Jai", *args, env=cli_env)
        assert result.code == 1
        _one_line_error(result.stderr, needle)
    missing = run_cli("glossary", "export", "nothing", str(tmp_path / "x.json"), env=cli_env)
    _one_line_error(missing.stderr, "no glossary for 'nothing'")
    assert tree_state(cache) == before

    stored = cache / "glossary_learned" / "jaane_tu" / "learned_glossary.json"
    stored.write_bytes(stored.read_bytes()[:-5])
    damaged = run_cli("glossary", "show", "jaane_tu", "--json", env=cli_env)
    assert damaged.code == 1 and damaged.stdout == ""
    _one_line_error(damaged.stderr, "checksum mismatch")
