"""`dprompt` for "the one who must revert now": revert one change, compare versions, notes,
rescue after an edit conflict, rename and duplicate. Real processes, real servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import redis

from tests.e2e.test_cli import ASSISTANT, dprompt, one_error_line

PROMPT = ASSISTANT.read_text("utf-8")
SARCASTIC = PROMPT.replace("Tone: Friendly", "Tone: Sarcastic")
RULE = "8. Reply in the user's language"
WITH_RULE = PROMPT.replace(
    "7. Do not present medical, legal or financial information as professional advice.\n",
    "7. Do not present medical, legal or financial information as professional advice.\n" + RULE + "\n",
)


def three_versions(url: str) -> None:
    dprompt("load", str(ASSISTANT), url=url, check=True)
    dprompt("modify", "change tone to sarcastic", url=url, check=True)
    dprompt("modify", "add rule: Reply in the user's language", url=url, check=True)


def changelog(r: redis.Redis, key: str = "prompt:changelog") -> list[dict[str, object]]:
    return [json.loads(item) for item in r.lrange(key, 0, -1)]


def test_revert_change_takes_out_one_change_and_keeps_the_later_ones(
    server_url: str, redis_sync: redis.Redis
) -> None:
    three_versions(server_url)
    out = dprompt("revert", "--change", "2", "-u", "alice", "-m", "the tone test is over",
                  url=server_url, check=True).stdout.splitlines()
    assert out == [
        "~ Tone: Friendly",
        "Reverted the change of v2 of 'default', keeping later changes: now version 4.",
    ]
    assert redis_sync.get("prompt:active") == WITH_RULE
    history = dprompt("history", url=server_url, check=True).stdout.splitlines()
    assert "| v4 | REVERT-CHANGE | alice |" in history[0]
    assert history[0].endswith("| revert the change of v2 | note: the tone test is over")
    entry = json.loads(dprompt("history", "--json", "-l", "1", url=server_url, check=True).stdout)[0]
    assert (entry["action"], entry["note"], entry["metadata"]) == (
        "revert-change", "the tone test is over", {"reverted_version": 2},
    )


def test_revert_change_conflict_is_one_line_naming_the_lines_and_writes_nothing(
    server_url: str, redis_sync: redis.Redis
) -> None:
    three_versions(server_url)
    dprompt("modify", "change tone to dry", url=server_url, check=True)  # v4 rewrites v2's line
    line = one_error_line(dprompt("revert", "--change", "2", url=server_url))
    assert line == (
        "error: Cannot revert the change of v2 of 'default': a later change touched the same lines "
        "(v2 line 9 'Tone: Sarcastic' is now line 9 'Tone: Dry'); nothing was written. "
        "Compare them: dprompt diff 1 2 -n default; dprompt diff 2 -n default."
    )
    assert redis_sync.hget("prompt:meta", "version") == "4" and redis_sync.llen("prompt:changelog") == 4


def test_revert_change_of_the_first_or_a_missing_version_is_one_line(
    server_url: str, redis_sync: redis.Redis
) -> None:
    three_versions(server_url)
    assert "Version 1 is the first version of 'default'" in one_error_line(
        dprompt("revert", "--change", "1", url=server_url)
    )
    assert "has no version 8 (kept: 1-3)" in one_error_line(dprompt("revert", "--change", "8", url=server_url))
    assert "Invalid value for '--change'" in dprompt("revert", "--change", "0", url=server_url).stderr
    assert redis_sync.llen("prompt:changelog") == 3


def test_diff_of_any_two_versions_and_of_one_with_the_active_text(
    server_url: str, redis_sync: redis.Redis
) -> None:
    three_versions(server_url)
    dprompt("revert", url=server_url, check=True)  # v4 = the original again
    two = dprompt("diff", "2", "3", url=server_url, check=True).stdout
    assert two.startswith("--- default v2\n+++ default v3\n@@")
    assert f"\n+{RULE}\n" in two and "Tone:" not in two
    backwards = dprompt("diff", "3", "1", "--summary", url=server_url, check=True).stdout.splitlines()
    assert backwards == ["~ Tone: Friendly", f"- {RULE}"]
    one = dprompt("diff", "2", url=server_url, check=True).stdout
    assert one.startswith("--- default v2\n+++ default active\n")
    assert one == dprompt("diff", "--against", "2", url=server_url, check=True).stdout
    assert dprompt("diff", url=server_url, check=True).stdout == "No changes.\n"  # original vs active
    assert "at most" in one_error_line(dprompt("diff", "1", "2", "3", url=server_url))
    assert "once" in one_error_line(dprompt("diff", "1", "--against", "2", url=server_url))
    assert "has no version 9 (kept: 1-4)" in one_error_line(dprompt("diff", "1", "9", url=server_url))


def test_get_version_prints_that_text_raw_into_a_pipe(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt("load", "--text", "No final newline\x1b[31m", url=server_url, check=True)
    dprompt("modify", "add rule: Be brief", url=server_url, check=True)
    assert dprompt("get", "--version", "1", url=server_url, check=True).stdout == "No final newline\x1b[31m\n"
    got = json.loads(dprompt("get", "--version", "1", "--json", url=server_url, check=True).stdout)
    assert got == {"name": "default", "version": 1, "text": "No final newline\x1b[31m", "config": {}}
    assert "has no version 5" in one_error_line(dprompt("get", "--version", "5", url=server_url))


def test_every_write_command_takes_a_note(server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    url = server_url
    dprompt("load", str(ASSISTANT), "-m", "first draft", url=url, check=True)
    dprompt("modify", "change tone to dry", "--note", "less chirpy", url=url, check=True)
    dprompt("revert", "-m", "back", url=url, check=True)
    dprompt("restore", "2", "-m", "dry again", url=url, check=True)
    dprompt("undo", "-m", "oops", url=url, check=True)
    edited = tmp_path / "edited.md"
    edited.write_text(PROMPT + "Edited.\n", "utf-8")
    dprompt("edit", "--file", str(edited), "-m", "by hand", url=url, check=True)
    assert [(e["action"], e["note"]) for e in reversed(changelog(redis_sync))] == [
        ("load", "first draft"), ("modify", "less chirpy"), ("revert", "back"), ("restore", "dry again"),
        ("undo", "oops"), ("edit", "by hand"),
    ]  # fmt: skip


def test_a_bad_note_is_one_line_and_writes_nothing(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    line = one_error_line(dprompt("modify", "change tone to dry", "-m", "x" * 501, url=server_url))
    assert line == "error: The note is 501 characters long; the limit is 500; nothing was written."
    line = one_error_line(dprompt("revert", "--change", "2", "-m", "a\tb", url=server_url))
    assert "contains a line break or control characters" in line
    assert redis_sync.llen("prompt:changelog") == 1 and redis_sync.get("prompt:active") == PROMPT


def test_edit_file_saves_a_new_version_and_keeps_the_original(
    server_url: str, redis_sync: redis.Redis, tmp_path: Path
) -> None:
    three_versions(server_url)
    path = tmp_path / "mine.md"
    path.write_text("My own text.\n", "utf-8")
    out = dprompt("edit", "--file", str(path), url=server_url, check=True).stdout
    assert out == f"Saved {path} as version 4 of 'default'; earlier versions stay in its history.\n"
    assert redis_sync.get("prompt:active") == "My own text.\n"
    assert redis_sync.get("prompt:backup") == PROMPT  # what revert and diff use is untouched
    assert redis_sync.hget("prompt:versions", "3") == WITH_RULE.replace("Friendly", "Sarcastic")
    again = dprompt("edit", "--file", str(path), url=server_url, check=True).stdout
    assert again == f"{path} holds the active text of 'default' already; nothing saved.\n"
    assert "no prompt named 'ghost'" in one_error_line(
        dprompt("edit", "--file", str(path), "-n", "ghost", url=server_url)
    )
    assert "missing.md" in one_error_line(dprompt("edit", "--file", str(tmp_path / "missing.md"), url=server_url))
    assert redis_sync.exists("prompt:{ghost}:active") == 0 and redis_sync.hget("prompt:meta", "version") == "4"


def test_edit_conflict_hint_saves_as_a_version_beside_the_colleagues(
    server_url: str, redis_sync: redis.Redis, tmp_path: Path
) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    editor = tmp_path / "editor.py"  # a colleague modifies the prompt while the person edits
    editor.write_text(
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-m', 'dynamic_prompt.cli', '--redis-url', {server_url!r}, "
        "'modify', 'add rule: Colleague rule'], check=True)\n"
        "open(sys.argv[1], 'a').write('My careful edit.\\n')\n"
    )
    env = {"EDITOR": f"{sys.executable} {editor}", "VISUAL": f"{sys.executable} {editor}"}
    line = one_error_line(dprompt("edit", url=server_url, env=env))
    rescue = line.split(" it is in ")[1].split(" ")[0]
    hint = f"dprompt edit --name default --file {rescue}"
    assert line.endswith(f"(save it as a new version, keeping the other change in the history, with: {hint}).")
    assert "--force" not in line and "dprompt load" not in line
    # The hint, run as given, keeps the colleague's version in the history and the original.
    dprompt(*hint.split()[1:], url=server_url, check=True)
    assert redis_sync.get("prompt:active") == PROMPT + "My careful edit.\n"
    assert "8. Colleague rule" in redis_sync.hget("prompt:versions", "2")
    assert redis_sync.get("prompt:backup") == PROMPT
    assert [e["action"] for e in changelog(redis_sync)] == ["edit", "modify", "load"]


def test_rename_and_duplicate_from_the_command_line(server_url: str, redis_sync: redis.Redis) -> None:
    url = server_url
    dprompt("load", str(ASSISTANT), "-n", "a", url=url, check=True)
    dprompt("modify", "change tone to sarcastic", "-n", "a", url=url, check=True)
    out = dprompt("rename", "a", "b", "-m", "clearer", url=url, check=True).stdout
    assert out == "Renamed 'a' to 'b' (version 2; versions and history kept).\n"
    assert redis_sync.exists("prompt:{a}:active") == 0 and redis_sync.hlen("prompt:{b}:versions") == 2
    assert [e["action"] for e in changelog(redis_sync, "prompt:{b}:changelog")] == ["rename", "modify", "load"]
    out = dprompt("duplicate", "b", "c", url=url, check=True).stdout
    assert out == "Duplicated 'b' v2 as 'c' (version 1).\n"
    assert redis_sync.get("prompt:{c}:active") == SARCASTIC == redis_sync.get("prompt:{c}:backup")
    # The short aliases.
    dprompt("mv", "c", "d", url=url, check=True)
    dprompt("cp", "d", "e", url=url, check=True)
    assert sorted(p["name"] for p in json.loads(dprompt("list", "--json", url=url, check=True).stdout)) == [
        "b", "d", "e",
    ]  # fmt: skip
    assert "Prompt 'b' already exists" in one_error_line(dprompt("rename", "d", "b", url=url))
    assert "Prompt 'b' already exists" in one_error_line(dprompt("duplicate", "d", "b", url=url))
    assert "Bad prompt name" in one_error_line(dprompt("rename", "d", "no good", url=url))
    assert redis_sync.get("prompt:{d}:active") == SARCASTIC
    # Renaming the gem's prompt says what gem agents will see.
    dprompt("load", "--text", "Gem prompt.\n", url=url, check=True)
    moved = dprompt("rename", "default", "gem", url=url, check=True)
    assert "agents on the Ruby gem read the 'default' prompt" in moved.stderr
    assert redis_sync.exists("prompt:active") == 0 and redis_sync.get("prompt:{gem}:active") == "Gem prompt.\n"
