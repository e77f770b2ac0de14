"""A tiny GPT-2 made here, for measuring a real LLM server without downloading
anything: a byte-level BPE tokenizer trained on a few lines of generated text, and a
2-layer GPT-2 with random weights from a fixed seed, saved as transformers saves a
model (config.json, model.safetensors, tokenizer.json, tokenizer_config.json).

    python make_tiny_llm.py OUT_DIR [--layers 2] [--width 64] [--ascii]

Random weights generate nonsense, which is all a latency measurement needs: the
server runs the same forward passes, token by token, as for a trained model.

--ascii trains the tokenizer on the 128 ASCII bytes only: a random model can then
never emit half of a UTF-8 character, which a server (llama.cpp's) holds back and
sends with the next token, so that every streamed chunk is one token.
"""

import argparse
import os
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

WORDS = ("the of and to in is that for it as was with be by on not he this are or his "
         "from at which but have an had they you were their one all we can her has there "
         "been if more when will would who so no").split()


def ascii_alphabet():
    """ByteLevel's characters for the bytes below 128 (GPT-2's byte-to-unicode map)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
                 + list(range(0xAE, 0x100)))
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shifted)
            shifted += 1
    return [chars[b] for b in range(128)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ascii", action="store_true", help="an ASCII-only byte alphabet")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(200)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=(ascii_alphabet() if args.ascii
                                                    else pre_tokenizers.ByteLevel.alphabet()))
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    # A plain chat template, so that /v1/chat/completions works too.
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant:{% endif %}")
    fast.save_pretrained(args.out)
    torch.manual_seed(args.seed)
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=2048, n_embd=args.width,
                     n_layer=args.layers, n_head=2, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()
    # Never stop early: a random model could sample its end-of-text token at any step,
    # and the measurement wants the output lengths it asked for.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    model.save_pretrained(args.out)
    print(f"wrote {args.out}: GPT-2 {args.layers} layers x {args.width}, vocab {tok.get_vocab_size()}")


if __name__ == "__main__":
    main()
