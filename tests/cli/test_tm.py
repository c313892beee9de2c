"""``cpwx tm ...`` through the real CLI: TMX in and out, approval, bad files."""

from __future__ import annotations

from pathlib import Path

from translate.storage.tmx import tmxfile

from cache_manager import CacheManager
from testkit import run_cli, tree_state


def _tmx(path: Path) -> Path:
    store = tmxfile(sourcelanguage="en", targetlanguage="hi")
    store.addtranslation("Where were you?", "en", "तुम कहाँ थे?", "hi")
    store.addtranslation("Come home.", "en", "घर आओ।", "hi")
    path.write_bytes(bytes(store))
    return path


def test_import_export_approve(cli_env: dict[str, str], tmp_path: Path) -> None:
    imported = run_cli("tm", "import", str(_tmx(tmp_path / "in.tmx")), "--json", env=cli_env)
    assert imported.code == 0, imported.stderr
    assert imported.json == {"file": str(tmp_path / "in.tmx"), "imported": 2, "pairs": ["en->hi"]}
    cache = CacheManager(Path(cli_env["CACHE_DIR"]))
    entry, level = cache.find_translation_match("Where were you?", "en", "hi")
    assert entry is not None and entry["target"] == "तुम कहाँ थे?" and level == 1.0

    approved = run_cli(
        "tm", "approve", "Come home.", "--source-language", "en", "--target-language", "hi",
        "--target", "घर चलो।", env=cli_env,
    )  # fmt: skip
    assert approved.code == 0, approved.stderr
    out = tmp_path / "out.tmx"
    exported = run_cli(
        "tm", "export", str(out), "--source-language", "en", "--target-language", "hi",
        "--json", env=cli_env,
    )  # fmt: skip
    assert exported.code == 0 and exported.json["exported"] == 2, exported.stderr
    units = {(u.source, u.target) for u in tmxfile.parsefile(str(out)).units}
    # the user's translation replaced the imported one for the same (empty) context
    assert units == {("Where were you?", "तुम कहाँ थे?"), ("Come home.", "घर चलो।")}
    none = run_cli("tm", "export", str(tmp_path / "fr.tmx"), "--target-language", "fr", env=cli_env)
    assert none.code == 0 and "exported 0" in none.stdout


def test_malformed_tmx_is_one_line_and_imports_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run_cli("tm", "import", str(_tmx(tmp_path / "in.tmx")), env=cli_env)
    cache = Path(cli_env["CACHE_DIR"])
    before = tree_state(cache)
    bad = tmp_path / "bad.tmx"
    good = _tmx(tmp_path / "good.tmx").read_text()
    bad.write_text(good.replace("</body>", '<tu><tuv xml:lang="en"><seg>x</seg></tuv>'))
    result = run_cli("tm", "import", str(bad), env=cli_env)
    lines = result.stderr.strip().splitlines()
    assert result.code == 1 and len(lines) == 1 and "not valid XML" in lines[0], result.stderr
    assert tree_state(cache) == before
    missing = run_cli("tm", "approve", "Never said.", "--source-language", "en",
                      "--target-language", "hi", env=cli_env)  # fmt: skip
    assert missing.code == 1 and "no translation of 'Never said.'" in missing.stderr
