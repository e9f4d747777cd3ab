"""The layers are checked, not hoped for: import-linter's contracts in pyproject.toml.

One test runs the contracts on the package as it is; the other copies the package,
makes a pure module import redis, and proves the contracts then fail (so a green
run means something).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")

pytestmark = pytest.mark.skipif(not Path(LINT).exists(), reason="import-linter is in the test extra")


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(project / "src"), "PATH": "/usr/bin:/bin"})


def test_the_layer_contracts_hold() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("core/keys.py", "import redis  # a pure module reaching for the server", "the core knows no Redis"),
    ("store/reads.py", "from dynamic_prompt.live import feed  # a layer reaching up", "layers:"),
    ("live/cache.py", "import textual  # the screen, below the faces", "server, store and live know no screen"),
])
def test_the_contracts_fail_when_a_module_breaks_its_layer(tmp_path: Path, module: str, line: str,
                                                          contract: str) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "dynamic_prompt" / module
    text = target.read_text()
    # After the module's docstring and the __future__ import, so the file still compiles.
    marker = "from __future__ import annotations\n"
    target.write_text(text.replace(marker, marker + line + "\n", 1) if marker in text else line + "\n" + text)
    run = _lint(tmp_path)
    assert run.returncode != 0
    broken = [row for row in run.stdout.splitlines() if row.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), run.stdout
