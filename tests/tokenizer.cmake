# Tokenizer: ids identical to Hugging Face's fast tokenizer on SciFact and the edge cases
# (tests/fixtures/tokenizer_*), loaded from tokenizer.json and from vocab.txt; the XLM-R and
# DeBERTa-v2/v3 Unigram tokenizers against xlmr_tokenizer_* and deberta_tokenizer_* (both
# readings: transformers 5's class, the file as the tokenizers library reads it).
rr_test(test_tokenizer SOURCES test_tokenizer.c LABELS cpu model)
