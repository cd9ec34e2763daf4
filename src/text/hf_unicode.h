/* text/hf_unicode.h — the Unicode questions of BertNormalizer and BertPreTokenizer, answered
 * as Hugging Face `tokenizers` answers them.
 *
 * utf8proc gives the answer; hf_unicode_tables.h (generated) corrects it where the Rust
 * library's pinned Unicode data differs (see gen_hf_unicode_tables.py for why). Code
 * points are Unicode scalar values (no surrogates); callers handle ASCII themselves.
 */
#ifndef RR_TEXT_HF_UNICODE_H
#define RR_TEXT_HF_UNICODE_H

#include <stdint.h>

/* Largest output of rr_hf_nfd (canonical decompositions are at most 4 code points). */
#define RR_HF_NFD_MAX 8

/* clean_text drops it: Cc/Cf/Co as unicode_categories sees them. The caller handles NUL,
 * U+FFFD and \t \n \r (which become spaces) first. */
int rr_hf_is_other(int32_t cp);

/* Rust char::is_whitespace (Unicode White_Space). */
int rr_hf_is_whitespace(int32_t cp);

/* BertPreTokenizer isolates it: ASCII punctuation or Unicode P* (unicode_categories). */
int rr_hf_is_punct(int32_t cp);

/* strip_accents drops it after NFD: Mn as unicode_categories sees it. */
int rr_hf_is_mn(int32_t cp);

/* handle_chinese_chars pads it with spaces: the code point ranges BertNormalizer lists. */
int rr_hf_is_cjk(int32_t cp);

/* Full canonical decomposition (NFD without reordering) into out; returns the count. */
int rr_hf_nfd(int32_t cp, int32_t out[RR_HF_NFD_MAX]);

/* Canonical combining class as HF's NFD knows it (for canonical reordering). */
int rr_hf_ccc(int32_t cp);

/* Rust char::to_lowercase: one code point, or two (U+0130 -> i U+0307); returns the count. */
int rr_hf_lower(int32_t cp, int32_t out[2]);

/* A word character as the regex \w that added tokens' single_word checks: letters, marks,
 * decimal digits, letter numbers, connector punctuation, joiners, Other_Alphabetic. */
int rr_hf_is_word_char(int32_t cp);

/* What ByteLevel's pre-tokenizer regex (GPT-2's, run by Oniguruma) makes of a code point:
 * \p{L}, \p{N}, \s (White_Space) or none of them. */
enum { RR_BL_OTHER = 0, RR_BL_LETTER, RR_BL_NUMBER, RR_BL_SPACE };
int rr_hf_bytelevel_class(int32_t cp);

/* The utf8proc Unicode version the delta tables were generated against, and the one
 * linked now; they should be equal (the tests check). */
const char *rr_hf_tables_unicode_version(void);
const char *rr_hf_linked_unicode_version(void);

#endif
