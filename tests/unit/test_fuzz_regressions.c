/*
 * test_fuzz_regressions.c - replays what the fuzzers found, and their
 * seeds, through the very logic of the fuzz targets (tests/fuzz/targets.c).
 *
 * Every file in tests/fuzz/regressions/TARGET/ is an input that once
 * crashed, leaked or broke a property; every file in tests/fuzz/corpus/
 * TARGET/ is a seed. Both are fed to fuzz_TARGET, which aborts with
 * "fuzz TARGET: ..." when a property breaks, and which the sanitizers
 * watch in a SANITIZE=ON build. The file being replayed is printed first,
 * so a failure names its input. scripts/fuzz.sh runs the same targets
 * under libFuzzer; this test needs neither clang nor libFuzzer.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "targets.h"

typedef struct {
    const char *kind;   /* "corpus" or "regressions" */
    const char *target; /* "wire", ... */
    const char *name;   /* the test's: "corpus/wire" */
} replay_t;

static int
name_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static fuzz_target_fn
target_find (const char *name)
{
    for (size_t i = 0; i < fuzz_target_count; i++)
        if (strcmp (fuzz_targets[i].name, name) == 0)
            return fuzz_targets[i].run;
    return NULL;
}

/* Reads a whole file; NULL when it cannot. The caller frees. */
static uint8_t *
file_read (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (capacity - size < 4096) {
            capacity = capacity ? capacity * 2 : 8192;
            uint8_t *bigger = realloc (data, capacity);
            if (!bigger) {
                free (data);
                fclose (file);
                return NULL;
            }
            data = bigger;
        }
        size_t got = fread (data + size, 1, capacity - size, file);
        size += got;
        if (got == 0)
            break;
    }
    fclose (file);
    *size_p = size;
    return data;
}

/* Feeds every regular file of tests/fuzz/KIND/TARGET/, in name order, to
 * the target. Returns how many files it replayed; -1 when the directory
 * does not exist. */
static int
replay_dir (const replay_t *replay)
{
    const char *source = getenv ("ONENET_SOURCE_DIR");
    char dir[1024];
    snprintf (dir, sizeof dir, "%s/tests/fuzz/%s/%s", source ? source : ".", replay->kind,
              replay->target);
    fuzz_target_fn run = target_find (replay->target);
    assert_non_null (run);
    DIR *listing = opendir (dir);
    if (!listing)
        return -1;
    char **names = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (listing)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char **more = realloc (names, (count + 1) * sizeof *names);
        assert_non_null (more);
        names = more;
        names[count] = strdup (entry->d_name);
        assert_non_null (names[count]);
        count++;
    }
    closedir (listing);
    if (count)
        qsort (names, count, sizeof *names, name_compare);
    int replayed = 0;
    for (size_t i = 0; i < count; i++) {
        char path[2048];
        snprintf (path, sizeof path, "%s/%s", dir, names[i]);
        struct stat info;
        if (stat (path, &info) == 0 && S_ISREG (info.st_mode)) {
            size_t size = 0;
            uint8_t *data = file_read (path, &size);
            if (!data)
                fail_msg ("cannot read %s", path);
            fprintf (stderr, "replay fuzz_%s tests/fuzz/%s/%s/%s (%zu bytes)\n", replay->target,
                     replay->kind, replay->target, names[i], size);
            fflush (stderr);
            assert_int_equal (run (data, size), 0);
            free (data);
            replayed++;
        }
        free (names[i]);
    }
    free (names);
    return replayed;
}

/* Seeds must exist: a target without any is not being fuzzed well. */
static void
test_corpus (void **state)
{
    const replay_t *replay = *state;
    int replayed = replay_dir (replay);
    if (replayed <= 0)
        fail_msg ("tests/fuzz/corpus/%s has no seed inputs", replay->target);
}

/* Regressions may be none yet. */
static void
test_regressions (void **state)
{
    const replay_t *replay = *state;
    (void)replay_dir (replay);
}

/* One cmocka test per directory, named after it. */
static replay_t s_replays[] = {
    {"regressions", "wire", "regressions/wire"},
    {"regressions", "json", "regressions/json"},
    {"regressions", "config", "regressions/config"},
    {"regressions", "cap", "regressions/cap"},
    {"regressions", "policy", "regressions/policy"},
    {"corpus", "wire", "corpus/wire"},
    {"corpus", "json", "corpus/json"},
    {"corpus", "config", "corpus/config"},
    {"corpus", "cap", "corpus/cap"},
    {"corpus", "policy", "corpus/policy"},
};
#define REPLAYS (sizeof s_replays / sizeof s_replays[0])

int
main (void)
{
    struct CMUnitTest tests[REPLAYS];
    for (size_t i = 0; i < REPLAYS; i++) {
        bool seeds = strcmp (s_replays[i].kind, "corpus") == 0;
        tests[i] = (struct CMUnitTest){s_replays[i].name, seeds ? test_corpus : test_regressions,
                                       NULL, NULL, &s_replays[i]};
    }
    return cmocka_run_group_tests (tests, NULL, NULL);
}
