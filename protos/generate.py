"""Regenerate the committed gRPC code from the .proto files, or check that it has not drifted.

    python -m protos.generate          # rewrite protos/broker/v1/*_pb2*.py[i] and mcp_proxy/wire_models.py
    python -m protos.generate --check  # exit 1 and name the files that differ

mcp_proxy/wire_models.py (the MCP tools' output models) is rendered from the same .proto files by
:mod:`protos.proxy_models`, from a descriptor set that keeps the comments.

The .proto files live where their path equals the Python import path (``protos/broker/v1``), so
protoc emits ``from protos.broker.v1 import market_pb2`` without any rewriting. The generators are
pinned exactly in pyproject.toml (grpcio-tools, mypy-protobuf) so the output is reproducible.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos" / "broker" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
WIRE_MODELS = ROOT / "mcp_proxy" / "wire_models.py"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generated_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def _plugin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"error: {name} not found\nhint: install the dev dependencies: pip install -e '.[dev]'")
    return found


def generate(out_root: Path) -> None:
    """Run protoc for every .proto into ``out_root`` (which mirrors the repository root)."""
    from grpc_tools import protoc  # dev dependency only; imported here so --help stays cheap

    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        # Absolute paths under the -I root: protoc names them protos/broker/v1/<file>.proto.
        *[str(p) for p in proto_files()],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("error: protoc failed (its message is above)")
    descriptors = out_root / "descriptors.pb"
    if (
        protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{ROOT}",
                f"-I{include}",
                "--include_source_info",
                f"--descriptor_set_out={descriptors}",
                *[str(p) for p in proto_files()],
            ]
        )
        != 0
    ):
        raise SystemExit("error: protoc failed (its message is above)")
    (out_root / WIRE_MODELS.name).write_text(wire_models_source(descriptors))


def wire_models_source(descriptors: Path) -> str:
    from google.protobuf import descriptor_pb2

    from protos.proxy_models import render

    files = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes()).file
    return render(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protos.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out_root = Path(tmp)
        generate(out_root)
        fresh_dir = out_root / PROTO_DIR.relative_to(ROOT)
        fresh = {p.name: p for p in generated_files(fresh_dir)}
        committed = {p.name: p for p in generated_files(PROTO_DIR)}
        fresh[WIRE_MODELS.name] = out_root / WIRE_MODELS.name
        if WIRE_MODELS.exists():
            committed[WIRE_MODELS.name] = WIRE_MODELS
        if args.check:
            drift = sorted(
                name
                for name in fresh.keys() | committed.keys()
                if name not in fresh
                or name not in committed
                or not filecmp.cmp(fresh[name], committed[name], shallow=False)
            )
            if drift:
                print("error: generated code in protos/ differs from the .proto files:", file=sys.stderr)
                for name in drift:
                    where = WIRE_MODELS.parent if name == WIRE_MODELS.name else PROTO_DIR
                print(f"  {where.relative_to(ROOT) / name}", file=sys.stderr)
                print("hint: run `make protos` and commit the result", file=sys.stderr)
                return 1
            print(f"protos: {len(fresh)} generated files match {len(proto_files())} .proto files")
            return 0
        for name in committed.keys() - fresh.keys():
            committed[name].unlink()
        for name, path in fresh.items():
            shutil.copyfile(path, WIRE_MODELS if name == WIRE_MODELS.name else PROTO_DIR / name)
        print(f"protos: wrote {len(fresh)} files from {len(proto_files())} .proto files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
