#!/usr/bin/env python3
"""bench/modernbert_base.py OUT_DIR — a ModernBERT cross-encoder of ModernBERT-base's shape
(hidden 768, 22 layers, 12 heads, intermediate 1152, local attention 128 with every third layer
global, RoPE bases 160000 / 10000) with seeded random weights, for timing rerank's ModernBERT path
against PyTorch on the same function (bench/bench_cpu.py --model OUT_DIR). No trained ModernBERT is
reachable here; speed does not depend on the weights' values. The tokenizer is the ModernBERT test
checkpoint's (tests/tools/make_modernbert.py: the RoBERTa test BPE, 8,000 tokens, as ModernBERT's
tokenizer.json), so the vocabulary is 8,064 rows instead of 50,368: the embedding lookup is the
same work either way.

Needs torch and transformers (the bench's peers need them anyway).
"""
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "tools"))
import make_modernbert  # noqa: E402


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().split("\n")[0])
    out = argv[1]
    import torch
    from transformers import ModernBertConfig, ModernBertForSequenceClassification
    torch.manual_seed(20261129)
    fixture = os.path.join(REPO, "tests", "fixtures", "test-modernbert-cross-encoder")
    cfg = ModernBertConfig(vocab_size=8064, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
                           num_attention_heads=12, max_position_embeddings=8192, local_attention=128,
                           global_attn_every_n_layers=3, num_labels=1, pad_token_id=8003, bos_token_id=8001,
                           eos_token_id=8002, cls_token_id=8001, sep_token_id=8002, classifier_pooling="mean")
    model = ModernBertForSequenceClassification(cfg).eval()
    with torch.no_grad():  # transformers' init gives near-zero outputs; widen it so the scores spread
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
    model.save_pretrained(out, safe_serialization=True)
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(make_modernbert.tokenizer_json(os.path.join(REPO, "tests", "fixtures", "test-roberta-cross-encoder")))
    shutil.copyfile(os.path.join(fixture, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))


if __name__ == "__main__":
    main(sys.argv)
