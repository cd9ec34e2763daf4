/* text/hf_unicode.c — utf8proc's answers, corrected to Hugging Face tokenizers' answers by the
 * generated delta lists in hf_unicode_tables.h. */
#include "text/hf_unicode.h"

#include <stddef.h>
#include <utf8proc.h>

typedef struct rr_cp_range {
    uint32_t lo, hi;
} rr_cp_range;

typedef struct rr_cp_map {
    uint32_t cp;
    uint8_t n;
    uint32_t out[4];
} rr_cp_map;

#include "text/hf_unicode_tables.h"

#define RR_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_ranges(const rr_cp_range *r, size_t n, uint32_t cp) {
    if (n == 0 || cp < r[0].lo || cp > r[n - 1].hi)
        return 0;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static const rr_cp_map *find_map(const rr_cp_map *m, size_t n, uint32_t cp) {
    if (n == 0 || cp < m[0].cp || cp > m[n - 1].cp)
        return NULL;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < m[mid].cp)
            hi = mid;
        else if (cp > m[mid].cp)
            lo = mid + 1;
        else
            return &m[mid];
    }
    return NULL;
}

#define IN(table, cp) in_ranges(table, RR_COUNT(table), (uint32_t)(cp))

int rr_hf_is_other(int32_t cp) {
    utf8proc_category_t c = utf8proc_category(cp);
    if (c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
        c == UTF8PROC_CATEGORY_CS)
        return !IN(hf_other_not, cp);
    return IN(hf_other_extra, cp);
}

int rr_hf_is_whitespace(int32_t cp) {
    if ((cp >= 9 && cp <= 13) || cp == 0x85)
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

int rr_hf_is_punct(int32_t cp) {
    if (cp < 128)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    utf8proc_category_t c = utf8proc_category(cp);
    if (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO)
        return !IN(hf_punct_not, cp);
    return IN(hf_punct_extra, cp);
}

int rr_hf_is_mn(int32_t cp) {
    if (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN)
        return !IN(hf_mn_not, cp);
    return IN(hf_mn_extra, cp);
}

int rr_hf_is_cjk(int32_t cp) {
    /* BertNormalizer's is_chinese_char, as written there (note 0x2B920, not 0x2B820). */
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

int rr_hf_nfd(int32_t cp, int32_t out[RR_HF_NFD_MAX]) {
    const rr_cp_map *m = find_map(hf_nfd_exceptions, RR_COUNT(hf_nfd_exceptions), (uint32_t)cp);
    if (m) {
        for (int i = 0; i < m->n; i++)
            out[i] = (int32_t)m->out[i];
        return m->n;
    }
    int last_boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, out, RR_HF_NFD_MAX, UTF8PROC_DECOMPOSE,
                                                 &last_boundclass);
    if (n < 1 || n > RR_HF_NFD_MAX) { /* cannot happen for a scalar value; keep it whole */
        out[0] = cp;
        return 1;
    }
    return (int)n;
}

int rr_hf_ccc(int32_t cp) {
    int ccc = utf8proc_get_property(cp)->combining_class;
    return ccc && !IN(hf_ccc_zero, cp) ? ccc : 0;
}

int rr_hf_lower(int32_t cp, int32_t out[2]) {
    const rr_cp_map *m =
        find_map(hf_lower_exceptions, RR_COUNT(hf_lower_exceptions), (uint32_t)cp);
    if (m) {
        out[0] = (int32_t)m->out[0];
        if (m->n > 1)
            out[1] = (int32_t)m->out[1];
        return m->n;
    }
    out[0] = utf8proc_tolower(cp);
    return 1;
}

int rr_hf_is_word_char(int32_t cp) {
    if (cp < 128)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               cp == '_';
    if (cp == 0x200C || cp == 0x200D) /* Join_Control */
        return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return !IN(hf_word_not, cp);
    default: /* Other_Alphabetic symbols (circled letters) and letters newer than utf8proc */
        return IN(hf_word_extra, cp);
    }
}

int rr_hf_bytelevel_class(int32_t cp) {
    if (cp < 128) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return RR_BL_LETTER;
        if (cp >= '0' && cp <= '9')
            return RR_BL_NUMBER;
        return cp == ' ' || (cp >= 9 && cp <= 13) ? RR_BL_SPACE : RR_BL_OTHER;
    }
    utf8proc_category_t c = utf8proc_category(cp);
    if (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO && !IN(hf_letter_not, cp))
        return RR_BL_LETTER;
    if (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO && !IN(hf_number_not, cp))
        return RR_BL_NUMBER;
    if (rr_hf_is_whitespace(cp))
        return RR_BL_SPACE;
    if (IN(hf_letter_extra, cp))
        return RR_BL_LETTER;
    return IN(hf_number_extra, cp) ? RR_BL_NUMBER : RR_BL_OTHER;
}

const char *rr_hf_tables_unicode_version(void) { return RR_HF_TABLES_UTF8PROC_UNICODE; }

const char *rr_hf_linked_unicode_version(void) { return utf8proc_unicode_version(); }
