"""Prompts as files for git: dprompt export DIR, dprompt import DIR, and the changelog as JSON or CSV.

A round trip export -> empty server -> import -> export gives the same bytes; importing one
tree twice changes nothing; an edited file becomes one 'import' version; every bad file is
one line, writes nothing, and does not stop the good files beside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import redis

from tests.reliability.clirun import Run, error_line, ok, run_cli

PROMPT = "You are a support agent.\nAnswer in 3 sentences.\nBe polite.\n"


def dp(url: str, *args: str) -> Run:
    return run_cli(*args, url=url)


def tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def seed(url: str) -> None:
    ok(dp(url, "load", "--name", "support", "--text", PROMPT))
    ok(dp(url, "modify", "--name", "support", "add rule: never use emojis", "--note", "users asked"))
    ok(dp(url, "label", "set", "support", "staging", "production"))
    ok(dp(url, "modify", "--name", "support", "change tone to sarcastic"))
    ok(dp(url, "config", "--name", "support", "--set", "model=gpt-5", "--set", "temperature=0.2"))
    ok(dp(url, "load", "--text", "The gem's prompt.\n"))  # default: the gem's own keys
    ok(dp(url, "modify", "add rule: be brief"))


def test_a_round_trip_through_an_empty_server_gives_the_same_bytes(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    seed(server_url)
    first, second = tmp_path / "one", tmp_path / "two"
    ok(dp(server_url, "export", str(first)))
    files = tree(first)
    assert set(files) == {"support.md", "support.original.md", "support@v2.md", "support.history.jsonl",
                          "default.md", "default.original.md", "default.history.jsonl"}
    head, _, text = files["support.md"].decode().partition("---\n")[2].partition("---\n")
    assert text == redis_sync.get("prompt:{support}:active")
    assert '"model":"gpt-5"' in head and '"staging": 2' in head and "version: 4" in head
    assert files["support.original.md"].decode() == PROMPT
    history = [json.loads(line) for line in files["support.history.jsonl"].decode().splitlines()]
    assert [h["action"] for h in history] == ["load", "modify", "label", "modify", "config"]  # oldest first
    assert history[1]["note"] == "users asked"

    redis_sync.flushdb()
    imported = ok(dp(server_url, "import", str(first), "--json"))
    assert {r["name"]: r["status"] for r in json.loads(imported.stdout)} == {"support": "created", "default": "created"}
    ok(dp(server_url, "export", str(second)))
    assert tree(second) == files
    labels = json.loads(ok(dp(server_url, "label", "list", "support", "--json")).stdout)
    assert labels["labels"] == {"production": 4, "latest": 4, "staging": 2}


def test_importing_the_same_tree_twice_changes_nothing_and_an_edit_becomes_one_import_version(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    seed(server_url)
    ok(dp(server_url, "export", str(tmp_path)))
    before = redis_sync.lrange("prompt:{support}:changelog", 0, -1)
    again = json.loads(ok(dp(server_url, "import", str(tmp_path), "--json")).stdout)
    assert {r["status"] for r in again} == {"unchanged"}
    assert redis_sync.lrange("prompt:{support}:changelog", 0, -1) == before
    page = tmp_path / "support.md"
    page.write_bytes(page.read_bytes() + b"Always sign with the team's name.\n")
    done = json.loads(ok(dp(server_url, "import", str(tmp_path), "--json")).stdout)
    assert {r["name"]: (r["status"], r["version"]) for r in done}["support"] == ("updated", 5)
    assert (redis_sync.get("prompt:{support}:active") or "").endswith("Always sign with the team's name.\n")
    entry = json.loads(redis_sync.lindex("prompt:{support}:changelog", 0) or "{}")
    assert entry["action"] == "import" and entry["instruction"] == "imported from support.md"
    third = json.loads(ok(dp(server_url, "import", str(tmp_path), "--json")).stdout)
    assert {r["status"] for r in third} == {"unchanged"}


def test_a_hand_written_file_without_front_matter_or_history_creates_a_prompt(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "writer.md").write_text("You write release notes.\n", encoding="utf-8")
    ok(dp(server_url, "import", str(tmp_path)))
    assert redis_sync.get("prompt:{writer}:active") == "You write release notes.\n"
    assert redis_sync.hget("prompt:{writer}:meta", "version") == "1"
    entry = json.loads(redis_sync.lindex("prompt:{writer}:changelog", 0) or "{}")
    assert entry["action"] == "import"


def test_every_bad_file_is_one_line_and_the_good_ones_beside_it_are_imported(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "open.md").write_text("---\nname: \"open\"\nno closing fence\n", encoding="utf-8")
    (tmp_path / "moved.md").write_text("---\nname: \"other\"\n---\nText\n", encoding="utf-8")
    (tmp_path / "junk.md").write_text("---\nversion: [1\n---\nText\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("---\nname: \"empty\"\n---\n\n", encoding="utf-8")
    (tmp_path / "good.md").write_text("---\nname: \"good\"\nversion: 3\n---\nA good prompt.\n", encoding="utf-8")
    run = dp(server_url, "import", str(tmp_path))
    assert run.code == 1
    failed = [line for line in run.stderr.splitlines() if line]
    assert len(failed) == 6, run.stderr
    assert all(line.startswith(str(tmp_path)) for line in failed)
    assert redis_sync.get("prompt:{good}:active") == "A good prompt.\n"
    assert redis_sync.hget("prompt:{good}:meta", "version") == "3"
    assert sorted(k for k in redis_sync.keys("prompt:*") if "good" not in k) == []


def test_bad_paths_are_one_line_and_write_nothing(server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    keys = sorted(redis_sync.keys("*"))
    assert "is not a directory" in error_line(dp(server_url, "import", str(tmp_path / "missing")))
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert "is not a directory" in error_line(dp(server_url, "export", str(a_file)))
    assert a_file.read_text() == "x"
    assert "is a directory" in error_line(dp(server_url, "export", "--format", "csv", str(tmp_path)))
    assert sorted(redis_sync.keys("*")) == keys


def test_a_prompt_that_exists_with_no_text_but_history_is_left_alone(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    redis_sync.lpush("prompt:{kept}:changelog", json.dumps({"action": "load", "timestamp": 1}))
    (tmp_path / "kept.md").write_text("New text\n", encoding="utf-8")
    run = dp(server_url, "import", str(tmp_path))
    assert run.code == 1 and "left as it is" in run.stderr
    assert redis_sync.get("prompt:{kept}:active") is None
    assert redis_sync.llen("prompt:{kept}:changelog") == 1


def test_the_changelog_exports_as_json_and_as_spreadsheet_safe_csv(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    ok(dp(server_url, "load", "--name", "support", "--text", PROMPT))
    ok(dp(server_url, "modify", "--name", "support", "add rule: cite sources", "--note", "=HYPERLINK(\"http://x\")"))
    ok(dp(server_url, "export", "--format", "json", str(tmp_path / "log.json")))
    entries = json.loads((tmp_path / "log.json").read_text(encoding="utf-8"))
    assert [(e["name"], e["action"]) for e in entries] == [("support", "modify"), ("support", "load")]
    ok(dp(server_url, "export", "--format", "csv", str(tmp_path / "log.csv")))
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["action"] for r in rows] == ["modify", "load"]
    assert rows[0]["note"] == "'=HYPERLINK(\"http://x\")"  # kept as text, never run as a formula
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as f:
        raw = list(csv.reader(f))
    assert all(not cell.startswith("=") for row in raw for cell in row)


def test_a_prompt_of_which_only_labels_are_left_is_left_alone(
        server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    redis_sync.set("prompt:{kept}:labels", '{"staging": 3}')
    (tmp_path / "kept.md").write_text("New text\n", encoding="utf-8")
    run = dp(server_url, "import", str(tmp_path))
    assert run.code == 1 and "has keys in Redis but no text" in run.stderr and "left as it is" in run.stderr
    assert redis_sync.get("prompt:{kept}:active") is None
    assert redis_sync.get("prompt:{kept}:labels") == '{"staging": 3}'
