import shutil
import subprocess

import pytest

from support import ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by offcut[test]")
def test_ruff_is_clean():
    result = subprocess.run(["ruff", "check", "py", "tests", "build.py"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
