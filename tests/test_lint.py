import importlib.util
import subprocess
import sys

import pytest

from support import ROOT


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is installed with offcut[test]")
def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "py", "tests", "build.py"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
