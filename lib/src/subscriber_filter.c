/*
 * subscriber_filter.c - an alert subscriber's filter, for subscriber.c
 * (see subscriber_internal.h): checking it, the XPUB topics it subscribes
 * to, matching categories (which topics cannot express), and the key that
 * ties a state file to the filter it was written for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sdk_internal.h"
#include "subscriber_internal.h"

#define MAX_AREA_DIGITS 12

static const char *const s_severities[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"};
static const char *const s_categories[] = {"Geo",       "Met",   "Safety", "Security",
                                           "Rescue",    "Fire",  "Health", "Env",
                                           "Transport", "Infra", "CBRNE",  "Other"};
#define N_SEVERITIES (sizeof s_severities / sizeof s_severities[0])
#define N_CATEGORIES (sizeof s_categories / sizeof s_categories[0])

/* ======================================================================
 * Filters and topics
 * ====================================================================== */

static bool
s_in_list (const char *word, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (word, list[i]) == 0)
            return true;
    return false;
}

static int
s_check_area (const char *area, char *err, size_t err_size)
{
    size_t length = strlen (area);
    bool digits = length > 0 && length <= MAX_AREA_DIGITS;
    for (size_t i = 0; digits && i < length; i++)
        digits = area[i] >= '0' && area[i] <= '9';
    if (!digits) {
        sdk_set_error (err, err_size, "area '%s' is not a GB/T 2260 code prefix (1 to %d digits)",
                       area, MAX_AREA_DIGITS);
        return -1;
    }
    return 0;
}

int
onenet_alert_filter_check (const onenet_alert_filter_t *filter, char *err, size_t err_size)
{
    if (!filter)
        return 0;
    if ((filter->n_severities && !filter->severities) || (filter->n_areas && !filter->areas) ||
        (filter->n_categories && !filter->categories)) {
        sdk_set_error (err, err_size, "filter: a list with a count but no array");
        return -1;
    }
    for (size_t i = 0; i < filter->n_severities; i++)
        if (!filter->severities[i] ||
            !s_in_list (filter->severities[i], s_severities, N_SEVERITIES)) {
            sdk_set_error (err, err_size,
                           "unknown severity '%s' (CAP 1.2: Extreme, Severe, Moderate, Minor, "
                           "Unknown)",
                           filter->severities[i] ? filter->severities[i] : "(null)");
            return -1;
        }
    for (size_t i = 0; i < filter->n_categories; i++)
        if (!filter->categories[i] ||
            !s_in_list (filter->categories[i], s_categories, N_CATEGORIES)) {
            sdk_set_error (err, err_size,
                           "unknown category '%s' (CAP 1.2: Geo, Met, Safety, Security, Rescue, "
                           "Fire, Health, Env, Transport, Infra, CBRNE, Other)",
                           filter->categories[i] ? filter->categories[i] : "(null)");
            return -1;
        }
    for (size_t i = 0; i < filter->n_areas; i++)
        if (s_check_area (filter->areas[i] ? filter->areas[i] : "(null)", err, err_size))
            return -1;
    return 0;
}

void
subscriber_topics_free (char **topics, int count)
{
    for (int i = 0; topics && i < count; i++)
        free (topics[i]);
    free (topics);
}

//  Appends a copy of topic unless it is there already. Returns 0 or -1.
static int
s_topic_add (char **topics, int *count, const char *topic)
{
    for (int i = 0; i < *count; i++)
        if (strcmp (topics[i], topic) == 0)
            return 0;
    topics[*count] = strdup (topic);
    if (!topics[*count])
        return -1;
    (*count)++;
    return 0;
}

int
subscriber_topics (const onenet_alert_filter_t *filter, char ***topics_p)
{
    static const onenet_alert_filter_t everything = {NULL, 0, NULL, 0, NULL, 0};
    if (!filter)
        filter = &everything;
    const char *const *severities = filter->n_severities ? filter->severities : s_severities;
    size_t n_severities = filter->n_severities ? filter->n_severities : N_SEVERITIES;
    size_t n_areas = filter->n_areas ? filter->n_areas : 1;
    char **topics = calloc (n_severities * n_areas + 2, sizeof *topics); // + tick, escalation.
    int count = 0;
    for (size_t s = 0; topics && s < n_severities; s++)
        for (size_t a = 0; a < n_areas; a++) {
            char topic[256];
            snprintf (topic, sizeof topic, "alert.%s.%s", severities[s],
                      filter->n_areas ? filter->areas[a] : "");
            if (s_topic_add (topics, &count, topic)) {
                subscriber_topics_free (topics, count);
                return -1;
            }
        }
    //  escalations reach every subscriber, whatever its filter
    if (!topics || s_topic_add (topics, &count, "tick") ||
        s_topic_add (topics, &count, "escalation.")) {
        subscriber_topics_free (topics, count);
        return -1;
    }
    *topics_p = topics;
    return count;
}

bool
subscriber_category_match (const onenet_alert_filter_t *filter, const Onenet__Alert__Alert *alert)
{
    if (!filter || filter->n_categories == 0)
        return true;
    for (size_t i = 0; alert && i < alert->n_info; i++)
        for (size_t c = 0; c < alert->info[i]->n_category; c++)
            if (s_in_list (alert->info[i]->category[c], (const char *const *)filter->categories,
                           filter->n_categories))
                return true;
    return false;
}

static int
s_strcmp_p (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

//  Appends "name=" and the sorted, deduplicated list to key.
static void
s_key_list (char *key, size_t size, const char *name, const char *const *list, size_t count,
            const char **sorted)
{
    if (count) {
        memcpy (sorted, list, count * sizeof *sorted);
        qsort (sorted, count, sizeof *sorted, s_strcmp_p);
    }
    size_t used = strlen (key);
    used += (size_t)snprintf (key + used, size - used, "%s%s=", used ? " " : "", name);
    for (size_t i = 0; i < count && used < size; i++)
        if (i == 0 || strcmp (sorted[i], sorted[i - 1]) != 0)
            used += (size_t)snprintf (key + used, size - used, "%s%s",
                                      key[used - 1] == '=' ? "" : ",", sorted[i]);
}

char *
subscriber_filter_key (const onenet_alert_filter_t *filter)
{
    static const onenet_alert_filter_t everything = {NULL, 0, NULL, 0, NULL, 0};
    if (!filter)
        filter = &everything;
    size_t size = 64, most = 1;
    const size_t counts[] = {filter->n_severities, filter->n_areas, filter->n_categories};
    const char *const *lists[] = {filter->severities, filter->areas, filter->categories};
    for (size_t l = 0; l < 3; l++) {
        most = counts[l] > most ? counts[l] : most;
        for (size_t i = 0; i < counts[l]; i++)
            size += strlen (lists[l][i]) + 1;
    }
    char *key = calloc (1, size);
    const char **sorted = calloc (most, sizeof *sorted);
    if (key && sorted) {
        s_key_list (key, size, "severity", filter->severities, filter->n_severities, sorted);
        s_key_list (key, size, "area", filter->areas, filter->n_areas, sorted);
        s_key_list (key, size, "category", filter->categories, filter->n_categories, sorted);
    } else {
        free (key);
        key = NULL;
    }
    free (sorted);
    return key;
}
