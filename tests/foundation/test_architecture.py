"""The import contract in pyproject.toml ([tool.importlinter]) holds, and it would catch an
import against the arrows (README, "Architecture")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("web", "demo", "workflows", "dashboard", "meetings", "signing", "services")
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages under `root` (put first on the path, so an installed
    checkout elsewhere is not the one analysed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_imports_follow_the_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("services/errors.py", "import meetings.models", "services is not allowed to import meetings"),
        ("meetings/live.py", "import web.i18n", "meetings is not allowed to import web"),
        ("signing/pades.py", "import demo.directory", "signing is not allowed to import demo"),
        ("workflows/retry.py", "import dashboard.queries", "workflows is not allowed to import dashboard"),
        ("web/routes/incoming.py", "import workflows.incoming.activities", "web.routes.incoming -> workflows.incoming.activities"),
        ("web/routes/home.py", "import demo.directory", "web.routes.home -> demo.directory"),
        ("services/reports/service.py", "import services.migrations.models", "services.reports.service -> services.migrations.models"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, line: str, expected: str) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.po", "*.mo", "static", "templates")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / module, "a", encoding="utf-8") as source:
        source.write(f"\n{line}  # added by the test\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in " ".join(result.stdout.split())
