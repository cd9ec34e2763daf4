/* rerank/rerank.h — the whole public API of the rerank library. */
#ifndef RERANK_RERANK_H
#define RERANK_RERANK_H

#include "rerank/config.h"
#include "rerank/eval.h"
#include "rerank/index.h"
#include "rerank/model.h"
#include "rerank/status.h"
#include "rerank/tokenizer.h"

#endif
