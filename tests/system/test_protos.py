"""The committed generated code matches the .proto files."""

from __future__ import annotations

import subprocess
import sys


def test_generated_code_has_not_drifted_from_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "protos.generate", "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
