/* io/hf_export.h — write a Hugging Face cross-encoder directory (BertForSequenceClassification
 * with one label) from a BERT trunk and a fitted linear head.
 *
 * The directory holds model.safetensors (every trunk tensor of the source — embeddings.*,
 * encoder.*, pooler.* — in its stored dtype, named with the "bert." prefix, plus
 * classifier.weight [1, H] and classifier.bias [1] in F32), config.json (the source's, with
 * architectures ["BertForSequenceClassification"] and one label), the tokenizer files the
 * source has (vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json) and
 * an optional README.md. Output bytes depend only on the inputs (sorted tensor names, sorted
 * JSON keys). The directory appears atomically: it is built as "<out>.tmp-XXXXXX" beside
 * out, every file fsynced, then renamed; on any error the temporary is removed and out does
 * not exist. An existing out is refused.
 */
#ifndef RR_IO_HF_EXPORT_H
#define RR_IO_HF_EXPORT_H

#include <stdint.h>

#include "rerank/status.h"

typedef struct rr_hf_export {
    const char *source_dir; /* the trunk: a cross-encoder or a bare BERT directory */
    const char *out_dir;
    int32_t hidden;         /* H, checked against the pooler's shape */
    const float *weight;    /* [H] */
    float bias;
    const char *config_extra_key; /* optional: a key added to config.json ... */
    const char *config_extra_json; /* ... holding this JSON object text */
    const char *readme;     /* optional README.md text */
} rr_hf_export;

/* Error when out_dir exists (checked first, so callers can check it before long work). */
rr_status rr_hf_export_check_target(const char *out_dir);
rr_status rr_hf_export_cross_encoder(const rr_hf_export *e);

#endif
