"""`dprompt` as a person and a script use it: real processes, real servers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT
from tests.support import checks
from tests.support.checks import BAD_NAMES, bad_name_reason

ROOT = Path(__file__).resolve().parents[2]
ASSISTANT = ROOT / "prompts" / "assistant.md"


def dprompt(*args: str, url: str | None = None, stdin: str | None = None,
            env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "dynamic_prompt.cli"]
    if url:
        cmd += ["--redis-url", url]
    proc = subprocess.run(cmd + list(args), input=stdin if stdin is not None else "",
                          capture_output=True, text=True, env=full_env, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert the process failed with exactly one error line on stderr (warnings may precede
    it) and no traceback."""
    return checks.one_error_line(proc.returncode, proc.stderr, proc.stdout)


def test_done_when_flow(server_url: str, redis_sync: redis.Redis) -> None:
    url = server_url
    out = dprompt("load", str(ASSISTANT), url=url, check=True).stdout
    assert "version 1" in out
    out = dprompt("modify", "change tone to sarcastic; add rule: Never use emojis", url=url, check=True).stdout
    assert "~ Tone: Sarcastic" in out and "Never use emojis" in out and "version 2" in out
    diff = dprompt("diff", url=url, check=True).stdout
    assert "-Tone:" in diff and "+Tone: Sarcastic" in diff and "+++" in diff
    summary = dprompt("diff", "--summary", url=url, check=True).stdout
    assert "~ Tone: Sarcastic" in summary
    history = dprompt("history", url=url, check=True).stdout.splitlines()
    assert "MODIFY" in history[0] and "LOAD" in history[1]
    entries = json.loads(dprompt("history", "--json", url=url, check=True).stdout)
    assert [e["action"] for e in entries] == ["modify", "load"]
    dprompt("revert", url=url, check=True)
    assert redis_sync.get("prompt:active") == ASSISTANT.read_text()
    listed = json.loads(dprompt("list", "--json", url=url, check=True).stdout)
    assert listed[0]["name"] == "default" and listed[0]["version"] == 3


def test_value_written_with_redis_cli_is_what_get_prints(server_url: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "Written by redis-cli.\n")
    assert dprompt("get", url=server_url, check=True).stdout == "Written by redis-cli.\n"
    got = json.loads(dprompt("get", "--json", url=server_url, check=True).stdout)
    assert got["version"] == 1 and got["text"] == "Written by redis-cli.\n"


def test_dry_run_changes_nothing(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt("load", str(ASSISTANT), "--name", "a", url=server_url, check=True)
    before = redis_sync.get("prompt:{a}:active")
    proc = dprompt("modify", "--dry-run", "-n", "a", "change tone to dry", url=server_url, check=True)
    assert "+Tone: Dry" in proc.stdout
    assert redis_sync.get("prompt:{a}:active") == before
    assert redis_sync.llen("prompt:{a}:changelog") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["modify", "make it pop"], "Unknown instruction"),
        (["modify", "remove rule about quantum physics"], "rule"),
        (["load", "/no/such/file.md", "--force"], "No such file"),
        (["load", "--name", BAD_NAMES["space"], "x"], bad_name_reason(BAD_NAMES["space"])),
        (["restore", "99"], "no version 99"),
        (["load", "x", "--text", "--force", "--name", "n" * 200], bad_name_reason("n" * 200)),
    ],
)
def test_bad_input_one_line_nothing_changed(server_url: str, redis_sync: redis.Redis,
                                            args: list[str], needle: str) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    snapshot = {k: redis_sync.dump(k) for k in redis_sync.keys("*")}
    line = one_error_line(dprompt(*args, url=server_url))
    assert needle.lower() in line.lower()
    assert {k: redis_sync.dump(k) for k in redis_sync.keys("*")} == snapshot


def test_binary_and_non_utf8_files_are_refused(server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    latin = tmp_path / "latin.md"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    for path in (png, latin, empty):
        one_error_line(dprompt("load", str(path), url=server_url))
    assert redis_sync.dbsize() == 0


def test_unreachable_server_and_bad_url(redis_sync: redis.Redis) -> None:
    line = one_error_line(dprompt("get", url="redis://:s3cret-pass@127.0.0.1:1/0"))
    assert "s3cret-pass" not in line and "127.0.0.1:1" in line
    line = one_error_line(dprompt("get", url="http://nowhere"))
    assert "redis://" in line
    line = one_error_line(dprompt("get", url="redis://u:s3cret-pass@host:notaport/0"))
    assert "s3cret-pass" not in line


def test_clear_asks_and_yes_skips(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    line = one_error_line(dprompt("clear", url=server_url))  # no terminal: refuses without --yes
    assert "--yes" in line
    assert redis_sync.exists("prompt:active")
    dprompt("clear", "--yes", url=server_url, check=True)
    assert redis_sync.dbsize() == 0


def test_edit_saves_with_expected_version(server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\np = sys.argv[1]\nopen(p, 'a').write('Edited by hand.\\n')\n")
    env = {"EDITOR": f"{sys.executable} {editor}", "VISUAL": f"{sys.executable} {editor}"}
    out = dprompt("edit", url=server_url, env=env, check=True).stdout
    assert "version 2" in out
    assert redis_sync.get("prompt:active").endswith("Edited by hand.\n")


def test_edit_conflict_is_reported_and_the_text_kept(server_url: str, redis_sync: redis.Redis,
                                                     tmp_path: Path) -> None:
    dprompt("load", str(ASSISTANT), url=server_url, check=True)
    # The "editor" simulates someone else writing while the person edits.
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, redis\n"
        f"redis.Redis.from_url({server_url!r}).set('prompt:active', 'someone else')\n"
        "open(sys.argv[1], 'a').write('My careful edit.\\n')\n"
    )
    env = {"EDITOR": f"{sys.executable} {editor}", "VISUAL": f"{sys.executable} {editor}"}
    line = one_error_line(dprompt("edit", url=server_url, env=env))
    assert "meanwhile" in line
    assert redis_sync.get("prompt:active") == "someone else"
    rescue = line.split(" it is in ")[1].split(" ")[0]
    assert Path(rescue).read_text().endswith("My careful edit.\n")


def test_password_never_printed(server_url: str) -> None:
    proc = dprompt("server", "status", url="redis://alice:pa55word-xyz@127.0.0.1:1/0")
    checks.no_secret(proc.stdout, proc.stderr, secrets=("pa55word-xyz",))
    checks.shows_mask(proc.stdout, "alice")


def test_embedded_default_start_share_stop(tmp_path: Path) -> None:
    env = {"DPROMPT_DATA_DIR": str(tmp_path / "data")}
    try:
        first = dprompt("load", str(ASSISTANT), env=env, check=True)
        assert "Started the embedded server at unix://" in first.stderr
        second = dprompt("get", env=env, check=True)
        assert "Started" not in second.stderr  # found and shared, not started again
        assert second.stdout == ASSISTANT.read_text()
        status = dprompt("server", "status", env=env, check=True).stdout
        assert "Embedded server: unix://" in status and "no TCP port" in status
    finally:
        dprompt("server", "stop", env=env)
    assert dprompt("server", "status", env=env).returncode == 3
    # Persisted: the next start finds the prompt again.
    try:
        assert dprompt("get", env=env, check=True).stdout == ASSISTANT.read_text()
    finally:
        dprompt("server", "stop", env=env)


def test_embedded_data_dir_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    line = one_error_line(dprompt("get", env={"DPROMPT_DATA_DIR": str(blocker / "sub")}))
    assert "not writable" in line


def test_import_does_not_load_textual() -> None:
    # Every module of the core library (all but the dashboard's tui package, and the MCP
    # server, which needs its extra): none may pull in Textual or Rich.
    code = ("import sys, pkgutil, importlib, dynamic_prompt; "
            "names = [m.name for m in pkgutil.walk_packages(dynamic_prompt.__path__, 'dynamic_prompt.') "
            "if not m.name.startswith(('dynamic_prompt.tui', 'dynamic_prompt.mcp_server.')) and not m.name.endswith('__main__')]; "
            "[importlib.import_module(n) for n in names]; "
            "assert len(names) > 20, names; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_fleet_lists_announced_agents_as_text_and_json(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt("load", "--text", "fleet v1", url=server_url, check=True)
    dprompt("load", "--text", "other", "--name", "other", url=server_url, check=True)
    assert "No agents" in dprompt("fleet", url=server_url, check=True).stdout
    announce = redis_sync.register_script(ANNOUNCE_SCRIPT)
    # One agent current on v2, one still on v1, one on the other prompt; one with a hostile id.
    dprompt("modify", "add rule: be brief", url=server_url, check=True)
    current = redis_sync.get("prompt:active")
    digest = hashlib.sha1(current.encode()).hexdigest()
    for key, agent, version, h in (("dprompt:agents:default", "agent-now", 2, digest),
                                   ("dprompt:agents:default", "agent-old", 1, "aaaa"),
                                   ("dprompt:agents:other", "agent-\x1b]52;c;cHduZWQ=\x07x", 1, "")):
        announce(keys=[key], args=[agent, json.dumps({"agent_id": agent, "version": version, "hash": h,
                                                      "interval": 5, "mode": "notifications"}), "300"])
    out = dprompt("fleet", url=server_url, check=True).stdout
    rows = {line.split()[1]: line for line in out.splitlines()}
    assert "current" in rows["agent-now"] and "v2" in rows["agent-now"]
    assert "behind" in rows["agent-old"] and "v1" in rows["agent-old"]
    assert "\x1b" not in out and "\x07" not in out  # an agent id cannot run escapes on the terminal
    # An agent that stopped announcing shows no read rate (its last one would say it still reads).
    announce(keys=["dprompt:agents:default"], args=["agent-left", json.dumps(
        {"agent_id": "agent-left", "version": 2, "hash": digest, "interval": 0.001, "reads_per_s": 9.5}), "300"])
    left = {line.split()[1]: line for line in dprompt("fleet", url=server_url, check=True).stdout.splitlines()}
    assert "gone" in left["agent-left"] and "9.5" not in left["agent-left"]
    assert left["agent-left"].split()[4:6] == ["-", "reads/s"]
    only = json.loads(dprompt("fleet", "--name", "default", "--json", url=server_url, check=True).stdout)
    assert list(only) == ["default"]
    assert {a["agent_id"]: a["behind"] for a in only["default"]} == {"agent-now": False, "agent-old": True,
                                                                      "agent-left": False}
    assert one_error_line(dprompt("fleet", "--name", "bad{name", url=server_url)).startswith("error: ")
    # An agent reading a prompt that has no text yet is listed too.
    announce(keys=["dprompt:agents:ghost"], args=["early-agent", json.dumps(
        {"agent_id": "early-agent", "version": 0, "hash": "", "interval": 5}), "300"])
    redis_sync.sadd("dprompt:fleet", "ghost")  # as every agent's announcement does
    assert "early-agent" in dprompt("fleet", url=server_url, check=True).stdout
    # A server that cannot be reached, and a wrong-type agents key: one line each.
    assert "Cannot reach" in one_error_line(dprompt("fleet", url="redis://127.0.0.1:1/0"))
    redis_sync.delete("dprompt:agents:default")
    redis_sync.rpush("dprompt:agents:default", "x")
    line = one_error_line(dprompt("fleet", url=server_url))
    assert "wrong type" in line and "redis.call" not in line


def test_render_fills_variables_and_a_missing_one_names_itself(server_url: str, redis_sync: redis.Redis) -> None:
    import json as _json

    env_url = ["--redis-url", server_url]
    load = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", *env_url, "load", "--name", "tpl", "--force",
                           "--text", "Hi {{ user }}{% if vip is defined %}, welcome back{% endif %}.\n"],
                          capture_output=True, text=True, timeout=60)
    assert load.returncode == 0, load.stderr
    base = [sys.executable, "-m", "dynamic_prompt.cli", *env_url, "render", "--name", "tpl"]
    done = subprocess.run([*base, "--var", "user=Ada", "--var", "vip=1", "--var", "extra=x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hi Ada, welcome back.\n"
    assert "never reads 'extra'" in done.stderr
    missing = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and "Missing variable 'user'" in lines[0]
    as_json = _json.loads(subprocess.run([*base, "--var", "user=Bo", "--json"], capture_output=True, text=True,
                                         timeout=60).stdout)
    assert as_json["text"] == "Hi Bo.\n" and as_json["variables"] == ["user", "vip"]
    bad = subprocess.run([*base, "--var", "no equals"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "NAME=VALUE" in bad.stderr


def test_config_is_set_shown_diffed_and_refused_when_bad(server_url: str, redis_sync: redis.Redis,
                                                         tmp_path: Path) -> None:
    import json as _json

    assert dprompt("load", "--name", "cfg", "--force", "--text", "Be brief.", url=server_url).returncode == 0
    none = dprompt("config", "--name", "cfg", url=server_url)
    assert none.returncode == 0 and "has no config" in none.stdout
    done = dprompt("config", "--name", "cfg", "--set", "model=gpt-5", "--set", "temperature=0.2", "-m", "try it",
                   url=server_url)
    assert done.returncode == 0 and "version 2" in done.stdout and "+model, +temperature" in done.stdout
    shown = _json.loads(dprompt("config", "--name", "cfg", "--json", url=server_url).stdout)
    assert shown == {"name": "cfg", "version": 2, "config": {"model": "gpt-5", "temperature": 0.2}}
    assert _json.loads(dprompt("get", "--name", "cfg", "--json", url=server_url).stdout)["config"] == shown["config"]
    diff = dprompt("diff", "--name", "cfg", url=server_url).stdout
    assert "+  \"model\": \"gpt-5\"," in diff and "-{}" in diff and "-Be brief." not in diff
    history = dprompt("history", "--name", "cfg", url=server_url).stdout.splitlines()[0]
    assert "CONFIG" in history and "+4/-1" in history and "note: try it" in history
    before = redis_sync.hgetall("prompt:{cfg}:meta")
    for bad, says in ((["--replace", "[1]"], "JSON object"), (["--unset", "seed"], "no key 'seed'"),
                      (["--json-file", str(tmp_path / "missing.json")], "missing.json")):
        refused = dprompt("config", "--name", "cfg", *bad, url=server_url)
        assert refused.returncode == 1 and says in one_error_line(refused)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\x00\xff{}")
    assert dprompt("config", "--name", "cfg", "--json-file", str(binary), url=server_url).returncode == 1
    assert redis_sync.hgetall("prompt:{cfg}:meta") == before  # nothing written by any refusal
    piped = dprompt("config", "--name", "cfg", "--json-file", "-", stdin='{"model": "gpt-4o"}', url=server_url)
    assert piped.returncode == 0
    assert _json.loads(redis_sync.hget("prompt:{cfg}:meta", "config")) == {"model": "gpt-4o"}
    older = _json.loads(dprompt("config", "--name", "cfg", "--version", "2", "--json", url=server_url).stdout)
    assert older["config"] == {"model": "gpt-5", "temperature": 0.2}
    got = _json.loads(dprompt("get", "--name", "cfg", "--version", "2", "--json", url=server_url).stdout)
    assert got["config"] == older["config"] and got["text"] == "Be brief."


def test_deps_names_what_a_prompt_includes_and_every_prompt_its_change_reaches(server_url: str,
                                                                               redis_sync: redis.Redis) -> None:
    import json as _json

    for name, text in (("frag", "Never share a card number.\n"), ("mid", "Rules:\n{% include \"frag\" %}"),
                       ("top", "You help.\n{% include \"mid\" %}"), ("alone", "Plain.\n")):
        assert dprompt("load", "--name", name, "--force", "--text", text, url=server_url).returncode == 0
    got = _json.loads(dprompt("deps", "--name", "frag", "--json", url=server_url).stdout)
    assert got == {"name": "frag", "includes": [], "used_by": ["mid", "top"]}
    top = dprompt("deps", "--name", "top", url=server_url).stdout.splitlines()
    assert top == ["top includes: mid, frag", "top is used by: no prompt"]
    missing = dprompt("deps", "--name", "nope", url=server_url)
    assert missing.returncode == 1 and "no prompt named 'nope'" in one_error_line(missing)
