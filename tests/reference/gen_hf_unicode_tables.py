#!/usr/bin/env python3
"""Generate src/text/hf_unicode_tables.h: where Hugging Face `tokenizers` and utf8proc disagree.

Why this exists: the Rust `tokenizers` library answers the Unicode questions of
BertNormalizer / BertPreTokenizer from three different sources, each of its own Unicode
version:
  - is_other (clean_text), is_mark_nonspacing (strip_accents), is_punctuation
    (BertPreTokenizer) come from the `unicode_categories` crate, frozen at Unicode 8;
  - NFD comes from the `unicode-normalization-alignments` crate (an older Unicode: it
    neither decomposes U+11938 nor knows the combining class of marks added since);
  - char::to_lowercase and char::is_whitespace come from Rust's std (a recent Unicode,
    with the full lowercase mapping: U+0130 -> "i" U+0307).
utf8proc answers all of them from one, newer or older, Unicode version. The C code asks
utf8proc first and then corrects its answer with these delta lists, so the tokenizer gives
Hugging Face's ids for every code point. They are not Unicode tables of our own: each list
holds only the code points where the two libraries differ (a few hundred, mostly
characters assigned after Unicode 8).

The delta depends on both sides: regenerate after changing the utf8proc or the tokenizers
version (test_tokenizer checks that utf8proc still reports the version recorded here):

    python3 tests/reference/gen_hf_unicode_tables.py > src/text/hf_unicode_tables.h
"""
import ctypes
import ctypes.util
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers

lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
lib.utf8proc_unicode_version.restype = ctypes.c_char_p
lib.utf8proc_category.argtypes = [ctypes.c_int32]
lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
lib.utf8proc_tolower.restype = ctypes.c_int32
lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                        ctypes.c_ssize_t, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int)]
lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t


class Property(ctypes.Structure):  # the first fields of utf8proc_property_t
    _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]


lib.utf8proc_get_property.argtypes = [ctypes.c_int32]
lib.utf8proc_get_property.restype = ctypes.POINTER(Property)
UTF8PROC_DECOMPOSE = 1 << 3

CN, MN, PC, PO, ZS, ZL, ZP, CC, CF, CS, CO = 0, 6, 12, 18, 23, 24, 25, 26, 27, 28, 29


def u_cat(cp):
    return lib.utf8proc_category(cp)


def u_ccc(cp):
    return lib.utf8proc_get_property(cp).contents.combining_class


def u_decompose(cp):
    buf = (ctypes.c_int32 * 32)()
    last = ctypes.c_int(0)
    n = lib.utf8proc_decompose_char(cp, buf, 32, UTF8PROC_DECOMPOSE, ctypes.byref(last))
    return [buf[i] for i in range(n)]


def u_is_whitespace(cp):  # Rust char::is_whitespace (White_Space) through utf8proc
    return cp in (9, 10, 11, 12, 13, 0x85) or u_cat(cp) in (ZS, ZL, ZP)


def u_is_other(cp):  # what hf_unicode.c asks utf8proc before the delta
    return u_cat(cp) in (CC, CF, CS, CO)


def u_is_word(cp):  # hf_unicode.c's first guess at regex \\w (single_word added tokens)
    if cp < 128:
        return chr(cp).isascii() and (chr(cp).isalnum() or cp == 0x5F)
    return cp in (0x200C, 0x200D) or u_cat(cp) in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12)


def u_is_punct(cp):
    ascii_punct = 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
    return ascii_punct or PC <= u_cat(cp) <= PO


def hf_norm(**kw):
    opts = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                lowercase=False)
    opts.update(kw)
    return normalizers.BertNormalizer(**opts)


clean = hf_norm(clean_text=True)
strip = hf_norm(strip_accents=True)
lower = hf_norm(lowercase=True)
nfd = normalizers.NFD()
pretok = pre_tokenizers.BertPreTokenizer()
# single_word added tokens: matched only between non-word characters (the regex crate's \w)
word_probe = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
word_probe.add_tokens([AddedToken("Q", single_word=True, normalized=False)])
Q_ID = word_probe.token_to_id("Q")

other_not, other_extra = [], []  # utf8proc other but HF keeps / HF drops, utf8proc not
mn_not, mn_extra = [], []
punct_not, punct_extra = [], []
word_not, word_extra = [], []
nfd_exceptions = []  # (cp, [hf decomposition])
ccc_zero = []  # utf8proc gives a combining class, HF's NFD treats them as starters
lower_exceptions = []  # (cp, [hf lowercase])
problems = []

for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    c = chr(cp)
    # clean_text: '' = dropped, ' ' = whitespace, c = kept
    got = clean.normalize_str(c)
    if cp in (9, 10, 13) or cp == 0 or cp == 0xFFFD:
        pass  # handled explicitly in C
    elif u_is_whitespace(cp) and u_cat(cp) not in (CC,):
        if got != " ":
            problems.append("whitespace %04X" % cp)
    else:
        hf_drop = got == ""
        if hf_drop and not u_is_other(cp):
            other_extra.append(cp)
        elif not hf_drop and u_is_other(cp):
            other_not.append(cp)
        elif not hf_drop and got != c:
            problems.append("clean %04X" % cp)
    # NFD
    hf_d = [ord(x) for x in nfd.normalize_str(c)]
    if hf_d != u_decompose(cp):
        nfd_exceptions.append((cp, hf_d))
    # Combining classes never change once assigned, so HF either agrees or (for marks newer
    # than its data) says 0. A known mark reorders behind U+0345 (class 240), or in front of
    # U+0334 (class 1) for class 240 itself.
    if hf_d == [cp] and u_ccc(cp) > 0:
        if u_ccc(cp) < 240:
            known = nfd.normalize_str("\u0345" + c) == c + "\u0345"
        else:
            known = nfd.normalize_str(c + "\u0334") == "\u0334" + c
        if not known:
            ccc_zero.append(cp)
    # Mn, asked only of code points that NFD leaves alone
    if hf_d == [cp]:
        hf_mn = strip.normalize_str(c) == ""
        u_mn = u_cat(cp) == MN
        if hf_mn and not u_mn:
            mn_extra.append(cp)
        elif u_mn and not hf_mn:
            mn_not.append(cp)
    # lowercase
    hf_l = [ord(x) for x in lower.normalize_str(c)]
    if hf_l != [lib.utf8proc_tolower(cp)]:
        lower_exceptions.append((cp, hf_l))
    # word characters as single_word sees them
    hf_w = Q_ID not in word_probe.encode(c + "Q", add_special_tokens=False).ids
    if hf_w != (Q_ID not in word_probe.encode("Q" + c, add_special_tokens=False).ids):
        problems.append("word %04X" % cp)
    if hf_w and not u_is_word(cp):
        word_extra.append(cp)
    elif u_is_word(cp) and not hf_w:
        word_not.append(cp)
    # punctuation / whitespace as BertPreTokenizer sees them
    parts = len(pretok.pre_tokenize_str("a" + c + "a"))
    if (parts == 2) != u_is_whitespace(cp):
        problems.append("pretok whitespace %04X" % cp)
    hf_p = parts == 3
    if hf_p and not u_is_punct(cp):
        punct_extra.append(cp)
    elif u_is_punct(cp) and not hf_p:
        punct_not.append(cp)



def onig_matches(pattern):
    """The code points the `tokenizers` library's regex engine (Oniguruma, as ByteLevel's
    pre-tokenizer compiles its pattern) matches with pattern, probed 4096 at a time."""
    probe = pre_tokenizers.Split(Regex(pattern), behavior="removed")
    cps = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
    hit = set()
    for k in range(0, len(cps), 4096):
        chunk = cps[k:k + 4096]
        kept = set()
        for _, (a, b) in probe.pre_tokenize_str("".join(map(chr, chunk))):
            kept.update(chunk[a:b])
        hit.update(cp for cp in chunk if cp not in kept)
    return hit


# ByteLevel's regex classes: \p{L}, \p{N} against utf8proc's L* and N*; \s must be White_Space
onig_l, onig_n = onig_matches(r"\p{L}"), onig_matches(r"\p{N}")
u_l = {cp for cp in range(1, 0x110000) if 1 <= u_cat(cp) <= 5}
u_n = {cp for cp in range(1, 0x110000) if 9 <= u_cat(cp) <= 11}
letter_not, letter_extra = sorted(u_l - onig_l), sorted(onig_l - u_l)
number_not, number_extra = sorted(u_n - onig_n), sorted(onig_n - u_n)
if onig_matches(r"\s") != {cp for cp in range(1, 0x110000) if u_is_whitespace(cp)}:
    problems.append("ByteLevel's \\s is not White_Space")
if onig_l & onig_n:
    problems.append("a code point both \\p{L} and \\p{N}")

if problems:
    sys.exit("generator assumptions broken: " + ", ".join(problems[:20]))
for cp, seq in lower_exceptions:
    if len(seq) > 2:
        sys.exit("lowercase of %04X has %d code points" % (cp, len(seq)))
for cp, seq in nfd_exceptions:
    if len(seq) > 4:
        sys.exit("NFD of %04X has %d code points" % (cp, len(seq)))


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def emit_ranges(name, cps, what):
    rs = ranges(cps)
    print("/* %s (%d code points) */" % (what, len(cps)))
    print("static const rr_cp_range %s[] = {" % name)
    line = "   "
    for lo, hi in rs:
        item = " {0x%04X, 0x%04X}," % (lo, hi)
        if len(line) + len(item) > 92:
            print(line)
            line = "   "
        line += item
    if not rs:
        line += " {0xFFFFFFFF, 0}, /* empty */"
    print(line)
    print("};")
    print()


version = lib.utf8proc_unicode_version().decode()
print("/* text/hf_unicode_tables.h — GENERATED by tests/reference/gen_hf_unicode_tables.py; do not edit.")
print(" * Where Hugging Face tokenizers %s and utf8proc (Unicode %s) disagree." %
      (tokenizers.__version__, version))
print(" * Included only by hf_unicode.c. */")
print('#define RR_HF_TABLES_UTF8PROC_UNICODE "%s"' % version)
print('#define RR_HF_TABLES_TOKENIZERS "%s"' % tokenizers.__version__)
print()
emit_ranges("hf_other_not", other_not, "utf8proc says Cc/Cf/Co, HF's clean_text keeps them")
emit_ranges("hf_other_extra", other_extra, "HF's clean_text drops them, utf8proc says not Cc/Cf/Co")
emit_ranges("hf_mn_not", mn_not, "utf8proc says Mn, HF's strip_accents keeps them")
emit_ranges("hf_mn_extra", mn_extra, "HF's strip_accents drops them, utf8proc says not Mn")
emit_ranges("hf_punct_not", punct_not, "utf8proc says P*, BertPreTokenizer does not split them")
emit_ranges("hf_punct_extra", punct_extra, "BertPreTokenizer isolates them, utf8proc says not P*")
emit_ranges("hf_word_not", word_not, "utf8proc letter/mark/digit/connector, not \\w to HF")
emit_ranges("hf_word_extra", word_extra, "\\w to HF (single_word), not letter/mark/digit to utf8proc")
emit_ranges("hf_letter_not", letter_not, "utf8proc says L*, ByteLevel's regex \\p{L} does not match them")
emit_ranges("hf_letter_extra", letter_extra, "ByteLevel's regex \\p{L} matches them, utf8proc says not L*")
emit_ranges("hf_number_not", number_not, "utf8proc says N*, ByteLevel's regex \\p{N} does not match them")
emit_ranges("hf_number_extra", number_extra, "ByteLevel's regex \\p{N} matches them, utf8proc says not N*")
emit_ranges("hf_ccc_zero", ccc_zero, "combining marks HF's NFD does not reorder (class 0 there)")
print("/* NFD where unicode-normalization and utf8proc differ: code point, length, result */")
print("static const rr_cp_map hf_nfd_exceptions[] = {")
for cp, seq in nfd_exceptions:
    body = ", ".join("0x%04X" % x for x in seq) or "0"
    print("    {0x%04X, %d, {%s}}," % (cp, len(seq), body))
if not nfd_exceptions:
    print("    {0xFFFFFFFF, 0, {0}}, /* empty */")
print("};")
print()
print("/* Rust char::to_lowercase where it differs from utf8proc_tolower */")
print("static const rr_cp_map hf_lower_exceptions[] = {")
for cp, seq in lower_exceptions:
    print("    {0x%04X, %d, {%s}}," % (cp, len(seq), ", ".join("0x%04X" % x for x in seq)))
if not lower_exceptions:
    print("    {0xFFFFFFFF, 0, {0}}, /* empty */")
print("};")
