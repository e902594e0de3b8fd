/*
 * civil_affairs_adapter.c - a fourth, deliberately small department: civil
 * affairs keeps a marriage registry. It shows that a department joins the
 * one network view with an adapter and one `departments` entry in the
 * broker's config, and no broker change.
 *
 * Its store is a tab-separated file, one person a line:
 *   resident_id  name  marital_status  address
 * It offers ca.view.person (its view contribution) only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onenet/onenet.h>
#include <onenet/contribution.h>
#include <onenet/proto/view.pb-c.h>

typedef struct {
    char resident_id[19];
    char name[64];
    char marital_status[32];
    char address[160];
} record_t;

static record_t *s_records;
static size_t s_count;

static int
load (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line[512];
    while (fgets (line, sizeof line, file)) {
        record_t r = { 0 };
        if (sscanf (line, "%18[^\t]\t%63[^\t]\t%31[^\t]\t%159[^\t\n]", r.resident_id, r.name,
                    r.marital_status, r.address) != 4)
            continue;
        record_t *grown = realloc (s_records, (s_count + 1) * sizeof *grown);
        if (!grown)
            break;
        s_records = grown;
        s_records[s_count++] = r;
    }
    fclose (file);
    return 0;
}

static void
on_view (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    Onenet__View__ContributionRequest *in = (Onenet__View__ContributionRequest *)
        onenet_request_message (request, &onenet__view__contribution_request__descriptor);
    const record_t *found = NULL;
    for (size_t i = 0; in && i < s_count && !found; i++)
        if (strcmp (s_records[i].resident_id, in->resident_id) == 0)
            found = &s_records[i];
    onenet_contribution_t *contribution = onenet_contribution_new (found != NULL);
    if (found) {
        onenet_contribution_add (contribution, "name", found->name, NULL);
        onenet_contribution_add (contribution, "address", found->address, NULL);
        onenet_contribution_add (contribution, "marital_status", found->marital_status,
                                 "婚姻状况 Marital status");
    }
    if (!in)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST, "not a ContributionRequest",
                              NULL, 0);
    else
        onenet_contribution_reply (contribution, adapter, &request);
    onenet_contribution_destroy (&contribution);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = { { "broker", required_argument, NULL, 'b' },
                                             { "data", required_argument, NULL, 'd' },
                                             { "instance", required_argument, NULL, 'i' },
                                             { "help", no_argument, NULL, 'h' },
                                             { NULL, 0, NULL, 0 } };
    const char *broker = NULL, *data = NULL, *instance = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:i:h", options, NULL)) != -1) {
        if (opt == 'b') broker = optarg;
        else if (opt == 'd') data = optarg;
        else if (opt == 'i') instance = optarg;
        else {
            printf ("Usage: onenet-adapter-civil-affairs --data FILE.tsv [--broker EP] [--instance NAME]\n"
                    "Example: onenet-adapter-civil-affairs --data marriages.tsv\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!data || load (data) < 0) {
        fprintf (stderr, "civil affairs adapter: cannot read --data %s\n", data ? data : "(missing)");
        return 1;
    }
    char err[256];
    onenet_adapter_t *adapter = onenet_adapter_new (broker, "civil_affairs", instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "civil affairs adapter: %s\n", err);
        return 1;
    }
    onenet_adapter_offer (adapter, "ca.view.person", on_view, NULL, &(onenet_offer_options_t) {
        &onenet__view__contribution_request__descriptor, &onenet__view__contribution__descriptor,
        true, "Civil affairs' part of the person view (marriage registry)" });
    onenet_signals_catch ();
    int rc = onenet_adapter_run (adapter);
    onenet_adapter_destroy (&adapter);
    free (s_records);
    return rc < 0 ? 1 : 0;
}
