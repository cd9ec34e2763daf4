/* cli/commands.h — one entry point per subcommand; each returns the process exit code. */
#ifndef RR_CLI_COMMANDS_H
#define RR_CLI_COMMANDS_H

int rr_cmd_embed(int argc, char **argv);
int rr_cmd_score(int argc, char **argv);
int rr_cmd_eval(int argc, char **argv);
int rr_cmd_index(int argc, char **argv);
int rr_cmd_retrieve(int argc, char **argv);
int rr_cmd_rerank(int argc, char **argv);
int rr_cmd_fit_head(int argc, char **argv);

#endif
