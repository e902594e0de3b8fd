/*
 * test_cap.c - unit tests of onenet/cap.h: CAP 1.2 XML to and from the
 * alert message of proto/alert.proto.
 *
 * The six reference documents live in tests/data/cap/, verbatim copies of
 * shared/cap-samples/ (SOURCES.txt there says where they come from and
 * carries the OASIS notice), so the tests run without shared/ beside the
 * repository; when it is there, the copies are checked against it.
 *
 * The round-trip test does not trust the codec to judge itself: besides
 * comparing the packed protobuf messages of the two parses, it reads the
 * original and the written XML with libxml2 directly and compares the
 * multisets of (element path, trimmed text) pairs, so an element dropped,
 * added or changed by both directions of the codec alike still shows up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "onenet/cap.h"
#include "onenet/json.h"
#include "onenet/proto/alert.pb-c.h"

/* --- samples --- */

typedef struct {
    const char *file;
    const char *identifier;
} sample_t;

static const sample_t s_samples[] = {
    {"oasis-a1-homeland-security.xml", "43b080713727"},
    {"oasis-a2-severe-thunderstorm.xml", "KSTO1055887203"},
    {"oasis-a3-earthquake-update.xml", "TRI13970876.2"},
    {"oasis-a4-amber-alert-bilingual.xml", "KAR0-0306112239-SW"},
    {"onenet-flood-chengdu.xml", "em.510100.2026.0001"},
    {"onenet-flood-chengdu-cancel.xml", "em.510100.2026.0002"},
};
#define N_SAMPLES (sizeof s_samples / sizeof s_samples[0])

static char *
read_file (const char *path, size_t *size)
{
    FILE *f = fopen (path, "rb");
    if (f == NULL)
        return NULL;
    char *data = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used + 4096 + 1 > cap) {
            cap = (used + 4096 + 1) * 2;
            char *grown = realloc (data, cap);
            assert_non_null (grown);
            data = grown;
        }
        size_t n = fread (data + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0)
            break;
    }
    fclose (f);
    data[used] = '\0';
    *size = used;
    return data;
}

/* tests/data/cap/ under $ONENET_SOURCE_DIR, else found from this file's
 * path (tests/unit/test_cap.c, absolute in CMake builds). */
static void
data_path (const char *name, char *out, size_t out_size)
{
    const char *source = getenv ("ONENET_SOURCE_DIR");
    if (source != NULL && *source) {
        snprintf (out, out_size, "%s/tests/data/cap/%s", source, name);
        return;
    }
    char dir[1024];
    snprintf (dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr (dir, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf (out, out_size, "%s/../data/cap/%s", slash ? dir : ".", name);
}

static char *
read_sample (const char *name, size_t *size)
{
    char path[2048];
    data_path (name, path, sizeof path);
    char *data = read_file (path, size);
    if (data == NULL)
        fail_msg ("cannot read sample %s", path);
    return data;
}

static Onenet__Alert__Alert *
parse_ok (const char *xml, size_t size, const char *what)
{
    char err[512] = "";
    Onenet__Alert__Alert *alert = onenet_cap_parse (xml, size, err, sizeof err);
    if (alert == NULL)
        fail_msg ("%s: rejected: %s", what, err);
    return alert;
}

static Onenet__Alert__Alert *
parse_sample (const char *name)
{
    size_t size;
    char *xml = read_sample (name, &size);
    Onenet__Alert__Alert *alert = parse_ok (xml, size, name);
    free (xml);
    return alert;
}

static char *
format_ok (const Onenet__Alert__Alert *alert, const char *what)
{
    char err[512] = "";
    char *xml = onenet_cap_format (alert, err, sizeof err);
    if (xml == NULL)
        fail_msg ("%s: format failed: %s", what, err);
    return xml;
}

static uint8_t *
pack (const Onenet__Alert__Alert *alert, size_t *len)
{
    *len = onenet__alert__alert__get_packed_size (alert);
    uint8_t *out = malloc (*len ? *len : 1);
    assert_non_null (out);
    assert_int_equal (onenet__alert__alert__pack (alert, out), *len);
    return out;
}

static void
assert_same_message (const Onenet__Alert__Alert *a, const Onenet__Alert__Alert *b, const char *what)
{
    size_t len_a, len_b;
    uint8_t *packed_a = pack (a, &len_a), *packed_b = pack (b, &len_b);
    if (len_a != len_b || memcmp (packed_a, packed_b, len_a) != 0)
        fail_msg ("%s: the two messages differ (%zu and %zu bytes packed)", what, len_a, len_b);
    free (packed_a);
    free (packed_b);
}

/* A new string: xml with the first occurrence of from replaced by to.
 * Fails the test when from is not there, so a mutation always happens. */
static char *
replace (const char *xml, const char *from, const char *to)
{
    const char *at = strstr (xml, from);
    if (at == NULL)
        fail_msg ("test bug: \"%s\" not in the document", from);
    size_t head = (size_t)(at - xml), from_len = strlen (from), to_len = strlen (to);
    char *out = malloc (strlen (xml) - from_len + to_len + 1);
    assert_non_null (out);
    memcpy (out, xml, head);
    memcpy (out + head, to, to_len);
    strcpy (out + head + to_len, at + from_len);
    return out;
}

/* 1-based line of the first occurrence of needle in xml. */
static int
line_of (const char *xml, const char *needle)
{
    const char *at = strstr (xml, needle);
    if (at == NULL)
        fail_msg ("test bug: \"%s\" not in the document", needle);
    int line = 1;
    for (const char *p = xml; p < at; p++)
        line += *p == '\n';
    return line;
}

/* --- the independent comparison: multisets of (path, trimmed text) --- */

typedef struct {
    char **items;
    size_t count, cap;
    char ns[128]; /* namespace of the root element */
} pairs_t;

static void
pairs_add (pairs_t *pairs, const char *path, const char *text, size_t text_len)
{
    if (pairs->count == pairs->cap) {
        pairs->cap = pairs->cap ? pairs->cap * 2 : 64;
        pairs->items = realloc (pairs->items, pairs->cap * sizeof (char *));
        assert_non_null (pairs->items);
    }
    size_t path_len = strlen (path);
    char *item = malloc (path_len + 1 + text_len + 1);
    assert_non_null (item);
    memcpy (item, path, path_len);
    item[path_len] = '=';
    memcpy (item + path_len + 1, text, text_len);
    item[path_len + 1 + text_len] = '\0';
    pairs->items[pairs->count++] = item;
}

static bool
is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
collect (pairs_t *pairs, xmlNode *node, const char *parent)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", parent, (const char *)node->name);
    xmlChar *content = NULL;
    bool leaf = true;
    for (xmlNode *c = node->children; c; c = c->next)
        leaf = leaf && c->type != XML_ELEMENT_NODE;
    if (leaf)
        content = xmlNodeGetContent (node);
    const char *text = content ? (const char *)content : "";
    size_t start = 0, end = strlen (text);
    while (start < end && is_space (text[start]))
        start++;
    while (end > start && is_space (text[end - 1]))
        end--;
    pairs_add (pairs, path, text + start, end - start);
    xmlFree (content);
    for (xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            collect (pairs, c, path);
}

static int
compare_items (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
pairs_of (const char *xml, size_t size, pairs_t *pairs)
{
    memset (pairs, 0, sizeof *pairs);
    xmlDocPtr doc = xmlReadMemory (xml, (int)size, "test.xml", NULL,
                                   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null (doc);
    xmlNode *root = xmlDocGetRootElement (doc);
    assert_non_null (root);
    snprintf (pairs->ns, sizeof pairs->ns, "%s", root->ns ? (const char *)root->ns->href : "");
    collect (pairs, root, "");
    xmlFreeDoc (doc);
    qsort (pairs->items, pairs->count, sizeof (char *), compare_items);
}

static void
pairs_free (pairs_t *pairs)
{
    for (size_t i = 0; i < pairs->count; i++)
        free (pairs->items[i]);
    free (pairs->items);
}

/* True when both documents hold the same multiset; otherwise writes the
 * first difference into why. */
static bool
same_pairs (const char *a, size_t a_size, const char *b, size_t b_size, char *why, size_t why_size)
{
    pairs_t pa, pb;
    pairs_of (a, a_size, &pa);
    pairs_of (b, b_size, &pb);
    bool same = strcmp (pa.ns, pb.ns) == 0;
    if (!same)
        snprintf (why, why_size, "namespace %s vs %s", pa.ns, pb.ns);
    size_t i = 0, j = 0;
    while (same && (i < pa.count || j < pb.count)) {
        int order = i == pa.count ? 1 : j == pb.count ? -1 : strcmp (pa.items[i], pb.items[j]);
        if (order != 0) {
            snprintf (why, why_size, "%s: %.200s",
                      order < 0 ? "only in the first" : "only in the second",
                      order < 0 ? pa.items[i] : pb.items[j]);
            same = false;
        }
        i++;
        j++;
    }
    pairs_free (&pa);
    pairs_free (&pb);
    return same;
}

/* --- every sample parses --- */

static void
test_samples_parse (void **state)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        Onenet__Alert__Alert *alert = parse_sample (s_samples[i].file);
        assert_string_equal (alert->identifier, s_samples[i].identifier);
        assert_int_equal (onenet_cap_validate (alert, NULL, 0), 0);
        onenet__alert__alert__free_unpacked (alert, NULL);
    }
}

/* parse -> format -> parse: equal messages, and every element and value of
 * the original is in the output and nothing else. */
static void
test_samples_round_trip (void **state)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const char *name = s_samples[i].file;
        size_t size;
        char *original = read_sample (name, &size);
        Onenet__Alert__Alert *first = parse_ok (original, size, name);
        char *written = format_ok (first, name);
        Onenet__Alert__Alert *second = parse_ok (written, strlen (written), name);
        assert_same_message (first, second, name);

        char why[512] = "";
        if (!same_pairs (original, size, written, strlen (written), why, sizeof why))
            fail_msg ("%s: elements differ after the round trip: %s\n%s", name, why, written);

        /* Writing is deterministic: the second message writes the same text. */
        char *again = format_ok (second, name);
        assert_string_equal (again, written);

        free (again);
        onenet__alert__alert__free_unpacked (second, NULL);
        free (written);
        onenet__alert__alert__free_unpacked (first, NULL);
        free (original);
    }
}

/* The comparison above is able to fail: a changed value, a missing
 * element, an extra element and another namespace are all told apart. */
static void
test_comparison_sees_differences (void **state)
{
    size_t size;
    char *original = read_sample ("oasis-a2-severe-thunderstorm.xml", &size);
    char why[512];
    assert_true (same_pairs (original, size, original, size, why, sizeof why));

    char *changed = replace (original, "<value>006009</value>", "<value>006008</value>");
    assert_false (same_pairs (original, size, changed, strlen (changed), why, sizeof why));
    assert_non_null (strstr (why, "006"));
    free (changed);

    char *missing = replace (original, "<contact>BARUFFALDI/JUSKIE</contact>", "");
    assert_false (same_pairs (original, size, missing, strlen (missing), why, sizeof why));
    assert_non_null (strstr (why, "contact"));
    free (missing);

    char *extra =
        replace (original, "<scope>Public</scope>", "<scope>Public</scope><note>x</note>");
    assert_false (same_pairs (original, size, extra, strlen (extra), why, sizeof why));
    assert_non_null (strstr (why, "note"));
    free (extra);

    /* Only whitespace differs: the same. */
    char *spaced = replace (original, "<event>SEVERE THUNDERSTORM</event>",
                            "<event>\n   SEVERE THUNDERSTORM  </event>");
    assert_true (same_pairs (original, size, spaced, strlen (spaced), why, sizeof why));
    free (spaced);

    char *other_ns = replace (original, "emergency:cap:1.2", "emergency:cap:1.1");
    assert_false (same_pairs (original, size, other_ns, strlen (other_ns), why, sizeof why));
    free (other_ns);
    free (original);
}

/* When shared/ is beside the repository, the copies are still verbatim. */
static void
test_copies_match_shared (void **state)
{
    const char *source = getenv ("ONENET_SOURCE_DIR");
    if (source == NULL || !*source)
        skip ();
    char dir[2048];
    snprintf (dir, sizeof dir, "%s/../shared/cap-samples", source);
    if (access (dir, R_OK) != 0)
        skip ();
    for (size_t i = 0; i <= N_SAMPLES; i++) {
        const char *name = i < N_SAMPLES ? s_samples[i].file : "SOURCES.txt";
        char path[4096];
        snprintf (path, sizeof path, "%s/%s", dir, name);
        size_t shared_size, copy_size;
        char *shared = read_file (path, &shared_size);
        if (shared == NULL)
            fail_msg ("%s is missing", path);
        char *copy = read_sample (name, &copy_size);
        if (shared_size != copy_size || memcmp (shared, copy, copy_size) != 0)
            fail_msg ("tests/data/cap/%s differs from shared/cap-samples: copy it again", name);
        free (shared);
        free (copy);
    }
}

/* --- what the samples hold --- */

static void
test_bilingual_keeps_both_infos (void **state)
{
    size_t size;
    char *original = read_sample ("oasis-a4-amber-alert-bilingual.xml", &size);
    Onenet__Alert__Alert *alert = parse_ok (original, size, "a4");
    assert_int_equal (alert->n_info, 2);
    assert_string_equal (alert->source, "SW");
    assert_string_equal (alert->info[0]->language, "en-US");
    assert_string_equal (alert->info[1]->language, "es-US");
    assert_string_equal (alert->info[0]->event, "Child Abduction");
    assert_string_equal (alert->info[1]->event, "Abducci\xc3\xb3n de Ni\xc3\xb1o");
    assert_string_equal (alert->info[1]->sender_name, "Departamento de Polic\xc3\xad"
                                                      "a de Los \xc3\x81ngeles - LAPD");
    assert_string_equal (alert->info[1]->area[0]->area_desc, "condado de Los \xc3\x81ngeles");

    char *written = format_ok (alert, "a4");
    /* Written as UTF-8 characters, not character references. */
    assert_non_null (strstr (written, "<event>Abducci\xc3\xb3n de Ni\xc3\xb1o</event>"));
    assert_non_null (strstr (written, "<areaDesc>condado de Los \xc3\x81ngeles</areaDesc>"));
    assert_null (strstr (written, "&#"));
    Onenet__Alert__Alert *again = parse_ok (written, strlen (written), "a4 written");
    assert_int_equal (again->n_info, 2);
    assert_string_equal (again->info[1]->description, alert->info[1]->description);
    assert_non_null (strstr (again->info[1]->description, "V\xc3\x8d"
                                                          "CTIMAS"));

    onenet__alert__alert__free_unpacked (again, NULL);
    free (written);
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (original);
}

static void
test_flood_keeps_categories_and_geocode (void **state)
{
    Onenet__Alert__Alert *alert = parse_sample ("onenet-flood-chengdu.xml");
    char *written = format_ok (alert, "flood");
    Onenet__Alert__Alert *again = parse_ok (written, strlen (written), "flood written");
    Onenet__Alert__Alert *both[] = {alert, again};
    for (size_t k = 0; k < 2; k++) {
        const Onenet__Alert__Alert *a = both[k];
        assert_string_equal (a->status, "Exercise");
        assert_string_equal (a->scope, "Restricted");
        assert_string_equal (a->restriction, "Coordinating departments only");
        assert_int_equal (a->n_code, 1);
        assert_string_equal (a->code[0], "synthetic-sample");
        assert_int_equal (a->n_info, 1);
        const Onenet__Alert__Info *info = a->info[0];
        assert_int_equal (info->n_category, 2);
        assert_string_equal (info->category[0], "Met");
        assert_string_equal (info->category[1], "Infra");
        assert_string_equal (info->event, "\xe6\x9a\xb4\xe9\x9b\xa8\xe6\xb4\xaa\xe6\xb6\x9d");
        assert_int_equal (info->n_response_type, 1);
        assert_string_equal (info->response_type[0], "Evacuate");
        assert_string_equal (info->effective, "2026-07-12T03:30:00+08:00");
        assert_string_equal (info->expires, "2026-07-12T15:00:00+08:00");
        assert_int_equal (info->n_area, 1);
        assert_int_equal (info->area[0]->n_polygon, 1);
        assert_int_equal (info->area[0]->n_geocode, 2);

        const Onenet__Alert__ValuePair *codes[4] = {NULL};
        assert_int_equal (onenet_cap_geocodes (a, "GB/T 2260", codes, 4), 2);
        assert_string_equal (codes[0]->value, "510104");
        assert_string_equal (codes[1]->value, "510107");
        assert_string_equal (codes[0]->value_name, "GB/T 2260");
    }
    assert_non_null (strstr (written, "<value>510104</value>"));
    onenet__alert__alert__free_unpacked (again, NULL);
    free (written);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

static void
test_sample_details (void **state)
{
    /* a1: resource; free text kept exactly, leading space included. */
    Onenet__Alert__Alert *a1 = parse_sample ("oasis-a1-homeland-security.xml");
    assert_int_equal (a1->info[0]->n_resource, 1);
    assert_string_equal (a1->info[0]->resource[0]->resource_desc, "Image file (GIF)");
    assert_string_equal (a1->info[0]->resource[0]->mime_type, "image/gif");
    assert_string_equal (a1->info[0]->resource[0]->uri,
                         "http://www.dhs.gov/dhspublic/getAdvisoryImage");
    assert_memory_equal (a1->info[0]->instruction, " A High Condition", 17);
    assert_string_equal (a1->info[0]->parameter[0]->value_name, "HSAS");
    assert_string_equal (a1->info[0]->parameter[0]->value, "ORANGE");
    assert_string_equal (a1->info[0]->area[0]->area_desc,
                         "U.S. nationwide and interests worldwide");
    assert_string_equal (a1->info[0]->language, ""); /* absent: CAP's default en-US */
    onenet__alert__alert__free_unpacked (a1, NULL);

    /* a2: responseType, eventCode, expires, polygon, 3 geocodes. */
    Onenet__Alert__Alert *a2 = parse_sample ("oasis-a2-severe-thunderstorm.xml");
    const Onenet__Alert__Info *info = a2->info[0];
    assert_string_equal (info->response_type[0], "Shelter");
    assert_string_equal (info->event_code[0]->value_name, "SAME");
    assert_string_equal (info->event_code[0]->value, "SVR");
    assert_string_equal (info->expires, "2003-06-17T16:00:00-07:00");
    assert_string_equal (info->contact, "BARUFFALDI/JUSKIE");
    assert_string_equal (info->area[0]->polygon[0],
                         "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14");
    assert_int_equal (info->area[0]->n_geocode, 3);
    const Onenet__Alert__ValuePair *codes[3] = {NULL};
    assert_int_equal (onenet_cap_geocodes (a2, NULL, codes, 3), 3);
    assert_string_equal (codes[2]->value, "006003");
    onenet__alert__alert__free_unpacked (a2, NULL);

    /* a3: an update with references, a circle, five parameters. */
    Onenet__Alert__Alert *a3 = parse_sample ("oasis-a3-earthquake-update.xml");
    assert_string_equal (a3->msg_type, "Update");
    assert_string_equal (a3->references,
                         "trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00");
    assert_int_equal (a3->info[0]->n_parameter, 5);
    assert_string_equal (a3->info[0]->parameter[2]->value_name, "Magnitude");
    assert_string_equal (a3->info[0]->parameter[2]->value, "3.4 Ml");
    assert_string_equal (a3->info[0]->area[0]->circle[0], "32.9525,-115.5527 0");
    onenet__alert__alert__free_unpacked (a3, NULL);

    /* The cancel: no info at all, a note, references to the first. */
    Onenet__Alert__Alert *cancel = parse_sample ("onenet-flood-chengdu-cancel.xml");
    assert_string_equal (cancel->msg_type, "Cancel");
    assert_int_equal (cancel->n_info, 0);
    assert_string_equal (cancel->note, "Rainfall below threshold; warning lifted.");
    assert_string_equal (cancel->references,
                         "duty@em.example.gov.cn,em.510100.2026.0001,2026-07-12T03:20:00+08:00");
    onenet__alert__alert__free_unpacked (cancel, NULL);
}

static void
test_geocodes (void **state)
{
    /* The bilingual alert names SAME 006037 in both infos: listed once. */
    Onenet__Alert__Alert *a4 = parse_sample ("oasis-a4-amber-alert-bilingual.xml");
    const Onenet__Alert__ValuePair *codes[4] = {NULL};
    assert_int_equal (onenet_cap_geocodes (a4, NULL, codes, 4), 1);
    assert_string_equal (codes[0]->value, "006037");
    assert_ptr_equal (codes[0], a4->info[0]->area[0]->geocode[0]);
    assert_null (codes[1]);
    assert_int_equal (onenet_cap_geocodes (a4, "GB/T 2260", codes, 4), 0);
    onenet__alert__alert__free_unpacked (a4, NULL);

    /* More than fit: the total, and only max stored. */
    Onenet__Alert__Alert *a2 = parse_sample ("oasis-a2-severe-thunderstorm.xml");
    const Onenet__Alert__ValuePair *one[2] = {NULL, NULL};
    assert_int_equal (onenet_cap_geocodes (a2, "SAME", one, 1), 3);
    assert_string_equal (one[0]->value, "006109");
    assert_null (one[1]);
    assert_int_equal (onenet_cap_geocodes (a2, NULL, NULL, 0), 3);
    onenet__alert__alert__free_unpacked (a2, NULL);

    Onenet__Alert__Alert *cancel = parse_sample ("onenet-flood-chengdu-cancel.xml");
    assert_int_equal (onenet_cap_geocodes (cancel, NULL, codes, 4), 0);
    onenet__alert__alert__free_unpacked (cancel, NULL);
    assert_int_equal (onenet_cap_geocodes (NULL, NULL, codes, 4), 0);
}

static void
test_severity_rank (void **state)
{
    assert_int_equal (onenet_cap_severity_rank ("Extreme"), 4);
    assert_int_equal (onenet_cap_severity_rank ("Severe"), 3);
    assert_int_equal (onenet_cap_severity_rank ("Moderate"), 2);
    assert_int_equal (onenet_cap_severity_rank ("Minor"), 1);
    assert_int_equal (onenet_cap_severity_rank ("Unknown"), 0);
    assert_int_equal (onenet_cap_severity_rank ("extreme"), -1);
    assert_int_equal (onenet_cap_severity_rank ("Bad"), -1);
    assert_int_equal (onenet_cap_severity_rank (""), -1);
    assert_int_equal (onenet_cap_severity_rank (NULL), -1);
}

/* --- invalid documents: refused, with the line and the element --- */

/* Parses xml, expects a refusal whose reason holds each of the (up to
 * three) fragments given. */
static void
expect_reject_size (const char *xml, size_t size, const char *what, const char *fragment1,
                    const char *fragment2, const char *fragment3)
{
    char err[512] = "";
    Onenet__Alert__Alert *alert = onenet_cap_parse (xml, size, err, sizeof err);
    if (alert != NULL) {
        onenet__alert__alert__free_unpacked (alert, NULL);
        fail_msg ("%s: accepted", what);
    }
    const char *fragments[] = {fragment1, fragment2, fragment3};
    for (size_t i = 0; i < 3; i++)
        if (fragments[i] != NULL && strstr (err, fragments[i]) == NULL)
            fail_msg ("%s: reason \"%s\" lacks \"%s\"", what, err, fragments[i]);
}

static void
expect_reject (const char *xml, const char *what, const char *fragment1, const char *fragment2,
               const char *fragment3)
{
    expect_reject_size (xml, strlen (xml), what, fragment1, fragment2, fragment3);
}

/* Replaces from by to in the named sample and expects a refusal at the
 * line where `at` is in the changed document, naming path, saying why. */
static void
expect_mutation_rejected (const char *sample, const char *from, const char *to, const char *at,
                          const char *path, const char *why)
{
    size_t size;
    char *original = read_sample (sample, &size);
    /* The unchanged sample is accepted: the refusal is the mutation's. */
    onenet__alert__alert__free_unpacked (parse_ok (original, size, sample), NULL);
    char *changed = replace (original, from, to);
    char line[64];
    snprintf (line, sizeof line, "line %d: ", line_of (changed, at));
    char prefixed[200];
    snprintf (prefixed, sizeof prefixed, "%s%s", line, path);
    expect_reject (changed, from, prefixed, why, NULL);
    free (changed);
    free (original);
}

#define A2 "oasis-a2-severe-thunderstorm.xml"
#define FLOOD "onenet-flood-chengdu.xml"
#define CANCEL "onenet-flood-chengdu-cancel.xml"

static void
test_reject_missing_and_bad_values (void **state)
{
    expect_mutation_rejected (A2, "<identifier>KSTO1055887203</identifier>", "", "<alert",
                              "<alert>: ", "missing required element <identifier>");
    expect_mutation_rejected (A2, "<identifier>KSTO1055887203</identifier>",
                              "<identifier> </identifier>", "<identifier>",
                              "<identifier>: ", "empty");
    expect_mutation_rejected (A2, "KSTO1055887203", "KSTO 1055887203", "<identifier>",
                              "<identifier>: ", "must not contain spaces");
    expect_mutation_rejected (
        A2, "<severity>Severe</severity>", "<severity>Bad</severity>", "<severity>",
        "<info><severity>: ", "\"Bad\" is not one of Extreme, Severe, Moderate, Minor, Unknown");
    expect_mutation_rejected (A2, "<certainty>Observed</certainty>",
                              "<certainty>Very Likely</certainty>", "<certainty>",
                              "<info><certainty>: ", "CAP 1.0");
    expect_mutation_rejected (A2, "<status>Actual</status>", "<status>actual</status>", "<status>",
                              "<status>: ", "not one of Actual, Exercise");
    expect_mutation_rejected (A2, "<msgType>Alert</msgType>", "<msgType>Notice</msgType>",
                              "<msgType>", "<msgType>: ", "\"Notice\" is not one of");
    expect_mutation_rejected (A2, "<category>Met</category>", "<category>Weather</category>",
                              "<category>", "<info><category>: ", "\"Weather\"");
    expect_mutation_rejected (A2, "<category>Met</category>", "", "<info>",
                              "<info>: ", "missing required element <category>");
    expect_mutation_rejected (A2, "<event>SEVERE THUNDERSTORM</event>", "", "<info>",
                              "<info>: ", "missing required element <event>");
    expect_mutation_rejected (A2, "<responseType>Shelter</responseType>",
                              "<responseType>Hide</responseType>", "<responseType>",
                              "<info><responseType>: ", "\"Hide\"");
    expect_mutation_rejected (A2, "<valueName>SAME</valueName>\n      <value>SVR</value>",
                              "<valueName>SAME</valueName>", "<eventCode>",
                              "<info><eventCode>: ", "missing required element <value>");
    expect_mutation_rejected (A2, "</areaDesc>", "</areaDesc><areaName>x</areaName>", "<areaName>",
                              "<info><area><areaName>: ", "not an element of <info><area>");
}

static void
test_reject_datetimes (void **state)
{
    const char *sent = "<sent>2003-06-17T14:57:00-07:00</sent>";
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17 14:57:00</sent>", "<sent>",
                              "<sent>: ", "is not a CAP dateTime");
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17T21:57:00Z</sent>", "<sent>",
                              "<sent>: ", "\"Z\" is not allowed");
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17T14:57:00</sent>", "<sent>",
                              "<sent>: ", "with time zone");
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17T14:57:00.5-07:00</sent>", "<sent>",
                              "<sent>: ", "fractional seconds");
    expect_mutation_rejected (A2, sent, "<sent>2003-02-29T14:57:00-07:00</sent>", "<sent>",
                              "<sent>: ", "not a valid date");
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17T24:00:00-07:00</sent>", "<sent>",
                              "<sent>: ", "not a valid date");
    expect_mutation_rejected (A2, sent, "<sent>2003-06-17T14:57:00+15:00</sent>", "<sent>",
                              "<sent>: ", "not a valid date");
    expect_mutation_rejected (A2, "<expires>2003-06-17T16:00:00-07:00</expires>",
                              "<expires>tomorrow</expires>", "<expires>",
                              "<info><expires>: ", "\"tomorrow\"");
    /* A leap day is a date; whitespace around a dateTime is not part of it. */
    size_t size;
    char *original = read_sample (A2, &size);
    char *leap = replace (original, sent, "<sent>\n  2004-02-29T14:57:00-00:00 </sent>");
    Onenet__Alert__Alert *alert = parse_ok (leap, strlen (leap), "leap day");
    assert_string_equal (alert->sent, "2004-02-29T14:57:00-00:00");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (leap);
    free (original);
}

static void
test_reject_scope_rules (void **state)
{
    expect_mutation_rejected (FLOOD, "<restriction>Coordinating departments only</restriction>", "",
                              "<scope>", "<scope>: ", "\"Restricted\" requires <restriction>");
    expect_mutation_rejected (A2, "<scope>Public</scope>", "<scope>Private</scope>", "<scope>",
                              "<scope>: ", "\"Private\" requires <addresses>");
    expect_mutation_rejected (A2, "<scope>Public</scope>", "<scope>Open</scope>", "<scope>",
                              "<scope>: ", "not one of Public, Restricted, Private");
    expect_mutation_rejected (A2, "<scope>Public</scope>",
                              "<scope>Private</scope><addresses>ops \"duty desk</addresses>",
                              "<addresses>", "<addresses>: ", "unbalanced double quote");
    /* Private with addresses is fine. */
    size_t size;
    char *original = read_sample (A2, &size);
    char *private_ok = replace (original, "<scope>Public</scope>",
                                "<scope>Private</scope><addresses>ops \"duty desk\"</addresses>");
    Onenet__Alert__Alert *alert = parse_ok (private_ok, strlen (private_ok), "private");
    assert_string_equal (alert->addresses, "ops \"duty desk\"");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (private_ok);
    free (original);
}

static void
test_reject_references (void **state)
{
    const char *refs = "<references>duty@em.example.gov.cn,em.510100.2026.0001,"
                       "2026-07-12T03:20:00+08:00</references>";
    expect_mutation_rejected (
        CANCEL, refs, "<references>em.510100.2026.0001</references>", "<references>",
        "<references>: ", "reference 1 \"em.510100.2026.0001\" is not sender,identifier,sent");
    expect_mutation_rejected (
        CANCEL, refs, "<references>a,b,2026-07-12T03:20:00+08:00 a,b,yesterday</references>",
        "<references>", "<references>: ", "reference 2: sent");
    expect_mutation_rejected (CANCEL, refs,
                              "<references>a,b,c,2026-07-12T03:20:00+08:00</references>",
                              "<references>", "<references>: ", "reference 1");
    /* Two well-formed references, separated by any whitespace, are fine. */
    size_t size;
    char *original = read_sample (CANCEL, &size);
    char *two = replace (original, refs,
                         "<references>a@b,x.1,2026-07-12T03:20:00+08:00\n\t"
                         "a@b,x.2,2026-07-12T04:20:00+08:00</references>");
    Onenet__Alert__Alert *alert = parse_ok (two, strlen (two), "two references");
    assert_string_equal (alert->references,
                         "a@b,x.1,2026-07-12T03:20:00+08:00\n\ta@b,x.2,2026-07-12T04:20:00+08:00");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (two);
    free (original);
}

static void
test_reject_geometry (void **state)
{
    const char *polygon = "<polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 "
                          "38.47,-120.14</polygon>";
    expect_mutation_rejected (A2, polygon,
                              "<polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 "
                              "38.47,-120.15</polygon>",
                              "<polygon>", "<info><area><polygon>: ", "not closed");
    expect_mutation_rejected (A2, polygon,
                              "<polygon>38.47,-120.14 38.34,-119.95 38.47,-120.14</polygon>",
                              "<polygon>", "<info><area><polygon>: ", "at least 4");
    expect_mutation_rejected (A2, polygon,
                              "<polygon>38.47,-120.14 38.34;-119.95 38.52,-119.74 38.62,-119.89 "
                              "38.47,-120.14</polygon>",
                              "<polygon>", "<info><area><polygon>: ", "pair 2");
    expect_mutation_rejected (A2, polygon,
                              "<polygon>98.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 "
                              "98.47,-120.14</polygon>",
                              "<polygon>", "<info><area><polygon>: ", "out of range");
    expect_mutation_rejected (A2, polygon, "<circle>32.9525,-115.5527</circle>", "<circle>",
                              "<info><area><circle>: ", "is not \"latitude,longitude radius\"");
    expect_mutation_rejected (A2, polygon, "<circle>32.9525,-115.5527 -1</circle>", "<circle>",
                              "<info><area><circle>: ", "negative");
    expect_mutation_rejected (A2, polygon, "<ceiling>3000</ceiling>", "<ceiling>",
                              "<info><area><ceiling>: ", "<ceiling> requires <altitude>");
    expect_mutation_rejected (A2, polygon, "<altitude>high</altitude>", "<altitude>",
                              "<info><area><altitude>: ", "not a decimal number");
    /* Altitude and ceiling together, and a circle, are fine; equal first
     * and last pairs compare as numbers. */
    size_t size;
    char *original = read_sample (A2, &size);
    char *ok = replace (original, polygon,
                        "<polygon>38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 "
                        "38.470,-120.140</polygon><circle>32.9525,-115.5527 2.5</circle>"
                        "<altitude>1500.0</altitude><ceiling>3000</ceiling>");
    Onenet__Alert__Alert *alert = parse_ok (ok, strlen (ok), "geometry");
    assert_string_equal (alert->info[0]->area[0]->altitude, "1500.0");
    assert_string_equal (alert->info[0]->area[0]->ceiling, "3000");
    assert_string_equal (alert->info[0]->area[0]->circle[0], "32.9525,-115.5527 2.5");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (ok);
    free (original);
}

static void
test_reject_structure (void **state)
{
    expect_mutation_rejected (A2, "<status>Actual</status>",
                              "<status>Actual</status><sent>2003-06-17T14:57:00-07:00</sent>",
                              "</status><sent>", "<sent>: ", "given twice (first on line 5)");
    expect_mutation_rejected (A2, "<headline>", "<foo>x</foo><headline>", "<foo>",
                              "<info><foo>: ", "not an element of <info>");
    expect_mutation_rejected (A2, "<status>", "<status kind=\"x\">", "<status",
                              "<status>: ", "attribute \"kind\" is not allowed");
    expect_mutation_rejected (A2, "<event>SEVERE THUNDERSTORM</event>",
                              "<event>SEVERE <b>THUNDERSTORM</b></event>", "<event>",
                              "<info><event>: ", "unexpected element <b>");
    expect_mutation_rejected (A2, "<info>", "<info>stray text", "<info>",
                              "<info>: ", "unexpected text \"stray text\"");
    expect_mutation_rejected (A2, "<headline>SEVERE THUNDERSTORM WARNING</headline>",
                              "<x:headline xmlns:x=\"urn:example\">W</x:headline>", "<x:headline",
                              "<info><headline>: ", "namespace \"urn:example\"");
}

static void
test_reject_documents (void **state)
{
    size_t size;
    char *original = read_sample (A2, &size);

    char *cap11 = replace (original, "emergency:cap:1.2", "emergency:cap:1.1");
    expect_reject (cap11, "CAP 1.1", "line 2: <alert>: ", "is CAP 1.1", NULL);
    free (cap11);
    char *other = replace (original, "urn:oasis:names:tc:emergency:cap:1.2", "urn:example:alerts");
    expect_reject (other, "other namespace", "line 2: <alert>: ", "urn:example:alerts",
                   ONENET_CAP_NAMESPACE);
    free (other);
    char *none = replace (original, " xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", "");
    expect_reject (none, "no namespace", "line 2: <alert>: ", "no namespace", NULL);
    free (none);
    expect_reject ("<?xml version=\"1.0\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
                   "not an alert", "line 2: <feed>: ", "root element must be <alert>", NULL);

    expect_reject ("this is not XML at all", "text", "line 1: ", "not well-formed XML", NULL);
    expect_reject ("{\"identifier\": \"x\"}", "JSON", "line 1: ", "not well-formed XML", NULL);
    expect_reject_size ("", 0, "empty", "line 1: ", "empty document", NULL);
    expect_reject_size (NULL, 0, "NULL", "empty document", NULL, NULL);
    expect_reject_size ("\0\0\0\xff\xfe", 5, "binary", "not well-formed XML", NULL, NULL);

    /* Truncated: cut inside <info>. */
    size_t cut = (size_t)(strstr (original, "<contact>") - original);
    char *truncated = strndup (original, cut);
    expect_reject (truncated, "truncated", "not well-formed XML", NULL, NULL);
    free (truncated);

    /* An undeclared entity without any DOCTYPE is not well-formed. */
    char *entity = replace (original, "BARUFFALDI/JUSKIE", "&secret;");
    char line[32];
    snprintf (line, sizeof line, "line %d: ", line_of (entity, "&secret;"));
    expect_reject (entity, "undeclared entity", line, "not well-formed XML", "secret");
    free (entity);

    /* Too large, refused before parsing. */
    size_t huge = (size_t)ONENET_CAP_MAX_SIZE + 1;
    char *big = malloc (huge);
    assert_non_null (big);
    memset (big, ' ', huge);
    expect_reject_size (big, huge, "too large", "larger than the limit", NULL, NULL);
    free (big);

    /* err may be NULL; a short err is truncated, still terminated. */
    assert_null (onenet_cap_parse ("nope", 4, NULL, 0));
    char small[8];
    memset (small, 'x', sizeof small);
    assert_null (onenet_cap_parse ("nope", 4, small, sizeof small));
    assert_int_equal (strlen (small), sizeof small - 1);
    free (original);
}

/* --- hostile XML: entities are never expanded or fetched --- */

static double
now_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_billion_laughs (void **state)
{
    char xml[4096];
    size_t used = (size_t)snprintf (xml, sizeof xml,
                                    "<?xml version=\"1.0\"?>\n<!DOCTYPE alert [\n"
                                    "  <!ENTITY lol0 \"lol\">\n");
    for (int i = 1; i <= 9; i++) {
        used += (size_t)snprintf (xml + used, sizeof xml - used, "  <!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++)
            used += (size_t)snprintf (xml + used, sizeof xml - used, "&lol%d;", i - 1);
        used += (size_t)snprintf (xml + used, sizeof xml - used, "\">\n");
    }
    snprintf (xml + used, sizeof xml - used,
              "]>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"
              "<identifier>&lol9;</identifier><sender>a</sender>"
              "<sent>2003-06-17T14:57:00-07:00</sent><status>Test</status>"
              "<msgType>Alert</msgType><scope>Public</scope><note>&lol9;</note></alert>\n");
    double start = now_seconds ();
    expect_reject (xml, "billion laughs", "line 2: <!DOCTYPE>: ", "not accepted", NULL);
    double elapsed = now_seconds () - start;
    if (elapsed > 1.0)
        fail_msg ("billion laughs took %.2f s", elapsed);

    /* Quadratic blow-up: one large entity referenced many times. */
    size_t big = 20000, refs = 20000;
    char *quadratic = malloc (big + refs * 4 + 1024);
    assert_non_null (quadratic);
    char *p = quadratic;
    p += sprintf (p, "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY a \"");
    memset (p, 'a', big);
    p += big;
    p += sprintf (p, "\">]><alert xmlns=\"" ONENET_CAP_NAMESPACE "\"><note>");
    for (size_t i = 0; i < refs; i++)
        p += sprintf (p, "&a;");
    sprintf (p, "</note></alert>");
    start = now_seconds ();
    expect_reject (quadratic, "quadratic blow-up", "<!DOCTYPE>", NULL, NULL);
    elapsed = now_seconds () - start;
    if (elapsed > 1.0)
        fail_msg ("quadratic blow-up took %.2f s", elapsed);
    free (quadratic);
}

static void
test_external_entities_not_fetched (void **state)
{
    /* A local file the entity would read. */
    const char *tmp = getenv ("TMPDIR");
    char secret_path[512];
    snprintf (secret_path, sizeof secret_path, "%s/onenet-cap-secret-XXXXXX",
              tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp (secret_path);
    assert_true (fd >= 0);
    const char *secret = "XXE-SECRET-4711";
    assert_int_equal (write (fd, secret, strlen (secret)), (ssize_t)strlen (secret));
    close (fd);

    /* A local TCP listener the document points at: nobody may connect. */
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (listener >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (listener, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t addr_len = sizeof addr;
    assert_int_equal (getsockname (listener, (struct sockaddr *)&addr, &addr_len), 0);
    assert_int_equal (listen (listener, 4), 0);
    fcntl (listener, F_SETFL, O_NONBLOCK);
    int port = ntohs (addr.sin_port);

    const char *body = "<alert xmlns=\"" ONENET_CAP_NAMESPACE "\"><identifier>x</identifier>"
                       "<sender>a</sender><sent>2003-06-17T14:57:00-07:00</sent>"
                       "<status>Test</status><msgType>Alert</msgType><scope>Public</scope>"
                       "<note>&xxe;</note></alert>";
    char xml[2048], err[512];
    const char *doctypes[] = {
        "<!DOCTYPE alert [<!ENTITY xxe SYSTEM \"file://%s\">]>",
        "<!DOCTYPE alert [<!ENTITY xxe SYSTEM \"http://127.0.0.1:%d/x\">]>",
        "<!DOCTYPE alert SYSTEM \"http://127.0.0.1:%d/cap.dtd\">",
        "<!DOCTYPE alert [<!ENTITY %% p SYSTEM \"http://127.0.0.1:%d/p.dtd\"> %%p;]>",
    };
    for (size_t i = 0; i < sizeof doctypes / sizeof doctypes[0]; i++) {
        char doctype[600];
        if (i == 0)
            snprintf (doctype, sizeof doctype, doctypes[i], secret_path);
        else
            snprintf (doctype, sizeof doctype, doctypes[i], port);
        snprintf (xml, sizeof xml, "<?xml version=\"1.0\"?>\n%s\n%s", doctype, body);
        err[0] = '\0';
        Onenet__Alert__Alert *alert = onenet_cap_parse (xml, strlen (xml), err, sizeof err);
        if (alert != NULL) {
            bool leaked = strstr (alert->note, secret) != NULL;
            onenet__alert__alert__free_unpacked (alert, NULL);
            fail_msg ("external entity document %zu accepted%s", i, leaked ? ", secret read" : "");
        }
        assert_non_null (strstr (err, "<!DOCTYPE>"));
        assert_null (strstr (err, secret));
    }
    /* Nothing connected to the listener. */
    int client = accept (listener, NULL, NULL);
    if (client >= 0) {
        close (client);
        fail_msg ("the parser connected to 127.0.0.1:%d", port);
    }
    assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
    close (listener);
    unlink (secret_path);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint32_t
next_random (uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/* Every prefix of every sample cut before its end tag is refused, random
 * bytes are refused, and random byte changes to a sample never crash:
 * whatever the parser accepts validates, writes and reads back equal. */
static void
test_garbage_never_crashes (void **state)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        size_t size;
        char *xml = read_sample (s_samples[i].file, &size);
        size_t end = (size_t)(strstr (xml, "</alert>") - xml) + strlen ("</alert>");
        for (size_t len = 0; len < end; len++) {
            char err[256] = "";
            Onenet__Alert__Alert *alert = onenet_cap_parse (xml, len, err, sizeof err);
            if (alert != NULL) {
                onenet__alert__alert__free_unpacked (alert, NULL);
                fail_msg ("%s cut to %zu bytes accepted", s_samples[i].file, len);
            }
            assert_true (err[0] != '\0');
        }
        free (xml);
    }

    uint32_t seed = 12345;
#define NEXT() next_random (&seed)
    char noise[512];
    for (int round = 0; round < 200; round++) {
        size_t len = 1 + NEXT () % sizeof noise;
        for (size_t k = 0; k < len; k++)
            noise[k] = (char)NEXT ();
        if (round % 2)
            noise[0] = '<';
        char err[256] = "";
        assert_null (onenet_cap_parse (noise, len, err, sizeof err));
        assert_true (err[0] != '\0');
    }

    size_t accepted = 0, refused = 0;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        size_t size;
        char *xml = read_sample (s_samples[i].file, &size);
        for (int round = 0; round < 150; round++) {
            char *copy = malloc (size);
            assert_non_null (copy);
            memcpy (copy, xml, size);
            int changes = 1 + NEXT () % 3;
            for (int c = 0; c < changes; c++) {
                static const char pick[] = "<>&/;\"' \n,.-:0123456789ZTaz\x80\xc3\xff";
                size_t at = NEXT () % size;
                copy[at] = pick[NEXT () % (sizeof pick - 1)];
            }
            char err[256] = "";
            Onenet__Alert__Alert *alert = onenet_cap_parse (copy, size, err, sizeof err);
            if (alert == NULL) {
                assert_true (err[0] != '\0');
                refused++;
            } else {
                accepted++;
                char why[256] = "";
                if (onenet_cap_validate (alert, why, sizeof why) != 0)
                    fail_msg ("accepted but invalid: %s", why);
                char *written = format_ok (alert, "mutated");
                Onenet__Alert__Alert *again =
                    parse_ok (written, strlen (written), "mutated written");
                assert_same_message (alert, again, "mutated");
                onenet__alert__alert__free_unpacked (again, NULL);
                free (written);
                onenet__alert__alert__free_unpacked (alert, NULL);
            }
            free (copy);
        }
        free (xml);
    }
#undef NEXT
    /* The mutations exercise both outcomes. */
    assert_true (accepted > 0);
    assert_true (refused > 0);
}

/* --- accepted variations --- */

static void
test_lenient_where_cap_allows (void **state)
{
    size_t size;
    char *original = read_sample (A2, &size);
    Onenet__Alert__Alert *reference = parse_ok (original, size, "a2");

    /* Out of the schema's order, with a prefix, comments and CDATA: the
     * same alert; the output is in the schema's order again. */
    char *reordered =
        replace (original,
                 "  <status>Actual</status>\n  <msgType>Alert</msgType>\n"
                 "  <scope>Public</scope>\n",
                 "  <scope>Public</scope>\n  <!-- a comment -->\n"
                 "  <msgType><![CDATA[Alert]]></msgType>\n  <status>Actual</status>\n");
    Onenet__Alert__Alert *alert = parse_ok (reordered, strlen (reordered), "reordered");
    assert_same_message (reference, alert, "reordered");
    char *written = format_ok (alert, "reordered");
    char *status = strstr (written, "<status>"), *msg_type = strstr (written, "<msgType>"),
         *scope = strstr (written, "<scope>");
    assert_non_null (status);
    assert_non_null (msg_type);
    assert_non_null (scope);
    assert_true (status < msg_type && msg_type < scope);
    free (written);
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (reordered);

    /* An XML-DSig signature after the infos is skipped. */
    char *signed_doc = replace (original, "</alert>",
                                "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"
                                "<SignedInfo/></Signature></alert>");
    alert = parse_ok (signed_doc, strlen (signed_doc), "signed");
    assert_same_message (reference, alert, "signed");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (signed_doc);

    /* A prefixed CAP namespace is the same namespace. */
    const char *prefixed =
        "<cap:alert xmlns:cap=\"" ONENET_CAP_NAMESPACE "\"><cap:identifier>p1</cap:identifier>"
        "<cap:sender>s</cap:sender><cap:sent>2003-06-17T14:57:00-07:00</cap:sent>"
        "<cap:status>Test</cap:status><cap:msgType>Alert</cap:msgType>"
        "<cap:scope>Public</cap:scope><cap:note/></cap:alert>";
    alert = parse_ok (prefixed, strlen (prefixed), "prefixed");
    assert_string_equal (alert->identifier, "p1");
    assert_string_equal (alert->note, ""); /* empty optional element: absent */
    written = format_ok (alert, "prefixed");
    assert_null (strstr (written, "note"));
    free (written);
    onenet__alert__alert__free_unpacked (alert, NULL);

    /* A namespaced attribute (xsi:schemaLocation) is skipped. */
    char *located = replace (original, "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"",
                             "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\" "
                             "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                             "xsi:schemaLocation=\"urn:oasis:names:tc:emergency:cap:1.2 cap.xsd\"");
    alert = parse_ok (located, strlen (located), "schemaLocation");
    assert_same_message (reference, alert, "schemaLocation");
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (located);

    /* Another declared encoding is read into UTF-8. */
    const char *latin1 =
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
        "<alert xmlns=\"" ONENET_CAP_NAMESPACE "\"><identifier>l1</identifier>"
        "<sender>s</sender><sent>2003-06-17T14:57:00-07:00</sent><status>Test</status>"
        "<msgType>Alert</msgType><scope>Public</scope><note>Caf\xe9</note></alert>";
    alert = parse_ok (latin1, strlen (latin1), "latin1");
    assert_string_equal (alert->note, "Caf\xc3\xa9");
    onenet__alert__alert__free_unpacked (alert, NULL);

    onenet__alert__alert__free_unpacked (reference, NULL);
    free (original);
}

/* --- writing --- */

static Onenet__Alert__Alert *
minimal_alert (void)
{
    const char *xml = "<alert xmlns=\"" ONENET_CAP_NAMESPACE "\"><identifier>m1</identifier>"
                      "<sender>s@example.gov.cn</sender><sent>2026-07-12T03:20:00+08:00</sent>"
                      "<status>Exercise</status><msgType>Alert</msgType><scope>Public</scope>"
                      "<info><category>Met</category><event>e</event><urgency>Future</urgency>"
                      "<severity>Minor</severity><certainty>Possible</certainty>"
                      "<area><areaDesc>a</areaDesc></area></info></alert>";
    return parse_ok (xml, strlen (xml), "minimal");
}

static void
test_format_output (void **state)
{
    size_t size;
    char *original = read_sample ("oasis-a1-homeland-security.xml", &size);
    Onenet__Alert__Alert *alert = parse_ok (original, size, "a1");
    char *written = format_ok (alert, "a1");
    assert_memory_equal (written, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39);
    assert_non_null (strstr (written, "<alert xmlns=\"" ONENET_CAP_NAMESPACE "\">\n"));
    assert_non_null (strstr (written, "\n  <identifier>43b080713727</identifier>\n"));
    assert_non_null (strstr (written, "<instruction> A High Condition"));
    free (written);

    /* Markup characters are escaped and whitespace kept exactly. */
    const char *text = "  <b>Fish & chips</b> \"q\" 'a' ]]> \r\n\ttail  ";
    char *old_description = alert->info[0]->description;
    alert->info[0]->description = (char *)text;
    written = format_ok (alert, "escaped");
    assert_non_null (strstr (written, "&lt;b&gt;Fish &amp; chips&lt;/b&gt;"));
    Onenet__Alert__Alert *again = parse_ok (written, strlen (written), "escaped written");
    assert_string_equal (again->info[0]->description, text);
    onenet__alert__alert__free_unpacked (again, NULL);
    free (written);
    alert->info[0]->description = old_description;
    onenet__alert__alert__free_unpacked (alert, NULL);
    free (original);
}

/* Formats alert expecting a refusal that mentions fragment. */
static void
expect_format_refused (const Onenet__Alert__Alert *alert, const char *fragment)
{
    char err[512] = "";
    char *xml = onenet_cap_format (alert, err, sizeof err);
    if (xml != NULL) {
        free (xml);
        fail_msg ("written although invalid (expected \"%s\")", fragment);
    }
    if (strstr (err, fragment) == NULL)
        fail_msg ("reason \"%s\" lacks \"%s\"", err, fragment);
    char err2[512] = "";
    assert_int_equal (onenet_cap_validate (alert, err2, sizeof err2), -1);
    assert_string_equal (err, err2);
}

static void
test_format_validates (void **state)
{
    Onenet__Alert__Alert *alert = minimal_alert ();
    Onenet__Alert__Info *info = alert->info[0];
    Onenet__Alert__Area *area = info->area[0];
    char *saved;
    assert_int_equal (onenet_cap_validate (alert, NULL, 0), 0);

#define TRY(slot, value, fragment)                                                                 \
    do {                                                                                           \
        saved = (slot);                                                                            \
        (slot) = (char *)(value);                                                                  \
        expect_format_refused (alert, fragment);                                                   \
        (slot) = saved;                                                                            \
    } while (0)

    TRY (alert->identifier, "", "identifier: missing (required)");
    TRY (alert->identifier, "a,b", "identifier: \"a,b\" must not contain");
    TRY (alert->sent, "2026-07-12T03:20:00Z", "sent: \"2026-07-12T03:20:00Z\": \"Z\"");
    TRY (alert->status, " Exercise", "status: leading or trailing whitespace");
    TRY (alert->scope, "Restricted", "scope: \"Restricted\" requires <restriction>");
    TRY (info->severity, "Bad",
         "info[0].severity: \"Bad\" is not one of Extreme, Severe, Moderate, Minor, Unknown");
    TRY (info->event, "", "info[0].event: missing (required)");
    TRY (info->event, "  ", "info[0].event: only whitespace");
    TRY (info->description, "bad \xff byte", "info[0].description: not valid UTF-8");
    TRY (info->description, "bell \x07", "info[0].description: not valid UTF-8");
    TRY (info->description, "overlong \xc0\xaf", "info[0].description: not valid UTF-8");
    TRY (info->language, "en_US", "info[0].language: \"en_US\" is not an RFC 3066");
    TRY (area->area_desc, "", "info[0].area[0].area_desc: missing (required)");
    TRY (area->ceiling, "10", "info[0].area[0].ceiling: <ceiling> requires <altitude>");
    TRY (info->category[0], "", "info[0].category[0]: empty");

    char *polygon[] = {(char *)"1,1 2,2 3,3 4,4"};
    area->n_polygon = 1;
    area->polygon = polygon;
    expect_format_refused (alert, "info[0].area[0].polygon[0]: the polygon is not closed");
    area->n_polygon = 0;
    area->polygon = NULL;

    size_t n_category = info->n_category;
    info->n_category = 0;
    expect_format_refused (alert, "info[0].category: at least one is required");
    info->n_category = n_category;
#undef TRY

    assert_int_equal (onenet_cap_validate (alert, NULL, 0), 0);
    assert_int_equal (onenet_cap_validate (NULL, NULL, 0), -1);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

/* --- the rest of the alert schema --- */

static void
test_envelope_and_ack (void **state)
{
    Onenet__Alert__Alert *alert = parse_sample (FLOOD);
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.stream_id = (char *)"1752261600000-0";
    envelope.alert = alert;
    envelope.published_by_department = (char *)"emergency";
    envelope.received_at_ms = 1752261600000;
    size_t len = onenet__alert__alert_envelope__get_packed_size (&envelope);
    uint8_t *buffer = malloc (len);
    assert_non_null (buffer);
    onenet__alert__alert_envelope__pack (&envelope, buffer);
    Onenet__Alert__AlertEnvelope *back = onenet__alert__alert_envelope__unpack (NULL, len, buffer);
    assert_non_null (back);
    assert_string_equal (back->stream_id, "1752261600000-0");
    assert_string_equal (back->published_by_department, "emergency");
    assert_int_equal (back->received_at_ms, 1752261600000);
    assert_same_message (alert, back->alert, "envelope");
    onenet__alert__alert_envelope__free_unpacked (back, NULL);
    free (buffer);

    Onenet__Alert__Ack ack = ONENET__ALERT__ACK__INIT;
    ack.identifier = alert->identifier;
    ack.by = (char *)"public_security";
    ack.at_ms = 1752261700000;
    char *json = onenet_json_encode (&ack.base, 0);
    assert_non_null (json);
    assert_non_null (strstr (json, "\"by\":\"public_security\""));
    free (json);

    /* The alert types are in the schema table, so the CLI can show them. */
    assert_ptr_equal (onenet_schema_find ("onenet.alert.Alert"), &onenet__alert__alert__descriptor);
    assert_ptr_equal (onenet_schema_find ("onenet.alert.AlertEnvelope"),
                      &onenet__alert__alert_envelope__descriptor);
    assert_ptr_equal (onenet_schema_find ("onenet.alert.Ack"), &onenet__alert__ack__descriptor);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_samples_parse),
        cmocka_unit_test (test_samples_round_trip),
        cmocka_unit_test (test_comparison_sees_differences),
        cmocka_unit_test (test_copies_match_shared),
        cmocka_unit_test (test_bilingual_keeps_both_infos),
        cmocka_unit_test (test_flood_keeps_categories_and_geocode),
        cmocka_unit_test (test_sample_details),
        cmocka_unit_test (test_geocodes),
        cmocka_unit_test (test_severity_rank),
        cmocka_unit_test (test_reject_missing_and_bad_values),
        cmocka_unit_test (test_reject_datetimes),
        cmocka_unit_test (test_reject_scope_rules),
        cmocka_unit_test (test_reject_references),
        cmocka_unit_test (test_reject_geometry),
        cmocka_unit_test (test_reject_structure),
        cmocka_unit_test (test_reject_documents),
        cmocka_unit_test (test_billion_laughs),
        cmocka_unit_test (test_external_entities_not_fetched),
        cmocka_unit_test (test_garbage_never_crashes),
        cmocka_unit_test (test_lenient_where_cap_allows),
        cmocka_unit_test (test_format_output),
        cmocka_unit_test (test_format_validates),
        cmocka_unit_test (test_envelope_and_ack),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
