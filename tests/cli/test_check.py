"""``cpwx check`` through the real CLI: 0 when every rule passes, 1 when one fails, 2 with one
line for what cannot be checked; it reads the file and writes nothing."""

from __future__ import annotations

from pathlib import Path

from cues import build_cues, profile_for, write_subtitles
from records import Transcript
from testkit import CliResult, run_cli, tree_state
from tests.cues.test_build import TEXT, spoken

BROKEN = (
    "1\n00:00:01,000 --> 00:00:02,500\nWhere were you?\n\n"
    "2\n00:00:03,000 -> 00:00:04,000\nThe arrow is broken.\n"
)
# Cue 2's line is too long for Netflix's 42; it overlaps cue 3.
FAILING = (
    "1\n00:00:01,000 --> 00:00:02,500\nWhere were you?\n\n"
    "2\n00:00:03,000 --> 00:00:06,500\nI waited for you at the station until eleven.\n\n"
    "3\n00:00:06,400 --> 00:00:08,000\nI was at home.\n"
)


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _one_line_error(result: CliResult) -> str:
    assert result.code == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpwx: error: "), lines
    return lines[0]


def test_built_cues_pass(cli_env: dict[str, str], tmp_path: Path) -> None:
    profile = profile_for("netflix", "en")
    transcript = Transcript("en", (spoken(TEXT),))
    files = write_subtitles(
        build_cues(transcript, profile), transcript, tmp_path, "film.en", ("srt", "ass"), profile
    )
    wide = {**cli_env, "COLUMNS": "200"}  # rich wraps a table to the terminal's width
    shown = run_cli("check", files["srt"], "--language", "en", env=wide)
    assert shown.code == 0, shown.stderr
    assert "chars_per_line" in shown.stdout and "at most 42 characters a line" in shown.stdout
    assert "100.0% pass every rule: PASS" in shown.stdout
    as_json = run_cli("check", files["ass"], "--json", env=cli_env)
    assert as_json.code == 0, as_json.stderr
    assert as_json.json["file"] == files["ass"] and as_json.json["passed"] is True
    assert tree_state(Path(cli_env["CACHE_DIR"])) == {}  # nothing stored, not even a folder


def test_a_failing_rule_exits_1_with_its_offenders(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = _file(tmp_path, "film.srt", FAILING)
    result = run_cli("check", str(path), "--json", env=cli_env)
    assert result.code == 1, result.stderr
    report = result.json
    assert report["file"] == str(path) and report["profile"] == "netflix"
    assert report["cues"] == 3 and report["passed"] is False
    assert report["passing_share"] == 2 / 3  # the gap after cue 2 is cue 2's
    failed = {r["rule"]: r["offenders"] for r in report["rules"] if r["failed"]}
    assert failed == {"chars_per_line": [2], "gap": [2]}
    shown = run_cli("check", str(path), env=cli_env)
    assert shown.code == 1 and "#2" in shown.stdout and "FAIL" in shown.stdout
    # SUBTITLE_PROFILE is the default profile.
    bbc = run_cli("check", str(path), "--json", env={**cli_env, "SUBTITLE_PROFILE": "bbc"})
    assert bbc.code == 1 and bbc.json["profile"] == "bbc"
    assert bbc.json["rules"][0]["description"] == "at most 37 characters a line"


def test_what_cannot_be_checked_is_one_line_and_exit_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    broken = _file(tmp_path, "broken.srt", BROKEN)
    line = _one_line_error(run_cli("check", str(broken), env=cli_env))
    assert str(broken) in line and "line 6" in line
    debug = run_cli("check", str(broken), "--debug", env=cli_env)
    assert debug.code != 0 and "Traceback" in debug.stderr

    notes = _file(tmp_path, "notes.srt", "Just some notes about the film.\n")
    assert "not an SRT, WebVTT, ASS or TTML file" in _one_line_error(
        run_cli("check", str(notes), "--json", env=cli_env)
    )
    assert "no such file" in _one_line_error(
        run_cli("check", str(tmp_path / "gone.srt"), env=cli_env)
    )
    good = _file(tmp_path, "good.srt", FAILING)
    assert "unknown subtitle profile 'pbs': use one of netflix, bbc" in _one_line_error(
        run_cli("check", str(good), "--profile", "pbs", env=cli_env)
    )
    assert "unknown language code 'xx'" in _one_line_error(
        run_cli("check", str(good), "--language", "xx", env=cli_env)
    )
    assert tree_state(Path(cli_env["CACHE_DIR"])) == {}
