/*
 * test_subscriber.c - unit tests of the alert subscriber's pure parts
 * (lib/src/subscriber_internal.h): stream IDs compared as numbers, the
 * set of IDs, SUB topic prefixes from a filter, the local category
 * filter, the filter key and the state file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "onenet/subscriber.h"
#include "subscriber_internal.h"

static stream_id_t
id_of (const char *text)
{
    stream_id_t id = {99, 99};
    assert_int_equal (subscriber_id_parse (text, &id), 0);
    return id;
}

/* --- stream IDs ------------------------------------------------------- */

static void
test_id_parse (void **state)
{
    (void)state;
    stream_id_t id = id_of ("1752261600000-7");
    assert_true (id.ms == 1752261600000ULL && id.seq == 7);
    id = id_of ("42");
    assert_true (id.ms == 42 && id.seq == 0);
    id = id_of ("");
    assert_true (id.ms == 0 && id.seq == 0);
    id = id_of ("18446744073709551615-18446744073709551615");
    assert_true (id.ms == UINT64_MAX && id.seq == UINT64_MAX);

    const char *bad[] = {"-1",
                         "1-",
                         "a-1",
                         "1-2-3",
                         " 1-0",
                         "1-0 ",
                         "+1-0",
                         "1--1",
                         "18446744073709551616-0",
                         "1-18446744073709551616",
                         "0x10-0",
                         "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stream_id_t untouched = {5, 5};
        if (subscriber_id_parse (bad[i], &untouched) != -1)
            fail_msg ("'%s' parsed", bad[i]);
        assert_true (untouched.ms == 5 && untouched.seq == 5);
    }
    assert_int_equal (subscriber_id_parse (NULL, &id), -1);
}

static void
test_id_compare_is_numeric (void **state)
{
    (void)state;
    /* As text these order the other way round. */
    assert_true (subscriber_id_compare ("9-0", "10-0") < 0);
    assert_true (subscriber_id_compare ("10-2", "10-10") < 0);
    assert_true (subscriber_id_compare ("1752261600000-1", "1752261600000-0") > 0);
    assert_true (subscriber_id_compare ("1752261600001-0", "1752261600000-99") > 0);
    assert_int_equal (subscriber_id_compare ("7-3", "7-3"), 0);
    assert_int_equal (subscriber_id_compare ("7", "7-0"), 0);
    assert_int_equal (subscriber_id_compare ("", "0"), 0);
    assert_int_equal (subscriber_id_compare ("0-0", "0"), 0);
    assert_true (subscriber_id_compare ("0", "0-1") < 0);
    /* Garbage counts as the start of the log. */
    assert_int_equal (subscriber_id_compare ("garbage", "0-0"), 0);
    assert_true (subscriber_id_compare ("garbage", "1-0") < 0);
    assert_true (subscriber_id_cmp ((stream_id_t){UINT64_MAX, 0}, (stream_id_t){1, UINT64_MAX}) >
                 0);
}

static void
test_id_format (void **state)
{
    (void)state;
    char text[STREAM_ID_TEXT];
    assert_string_equal (subscriber_id_format ((stream_id_t){0, 0}, text), "0");
    assert_string_equal (subscriber_id_format ((stream_id_t){1752261600000ULL, 3}, text),
                         "1752261600000-3");
    assert_string_equal (subscriber_id_format ((stream_id_t){UINT64_MAX, UINT64_MAX}, text),
                         "18446744073709551615-18446744073709551615");
    assert_int_equal (subscriber_id_cmp (id_of (text), (stream_id_t){UINT64_MAX, UINT64_MAX}), 0);
    assert_string_equal (subscriber_id_format ((stream_id_t){0, 1}, text), "0-1");
}

static void
test_id_set (void **state)
{
    (void)state;
    id_set_t set = {0};
    const char *ids[] = {"10-0", "9-5", "10-10", "9-5", "10-2", "11-0", "200-0"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_int_equal (subscriber_set_add (&set, id_of (ids[i])), 0);
    assert_int_equal (set.count, 6); /* "9-5" once */
    for (size_t i = 1; i < set.count; i++)
        assert_true (subscriber_id_cmp (set.ids[i - 1], set.ids[i]) < 0);
    assert_true (subscriber_set_has (&set, id_of ("10-10")));
    assert_false (subscriber_set_has (&set, id_of ("10-1")));

    subscriber_set_prune (&set, id_of ("10-2")); /* drops 9-5, 10-0, 10-2 */
    assert_int_equal (set.count, 3);
    assert_false (subscriber_set_has (&set, id_of ("10-2")));
    assert_true (subscriber_set_has (&set, id_of ("10-10")));
    subscriber_set_prune (&set, (stream_id_t){11, UINT64_MAX});
    assert_int_equal (set.count, 1);
    assert_true (subscriber_set_has (&set, id_of ("200-0")));
    subscriber_set_prune (&set, id_of ("0"));
    assert_int_equal (set.count, 1);

    /* Many, in reverse: still sorted, still found. */
    for (uint64_t i = 1000; i > 0; i--)
        assert_int_equal (subscriber_set_add (&set, (stream_id_t){i, i % 3}), 0);
    assert_int_equal (set.count, 1001);
    for (size_t i = 1; i < set.count; i++)
        assert_true (subscriber_id_cmp (set.ids[i - 1], set.ids[i]) < 0);
    subscriber_set_free (&set);
    assert_int_equal (set.count, 0);
    assert_null (set.ids);
}

/* --- filters and topics ----------------------------------------------- */

static void
assert_topics (const onenet_alert_filter_t *filter, const char *const *expected, int count)
{
    char **topics = NULL;
    int n = subscriber_topics (filter, &topics);
    if (n != count) {
        for (int i = 0; i < n; i++)
            print_message ("topic %s\n", topics[i]);
        fail_msg ("%d topics, expected %d", n, count);
    }
    for (int i = 0; i < n; i++)
        assert_string_equal (topics[i], expected[i]);
    subscriber_topics_free (topics, n);
}

static void
test_topics (void **state)
{
    (void)state;
    /* Every subscriber also hears ticks and escalations, whatever its filter. */
    const char *all[] = {"alert.Extreme.", "alert.Severe.",  "alert.Moderate.",
                         "alert.Minor.",   "alert.Unknown.", "tick", "escalation."};
    assert_topics (NULL, all, 7);
    onenet_alert_filter_t empty = {0};
    assert_topics (&empty, all, 7);

    const char *severities[] = {"Severe", "Extreme", "Severe"};
    const char *areas[] = {"5101", "5102"};
    onenet_alert_filter_t both = {severities, 3, areas, 2, NULL, 0};
    const char *expected[] = {"alert.Severe.5101", "alert.Severe.5102", "alert.Extreme.5101",
                              "alert.Extreme.5102", "tick", "escalation."};
    assert_topics (&both, expected, 6);

    onenet_alert_filter_t severity_only = {severities, 1, NULL, 0, NULL, 0};
    assert_topics (&severity_only, (const char *[]){"alert.Severe.", "tick", "escalation."}, 3);

    const char *categories[] = {"Fire"};
    onenet_alert_filter_t area_only = {NULL, 0, areas, 1, categories, 1};
    const char *by_area[] = {"alert.Extreme.5101", "alert.Severe.5101",  "alert.Moderate.5101",
                             "alert.Minor.5101",   "alert.Unknown.5101", "tick", "escalation."};
    assert_topics (&area_only, by_area, 7); /* categories do not change topics */
}

static void
test_filter_check (void **state)
{
    (void)state;
    char err[256];
    assert_int_equal (onenet_alert_filter_check (NULL, err, sizeof err), 0);
    const char *good_sev[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"};
    const char *good_area[] = {"5", "51", "510104", "510104001001"};
    const char *good_cat[] = {"Geo", "Met", "CBRNE", "Other", "Env"};
    onenet_alert_filter_t good = {good_sev, 5, good_area, 4, good_cat, 5};
    assert_int_equal (onenet_alert_filter_check (&good, err, sizeof err), 0);

    struct {
        onenet_alert_filter_t filter;
        const char *reason;
    } bad[] = {
        {{(const char *[]){"severe"}, 1, NULL, 0, NULL, 0}, "unknown severity 'severe'"},
        {{(const char *[]){"Very Likely"}, 1, NULL, 0, NULL, 0}, "unknown severity"},
        {{NULL, 0, (const char *[]){"51a"}, 1, NULL, 0}, "area '51a'"},
        {{NULL, 0, (const char *[]){""}, 1, NULL, 0}, "area ''"},
        {{NULL, 0, (const char *[]){"5101040010011"}, 1, NULL, 0}, "1 to 12 digits"},
        {{NULL, 0, NULL, 0, (const char *[]){"fire"}, 1}, "unknown category 'fire'"},
        {{NULL, 2, NULL, 0, NULL, 0}, "no array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal (onenet_alert_filter_check (&bad[i].filter, err, sizeof err), -1);
        if (!strstr (err, bad[i].reason))
            fail_msg ("reason '%s' lacks '%s'", err, bad[i].reason);
    }
}

/* An alert whose info blocks carry these categories (NULL ends a block's
 * list, a second NULL ends the blocks). */
static Onenet__Alert__Alert *
alert_with (const char *const *categories)
{
    Onenet__Alert__Alert *alert = calloc (1, sizeof *alert);
    onenet__alert__alert__init (alert);
    while (*categories) {
        Onenet__Alert__Info *info = calloc (1, sizeof *info);
        onenet__alert__info__init (info);
        for (; *categories; categories++) {
            info->category = realloc (info->category, (info->n_category + 1) * sizeof (char *));
            info->category[info->n_category++] = strdup (*categories);
        }
        categories++;
        alert->info = realloc (alert->info, (alert->n_info + 1) * sizeof *alert->info);
        alert->info[alert->n_info++] = info;
    }
    return alert;
}

static void
test_category_match (void **state)
{
    (void)state;
    Onenet__Alert__Alert *two =
        alert_with ((const char *[]){"Met", "Infra", NULL, "Fire", NULL, NULL});
    Onenet__Alert__Alert *none = alert_with ((const char *[]){NULL});
    const char *fire[] = {"Fire"};
    const char *geo_met[] = {"Geo", "Met"};
    const char *geo[] = {"Geo"};
    onenet_alert_filter_t by_fire = {NULL, 0, NULL, 0, fire, 1};
    onenet_alert_filter_t by_geo_met = {NULL, 0, NULL, 0, geo_met, 2};
    onenet_alert_filter_t by_geo = {NULL, 0, NULL, 0, geo, 1};
    onenet_alert_filter_t any = {0};
    assert_true (subscriber_category_match (&by_fire, two)); /* in the second info */
    assert_true (subscriber_category_match (&by_geo_met, two));
    assert_false (subscriber_category_match (&by_geo, two));
    assert_true (subscriber_category_match (&any, two));
    assert_true (subscriber_category_match (NULL, two));
    assert_false (subscriber_category_match (&by_fire, none)); /* no info: no category */
    assert_true (subscriber_category_match (&any, none));
    onenet__alert__alert__free_unpacked (two, NULL);
    onenet__alert__alert__free_unpacked (none, NULL);
}

static void
test_filter_key (void **state)
{
    (void)state;
    const char *sev_a[] = {"Severe", "Extreme"};
    const char *sev_b[] = {"Extreme", "Severe", "Extreme"};
    const char *areas[] = {"5102", "5101"};
    onenet_alert_filter_t a = {sev_a, 2, areas, 2, NULL, 0};
    onenet_alert_filter_t b = {sev_b, 3, areas, 2, NULL, 0};
    onenet_alert_filter_t c = {sev_b, 3, areas, 1, NULL, 0};
    char *ka = subscriber_filter_key (&a), *kb = subscriber_filter_key (&b);
    char *kc = subscriber_filter_key (&c), *kn = subscriber_filter_key (NULL);
    assert_string_equal (ka, "severity=Extreme,Severe area=5101,5102 category=");
    assert_string_equal (ka, kb);
    assert_string_not_equal (ka, kc);
    assert_string_equal (kn, "severity= area= category=");
    free (ka);
    free (kb);
    free (kc);
    free (kn);
}

/* --- the state file --------------------------------------------------- */

static char s_dir[64];

static int
make_dir (void **state)
{
    (void)state;
    snprintf (s_dir, sizeof s_dir, "/tmp/onenet-unit-subscriber.XXXXXX");
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
remove_dir (void **state)
{
    (void)state;
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    return system (command) == 0 ? 0 : -1;
}

static void
write_text (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static void
test_state_round_trip (void **state)
{
    (void)state;
    char path[128], err[256] = "";
    snprintf (path, sizeof path, "%s/alerts.state", s_dir);
    const char *key = "severity=Severe area=5101 category=Fire";

    subscriber_state_t saved = {0};
    saved.cursor = id_of ("1752261600000-12");
    assert_int_equal (subscriber_set_add (&saved.delivered, id_of ("1752261600005-0")), 0);
    assert_int_equal (subscriber_set_add (&saved.delivered, id_of ("1752261600003-1")), 0);
    assert_int_equal (subscriber_spooled_add (&saved, "duty@em.example.gov.cn", "em.1"), 0);
    assert_int_equal (subscriber_spooled_add (&saved, "duty@em.example.gov.cn", "em.2"), 0);
    saved.spooled[0].taken = true; /* em.2 was only queued: not saved */
    assert_int_equal (subscriber_state_save (path, key, &saved, err, sizeof err), 0);

    subscriber_state_t loaded;
    assert_int_equal (subscriber_state_load (path, key, &loaded, err, sizeof err), 1);
    assert_int_equal (subscriber_id_cmp (loaded.cursor, saved.cursor), 0);
    assert_int_equal (loaded.delivered.count, 2);
    assert_true (subscriber_set_has (&loaded.delivered, id_of ("1752261600003-1")));
    assert_true (subscriber_set_has (&loaded.delivered, id_of ("1752261600005-0")));
    assert_int_equal (loaded.n_spooled, 1);
    assert_string_equal (loaded.spooled[0].sender, "duty@em.example.gov.cn");
    assert_string_equal (loaded.spooled[0].identifier, "em.1");
    assert_true (loaded.spooled[0].taken);
    assert_int_equal (subscriber_spooled_find (&loaded, "duty@em.example.gov.cn", "em.1"), 0);
    assert_int_equal (subscriber_spooled_find (&loaded, "duty@em.example.gov.cn", "em.2"), -1);
    subscriber_state_clear (&loaded);

    /* Another filter: start afresh, nothing kept. */
    assert_int_equal (
        subscriber_state_load (path, "severity= area= category=", &loaded, err, sizeof err), 0);
    assert_int_equal (loaded.cursor.ms, 0);
    assert_int_equal (loaded.delivered.count, 0);
    assert_int_equal (loaded.n_spooled, 0);

    /* Saving again replaces the file; no temporary file is left behind. */
    saved.cursor = id_of ("1752261600009-0");
    subscriber_set_prune (&saved.delivered, saved.cursor);
    assert_int_equal (subscriber_state_save (path, key, &saved, err, sizeof err), 0);
    assert_int_equal (subscriber_state_load (path, key, &loaded, err, sizeof err), 1);
    assert_int_equal (subscriber_id_cmp (loaded.cursor, id_of ("1752261600009-0")), 0);
    assert_int_equal (loaded.delivered.count, 0);
    subscriber_state_clear (&loaded);
    subscriber_state_clear (&saved);
    DIR *dir = opendir (s_dir);
    int files = 0;
    for (struct dirent *entry; (entry = readdir (dir));)
        if (entry->d_name[0] != '.') {
            files++;
            assert_string_equal (entry->d_name, "alerts.state");
        }
    closedir (dir);
    assert_int_equal (files, 1);
}

static void
test_state_missing_and_corrupt (void **state)
{
    (void)state;
    char path[128], err[256] = "";
    subscriber_state_t loaded;
    snprintf (path, sizeof path, "%s/none.state", s_dir);
    assert_int_equal (subscriber_state_load (path, "k", &loaded, err, sizeof err), 0);

    snprintf (path, sizeof path, "%s/bad.state", s_dir);
    write_text (path, "onenet-subscriber-state 1\nfilter k\ncursor 12-x\n");
    assert_int_equal (subscriber_state_load (path, "k", &loaded, err, sizeof err), -1);
    assert_non_null (strstr (err, "line 3"));
    assert_non_null (strstr (err, "cursor 12-x"));
    assert_int_equal (loaded.delivered.count, 0);

    write_text (path, "{\"cursor\": \"1-0\"}\n");
    assert_int_equal (subscriber_state_load (path, "k", &loaded, err, sizeof err), -1);
    assert_non_null (strstr (err, "not a subscriber state file"));

    write_text (path, "");
    assert_int_equal (subscriber_state_load (path, "k", &loaded, err, sizeof err), -1);

    /* No filter recorded: the cursor cannot be trusted for this filter. */
    write_text (path, "onenet-subscriber-state 1\ncursor 12-0\n");
    assert_int_equal (subscriber_state_load (path, "k", &loaded, err, sizeof err), 0);
    assert_int_equal (loaded.cursor.ms, 0);

    /* A directory where the temporary file cannot be written. */
    snprintf (path, sizeof path, "%s/no/such/dir/x.state", s_dir);
    subscriber_state_t empty = {0};
    assert_int_equal (subscriber_state_save (path, "k", &empty, err, sizeof err), -1);
    assert_non_null (strstr (err, "cannot write"));
}

static void
test_subscriber_new_rejects (void **state)
{
    (void)state;
    char err[256] = "", path[128];
    const char *bad[] = {"Severe", "Terrible"};
    onenet_alert_filter_t filter = {bad, 2, NULL, 0, NULL, 0};
    assert_null (onenet_subscriber_new ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", &filter, NULL,
                                        err, sizeof err));
    assert_non_null (strstr (err, "Terrible"));

    snprintf (path, sizeof path, "%s/corrupt.state", s_dir);
    write_text (path, "onenet-subscriber-state 1\nbogus line\n");
    assert_null (onenet_subscriber_new ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", NULL, path, err,
                                        sizeof err));
    assert_non_null (strstr (err, "line 2"));

    assert_null (
        onenet_subscriber_new ("tcp://127.0.0.1:1", "nonsense://x", NULL, NULL, err, sizeof err));
    assert_non_null (strstr (err, "nonsense://x"));

    /* A good one can be made and destroyed without any broker. */
    onenet_subscriber_t *sub = onenet_subscriber_new ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2",
                                                      NULL, NULL, err, sizeof err);
    assert_non_null (sub);
    assert_string_equal (onenet_subscriber_cursor (sub), "0");
    assert_int_equal (onenet_subscriber_start_after (sub, "bad id"), -1);
    assert_int_equal (onenet_subscriber_start_after (sub, "1752261600000-4"), 0);
    assert_string_equal (onenet_subscriber_cursor (sub), "1752261600000-4");
    assert_int_equal (onenet_subscriber_start_last (sub, 0), -1);
    assert_int_equal (onenet_subscriber_start_last (sub, 5), 0);
    assert_null (onenet_subscriber_next (sub, 0)); /* nothing there: returns at once */
    onenet_subscriber_destroy (&sub);
    assert_null (sub);
    onenet_subscriber_destroy (&sub);
}

/* --- the gap check (subscriber_marks.c) --- */

static stream_id_t
sid (uint64_t ms, uint64_t seq)
{
    return (stream_id_t) { ms, seq };
}

static void
mark (subscriber_marks_t *marks, const char *prefix, const char *text)
{
    assert_int_equal (subscriber_marks_on_mark (marks, prefix, strlen (prefix), text, strlen (text)),
                      0);
}

static void
alert_on (subscriber_marks_t *marks, const char *topic, int times)
{
    for (int i = 0; i < times; i++)
        subscriber_marks_on_alert (marks, topic, strlen (topic));
}

static void
marks_two_prefixes (subscriber_marks_t *marks)
{
    char *topics[] = { "alert.Severe.5101", "alert.Extreme.5101", "tick", "escalation." };
    assert_int_equal (subscriber_marks_init (marks, topics, 4), 0);
    assert_int_equal (marks->count, 2);   /* only the alert prefixes */
    /* Round 1: the baseline. Nothing proven yet. */
    mark (marks, "alert.Severe.5101", "7 100 10-0");
    mark (marks, "alert.Extreme.5101", "7 40 10-0");
    assert_false (subscriber_marks_on_tick (marks, sid (10, 0), sid (10, 0)));
}

static void
test_marks_clean_round (void **state)
{
    (void) state;
    subscriber_marks_t marks;
    marks_two_prefixes (&marks);
    /* Round 2: 3 messages under the first prefix (topics below it), 1
     * under the second; the broker counted the same. */
    alert_on (&marks, "alert.Severe.510104", 2);
    alert_on (&marks, "alert.Severe.510106", 1);
    alert_on (&marks, "alert.Extreme.510104", 1);
    alert_on (&marks, "alert.Minor.510104", 5);   /* no prefix of ours */
    mark (&marks, "alert.Severe.5101", "7 103 20-3");
    mark (&marks, "alert.Extreme.5101", "7 41 20-3");
    assert_true (subscriber_marks_on_tick (&marks, sid (20, 3), sid (10, 0)));
    /* Round 3: nothing published, nothing to miss. */
    mark (&marks, "alert.Severe.5101", "7 103 20-3");
    mark (&marks, "alert.Extreme.5101", "7 41 20-3");
    assert_true (subscriber_marks_on_tick (&marks, sid (20, 3), sid (20, 3)));
    subscriber_marks_free (&marks);
}

static void
test_marks_refuse_what_cannot_be_proven (void **state)
{
    (void) state;
    subscriber_marks_t marks;
    /* One message dropped: the broker counted 3, 2 arrived. */
    marks_two_prefixes (&marks);
    alert_on (&marks, "alert.Severe.510104", 2);
    mark (&marks, "alert.Severe.5101", "7 103 20-0");
    mark (&marks, "alert.Extreme.5101", "7 40 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (10, 0)));
    subscriber_marks_free (&marks);

    /* A prefix's mark missing this round (dropped itself). */
    marks_two_prefixes (&marks);
    mark (&marks, "alert.Severe.5101", "7 100 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (10, 0)));
    subscriber_marks_free (&marks);

    /* Another epoch (the broker restarted, or flushed its spool). */
    marks_two_prefixes (&marks);
    mark (&marks, "alert.Severe.5101", "8 100 20-0");
    mark (&marks, "alert.Extreme.5101", "8 40 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (10, 0)));
    /* ... after which counting starts again from the new baseline. */
    mark (&marks, "alert.Severe.5101", "8 100 30-0");
    mark (&marks, "alert.Extreme.5101", "8 40 30-0");
    assert_true (subscriber_marks_on_tick (&marks, sid (30, 0), sid (20, 0)));
    subscriber_marks_free (&marks);

    /* Counts fine, but not everything up to the previous round is in:
     * the catch-up must run first. */
    marks_two_prefixes (&marks);
    mark (&marks, "alert.Severe.5101", "7 100 20-0");
    mark (&marks, "alert.Extreme.5101", "7 40 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (9, 5)));
    subscriber_marks_free (&marks);

    /* An alert received but not kept (out of memory, or held back past
     * the limit). */
    marks_two_prefixes (&marks);
    alert_on (&marks, "alert.Severe.510104", 1);
    marks.lost = true;
    mark (&marks, "alert.Severe.5101", "7 101 20-0");
    mark (&marks, "alert.Extreme.5101", "7 40 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (10, 0)));
    subscriber_marks_free (&marks);

    /* A mark from another round than the tick (its latest differs). */
    marks_two_prefixes (&marks);
    mark (&marks, "alert.Severe.5101", "7 100 15-0");
    mark (&marks, "alert.Extreme.5101", "7 40 20-0");
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (10, 0)));
    subscriber_marks_free (&marks);

    /* A filter without alert prefixes proves nothing; garbage is refused. */
    char *topics[] = { "tick" };
    assert_int_equal (subscriber_marks_init (&marks, topics, 1), 0);
    assert_false (subscriber_marks_on_tick (&marks, sid (20, 0), sid (20, 0)));
    assert_int_equal (subscriber_marks_on_mark (&marks, "alert.", 6, "x y", 3), -1);
    assert_int_equal (subscriber_marks_on_mark (&marks, "alert.", 6, "1 2 3-x", 7), -1);
    subscriber_marks_free (&marks);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_id_parse),
        cmocka_unit_test (test_id_compare_is_numeric),
        cmocka_unit_test (test_id_format),
        cmocka_unit_test (test_id_set),
        cmocka_unit_test (test_topics),
        cmocka_unit_test (test_filter_check),
        cmocka_unit_test (test_category_match),
        cmocka_unit_test (test_filter_key),
        cmocka_unit_test (test_state_round_trip),
        cmocka_unit_test (test_state_missing_and_corrupt),
        cmocka_unit_test (test_subscriber_new_rejects),
        cmocka_unit_test (test_marks_clean_round),
        cmocka_unit_test (test_marks_refuse_what_cannot_be_proven),
    };
    return cmocka_run_group_tests_name ("unit_subscriber", tests, make_dir, remove_dir);
}
