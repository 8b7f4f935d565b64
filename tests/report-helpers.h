/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * For the report suites (test-report, test-report-cli): the corral binary run against the
 * test's root with a policy dir, corral.conf and ledger in a temporary directory, its JSON
 * read with jansson, and ledgers made through the accounting API.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RH_NS   1000000000ull
#define RH_MS   1000000ull
#define RH_HOUR (3600 * RH_NS)

/* The temporary directory ("" when CORRAL_BUILD_ROOT is unset), its ledger, and the build
 * root's binaries. */
extern char rh_tmpdir[64], rh_ledger[128], rh_corral[512], rh_build[256];

/* .init / .fini: the directory with an empty policy dir and a corral.conf with a rate card,
 * and its removal. */
void rh_setup(void);
void rh_teardown(void);
/* Skips the test unless the corral binary is there. */
void rh_need_corral(void);

/* Writes a whole file, mode 0644. */
int rh_put_file(const char *path, const char *text);
/* policies/NAME.policy */
void rh_policy(const char *name, const char *text);

#define RH_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
/* Starts corral with the global options and args; its stdout into *ret_fd when given.
 * env: one "NAME=VALUE" for it, or NULL. urgent: at nice -20 (inherited by what it
 * starts), so that on a loaded machine it waits less for a CPU. */
pid_t rh_spawn(const char *const *args, const char *env, int *ret_fd, bool urgent);
/* Runs corral to the end: its exit status, and its stdout in *out (malloc'ed) if given. */
int rh_run(char **out, const char *env, const char *const *args);
/* Runs a report (asserting exit 0) and parses its JSON. */
json_t *rh_report(const char *env, const char *const *args);
/* The row of key, or NULL; a number of an object (asserted to be one). */
json_t *rh_row(json_t *rep, const char *key);
uint64_t rh_num(json_t *o, const char *k);

/* An instance in the ledger sampled every step from start to end (1 MiB, CPU a tenth of
 * the time), with a final record at end unless running. */
void rh_instance(const char *path, const char *account, uint64_t start, uint64_t end, uint64_t step,
                 bool final);
