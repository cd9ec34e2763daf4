/* tests/test_safetensors.c — the safetensors reader on files written here: dtype conversion
 * (F32, F16, BF16), lookup, sharded checkpoints, and every corruption we can name rejected
 * with a message that names the file and what is wrong. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test_util.h"
#include "util/error.h"

static char g_dir[64];

/* Write header JSON + data bytes; header_len_override != 0 lies about the length. */
static void write_st(const char *name, const char *header, const void *data, size_t data_len,
                     uint64_t header_len_override, size_t truncate_to) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *fp = fopen(path, "wb");
    uint64_t hl = header_len_override ? header_len_override : strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(hl >> (8 * i));
    size_t total = 8 + strlen(header) + data_len;
    unsigned char *buf = malloc(total);
    memcpy(buf, le, 8);
    memcpy(buf + 8, header, strlen(header));
    if (data_len)
        memcpy(buf + 8 + strlen(header), data, data_len);
    fwrite(buf, 1, truncate_to ? truncate_to : total, fp);
    fclose(fp);
    free(buf);
}

static rr_status open_named(const char *name, rr_st_file *f) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return rr_st_file_open(path, f);
}

static void expect_fail(const char *name, rr_status want, const char *needle) {
    rr_st_file f;
    rr_status st = open_named(name, &f);
    CHECK_MSG(st == want, "%s: status %s, want %s (%s)", name, rr_status_str(st), rr_status_str(want),
              rr_last_error());
    CHECK_MSG(strstr(rr_last_error(), name) != NULL, "%s: message does not name the file: %s", name,
              rr_last_error());
    CHECK_MSG(strstr(rr_last_error(), needle) != NULL, "%s: message lacks \"%s\": %s", name, needle,
              rr_last_error());
    if (st == RR_OK)
        rr_st_file_close(&f);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rr_test_st_%ld", (long)getpid());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    REQUIRE(system(cmd) == 0, "mkdir");

    /* a valid file: a [2,2] F32, a [3] F16, a [2] BF16, an I64 */
    float f32[4] = {1.0f, -2.5f, 3.25f, 1e-3f};
    uint16_t f16[3] = {0x3c00 /* 1 */, 0xc000 /* -2 */, 0x0001 /* smallest subnormal */};
    uint16_t bf16[2] = {0x3f80 /* 1 */, 0xc0a0 /* -5 */};
    int64_t i64[1] = {42};
    unsigned char data[16 + 6 + 4 + 8];
    memcpy(data, f32, 16);
    memcpy(data + 16, f16, 6);
    memcpy(data + 22, bf16, 4);
    memcpy(data + 26, i64, 8);
    const char *hdr =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[22,26]},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[26,34]}}";
    write_st("good.safetensors", hdr, data, sizeof data, 0, 0);
    rr_st_file f;
    rr_status st = open_named("good.safetensors", &f);
    REQUIRE(st == RR_OK, "good file: %s", rr_last_error());
    CHECK(f.num_tensors == 4);
    rr_checkpoint ck = {&f, 1};
    const rr_st_tensor *a = rr_checkpoint_find(&ck, "a"), *h = rr_checkpoint_find(&ck, "h"),
                       *b = rr_checkpoint_find(&ck, "b"), *i = rr_checkpoint_find(&ck, "i");
    REQUIRE(a && h && b && i, "tensors found");
    CHECK(rr_checkpoint_find(&ck, "nope") == NULL);
    CHECK(a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 2 && a->numel == 4);
    float out[4];
    CHECK(rr_tensor_to_f32(a, out) == RR_OK && out[1] == -2.5f && out[3] == 1e-3f);
    CHECK(rr_tensor_to_f32(h, out) == RR_OK && out[0] == 1.0f && out[1] == -2.0f &&
          fabsf(out[2] - 5.9604645e-08f) < 1e-12f);
    CHECK(rr_tensor_to_f32(b, out) == RR_OK && out[0] == 1.0f && out[1] == -5.0f);
    CHECK(rr_tensor_to_f32(i, out) == RR_ERR_UNSUPPORTED);
    rr_st_file_close(&f);

    /* corruptions */
    write_st("short.safetensors", "", NULL, 0, 0, 5);
    expect_fail("short.safetensors", RR_ERR_FORMAT, "too short");
    write_st("hlen.safetensors", hdr, data, sizeof data, 1ull << 40, 0);
    expect_fail("hlen.safetensors", RR_ERR_FORMAT, "header length");
    write_st("trunc.safetensors", hdr, data, sizeof data, 0, 8 + strlen(hdr) + 20);
    expect_fail("trunc.safetensors", RR_ERR_FORMAT, "truncated");
    write_st("json.safetensors", "{\"a\":", data, 4, 0, 0);
    expect_fail("json.safetensors", RR_ERR_FORMAT, "not a JSON object");
    write_st("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
             data, 16, 0, 0);
    expect_fail("size.safetensors", RR_ERR_FORMAT, "need 12");
    write_st("overlap.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 16, 0, 0);
    expect_fail("overlap.safetensors", RR_ERR_FORMAT, "overlap");
    write_st("dtype.safetensors", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}",
             data, 16, 0, 0);
    expect_fail("dtype.safetensors", RR_ERR_UNSUPPORTED, "F8_E4M3");
    write_st("overflow.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}",
             data, 16, 0, 0);
    expect_fail("overflow.safetensors", RR_ERR_FORMAT, "overflows");
    write_st("negative.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
             data, 16, 0, 0);
    expect_fail("negative.safetensors", RR_ERR_FORMAT, "shape[0]");
    write_st("offsets.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
             data, 16, 0, 0);
    expect_fail("offsets.safetensors", RR_ERR_FORMAT, "data_offsets");
    write_st("dup.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data, 16, 0, 0);
    expect_fail("dup.safetensors", RR_ERR_FORMAT, "duplicate");
    {
        /* deep nesting must not crash the JSON parser */
        size_t depth = 100000;
        char *bomb = malloc(2 * depth + 1);
        memset(bomb, '[', depth);
        memset(bomb + depth, ']', depth);
        bomb[2 * depth] = '\0';
        write_st("bomb.safetensors", bomb, NULL, 0, 0, 0);
        free(bomb);
        expect_fail("bomb.safetensors", RR_ERR_FORMAT, "JSON");
    }

    /* checkpoints: single file, sharded index, missing, pytorch_model.bin only */
    char sub[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/one %s/sharded %s/none %s/pt", g_dir, g_dir, g_dir, g_dir);
    REQUIRE(system(cmd) == 0, "mkdir");
    snprintf(cmd, sizeof cmd, "cp %s/good.safetensors %s/one/model.safetensors && "
             "cp %s/good.safetensors %s/sharded/s1.safetensors && touch %s/pt/pytorch_model.bin",
             g_dir, g_dir, g_dir, g_dir, g_dir);
    REQUIRE(system(cmd) == 0, "cp");
    snprintf(sub, sizeof sub, "%s/sharded/model.safetensors.index.json", g_dir);
    FILE *fp = fopen(sub, "w");
    fprintf(fp, "{\"metadata\":{},\"weight_map\":{\"a\":\"s1.safetensors\",\"h\":\"s1.safetensors\"}}");
    fclose(fp);
    snprintf(sub, sizeof sub, "%s/one", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_OK && ck.num_files == 1 && rr_checkpoint_find(&ck, "b"));
    rr_checkpoint_close(&ck);
    snprintf(sub, sizeof sub, "%s/sharded", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_OK && ck.num_files == 1 && rr_checkpoint_find(&ck, "h"));
    rr_checkpoint_close(&ck);
    fp = fopen(strcat(sub, "/model.safetensors.index.json"), "w");
    fprintf(fp, "{\"weight_map\":{\"zz\":\"s1.safetensors\"}}");
    fclose(fp);
    snprintf(sub, sizeof sub, "%s/sharded", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_ERR_FORMAT && strstr(rr_last_error(), "\"zz\""));
    fp = fopen(strcat(sub, "/model.safetensors.index.json"), "w");
    fprintf(fp, "{\"weight_map\":{\"a\":\"../good.safetensors\"}}");
    fclose(fp);
    snprintf(sub, sizeof sub, "%s/sharded", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_ERR_FORMAT && strstr(rr_last_error(), "plain file name"));
    snprintf(sub, sizeof sub, "%s/none", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_ERR_NOT_FOUND && strstr(rr_last_error(), "model.safetensors"));
    snprintf(sub, sizeof sub, "%s/pt", g_dir);
    CHECK(rr_checkpoint_open(sub, &ck) == RR_ERR_UNSUPPORTED && strstr(rr_last_error(), "pytorch_model.bin"));

    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
