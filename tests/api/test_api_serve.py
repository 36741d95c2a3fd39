"""`serve` on the command line: bad settings or files get one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from apitest import ROOT, serve_command


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ICSSA_")}
    return subprocess.run(
        [*serve_command(), "--db", str(tmp_path / "p.db"),
         "--store", f"sqlite:///{tmp_path / 's.db'}", *args],
        cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [((), {}, "ICSSA_SECRET_KEY"),
     (("--orgs", "/nonexistent/orgs.yaml"), {"ICSSA_SECRET_KEY": "k" * 40}, "no such file"),
     ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], env: dict[str, str], words: str) -> None:
    res = serve(tmp_path, *args, **env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in res.stderr


def test_broken_tree_file_is_one_line(tmp_path: Path) -> None:
    orgs = tmp_path / "orgs.yaml"
    orgs.write_text("organizations: [{id: a, level: city, parent: ghost}]")
    res = serve(tmp_path, "--orgs", str(orgs), ICSSA_SECRET_KEY="k" * 40)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0]
    assert f"{orgs}: organization a: parent 'ghost' does not exist" in lines[0]
