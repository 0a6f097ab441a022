"""``make bundle``: pack ``dist/etrade-mcp-<version>.mcpb`` for Claude Desktop.

The bundle holds the wheel and all its dependencies installed into ``server/lib`` by pip (grpcio and
protobuf are compiled wheels, so a bundle is for the platform and Python minor version it was built
on; the rendered manifest says which), ``server/main.py`` and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from broker_client import VERSION

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATE = HERE / "manifest.json"


def render_manifest(
    *, version: str = VERSION, platform: str = sys.platform, python: tuple[int, int] = sys.version_info[:2]
) -> dict[str, Any]:
    """The manifest for this build: the release number, and the platform and Python minor version the
    compiled dependencies in ``server/lib`` were installed for."""
    manifest: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    manifest["version"] = version
    major, minor = python
    manifest["compatibility"]["platforms"] = [platform]
    manifest["compatibility"]["runtimes"]["python"] = f">={major}.{minor},<{major}.{minor + 1}"
    return manifest


def build(output_dir: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="etrade-mcpb-") as scratch:
        work = Path(scratch)
        wheels = work / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)],
            check=True,
        )
        (wheel,) = wheels.glob("etrade_mcp-*.whl")
        staging = work / "bundle"
        lib = staging / "server" / "lib"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(lib), str(wheel)],
            check=True,
        )
        # Console scripts and shared data point at pip's target, not at anything the host runs.
        for extra in ("bin", "share"):
            shutil.rmtree(lib / extra, ignore_errors=True)
        shutil.copyfile(HERE / "server_main.py", staging / "server" / "main.py")
        (staging / "manifest.json").write_text(json.dumps(render_manifest(), indent=2) + "\n", encoding="utf-8")
        output_dir.mkdir(parents=True, exist_ok=True)
        target = output_dir / f"etrade-mcp-{VERSION}.mcpb"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(staging).as_posix())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcpb.build", description=__doc__)
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist", help="where the .mcpb goes (default: dist/)")
    args = parser.parse_args(argv)
    target = build(args.output_dir)
    print(f"{target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
