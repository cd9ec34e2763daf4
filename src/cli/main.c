/* cli/main.c — the `rerank` command: dispatches to one function per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct rr_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} rr_command;

static const rr_command rr_commands[] = {
    {"embed", rr_cmd_embed, "texts -> float32 embeddings (.npy or raw with a header)"},
    {"score", rr_cmd_score, "query + passages, or a TSV of pairs -> cross-encoder scores"},
    {"index", rr_cmd_index, "BEIR corpus -> bi-encoder embeddings -> FAISS index directory"},
    {"retrieve", rr_cmd_retrieve, "queries -> top-k from an index directory -> TREC run"},
    {"rerank", rr_cmd_rerank, "TREC run of candidates + dataset + cross-encoder -> reranked TREC run"},
    {"eval", rr_cmd_eval, "TREC run + qrels -> trec_eval's measures, byte for byte"},
    {"run", rr_cmd_run, "CONFIG.yaml -> first stage, rerank, eval, summary in one output directory"},
    {"fit-head", rr_cmd_fit_head, "labelled pairs + frozen encoder -> fitted head -> cross-encoder directory"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: rerank <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof rr_commands / sizeof rr_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", rr_commands[i].name, rr_commands[i].summary);
    fprintf(out, "\n`rerank <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("rerank 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof rr_commands / sizeof rr_commands[0]; i++)
        if (!strcmp(argv[1], rr_commands[i].name))
            return rr_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rerank: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
