# Tokenizer: ids identical to Hugging Face's fast tokenizer on SciFact and the edge cases
# (tests/fixtures/tokenizer_*), loaded from tokenizer.json and from vocab.txt.
rr_test(test_tokenizer SOURCES test_tokenizer.c LABELS cpu model)
