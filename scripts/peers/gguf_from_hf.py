"""The tiny GPT-2 of make_tiny_llm.py as a GGUF file, for llama.cpp's llama-server,
with llama.cpp's own converter (convert_hf_to_gguf.py, from the source that
scripts/peers.sh --llama unpacked), run unchanged, with two answers it cannot find
by itself for a model made here:

- the BPE pre-tokenizer: the converter knows tokenizers by a hash of how they split a
  test text, and a tokenizer trained here is in no table. Its pre-tokenizer is GPT-2's
  own (Hugging Face ByteLevel, add_prefix_space=False, GPT-2's split pattern), so the
  answer is "gpt-2";
- `n_ctx`: transformers 5 no longer writes it, and the converter's GPT-2 reads it;
  it is `n_positions`, as in the original GPT-2 configs. The model folder is not
  touched: the converter reads a copy.

    python gguf_from_hf.py LLAMA_CPP_DIR HF_DIR OUT.gguf
"""

import json
import os
import runpy
import shutil
import sys
import tempfile


def main():
    llama_dir, hf_dir, out = sys.argv[1:4]
    sys.path[:0] = [llama_dir, os.path.join(llama_dir, "gguf-py")]
    import conversion.base as base  # the converter's own package

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        shutil.copytree(hf_dir, model)
        config_path = os.path.join(model, "config.json")
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        config.setdefault("n_ctx", config["n_positions"])
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        converter = os.path.join(llama_dir, "convert_hf_to_gguf.py")
        sys.argv = [converter, model, "--outfile", out, "--outtype", "f32"]
        runpy.run_path(converter, run_name="__main__")


if __name__ == "__main__":
    main()
