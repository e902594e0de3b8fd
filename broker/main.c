/*
 * main.c - onenet-broker: load the config, run the broker, tear down.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "broker.h"
#include "config.h"
#include "onenet/onenet.h"

static void
usage (FILE *out)
{
    fprintf (out,
             "Usage: onenet-broker [-c FILE] [--check-config] [--endpoint ENDPOINT]\n"
             "\n"
             "Runs the OneNet broker: adapters register their services with it and\n"
             "clients call those services through it.\n"
             "\n"
             "Signals: SIGHUP reloads the config file (an invalid one is refused and the\n"
             "running config kept); SIGTERM or SIGINT drains (no new requests, waits up\n"
             "to broker.drain_ms for those in flight) and exits 0; a second one exits now.\n"
             "\n"
             "  -c, --config FILE      libconfig file (default: embedded defaults)\n"
             "      --check-config     validate the configuration and exit\n"
             "  -e, --endpoint EP      bind here instead of broker.endpoint\n"
             "  -a, --alerts-endpoint EP  bind alert subscribers here instead of alerts.endpoint\n"
             "      --http-endpoint H:P   serve /healthz /readyz /metrics here instead of http.endpoint\n"
             "  -v, --verbose          log at debug level\n"
             "  -h, --help             this help\n"
             "  -V, --version          print the version\n"
             "\n"
             "Example:\n"
             "  onenet-broker -c config/broker.cfg\n"
             "  onenet-broker --check-config -c /etc/onenet/broker.cfg\n");
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "check-config", no_argument, NULL, 'k' },
        { "endpoint", required_argument, NULL, 'e' }, { "verbose", no_argument, NULL, 'v' },
        { "alerts-endpoint", required_argument, NULL, 'a' },
        { "http-endpoint", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL, *endpoint = NULL, *alerts_endpoint = NULL, *http_endpoint = NULL;
    bool check_only = false, verbose = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:e:a:vhV", options, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'k': check_only = true; break;
        case 'e': endpoint = optarg; break;
        case 'a': alerts_endpoint = optarg; break;
        case 'H': http_endpoint = optarg; break;
        case 'v': verbose = true; break;
        case 'h': usage (stdout); return 0;
        case 'V': printf ("onenet-broker %s\n", onenet_version ()); return 0;
        default: usage (stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "onenet-broker: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    char err[512] = "";
    broker_config_t *config = path ? broker_config_load (path, err, sizeof err)
                                   : broker_config_defaults ();
    if (!config) {
        fprintf (stderr, "onenet-broker: %s\n", *err ? err : "out of memory");
        return 1;
    }
    if (endpoint) {
        free (config->endpoint);
        config->endpoint = strdup (endpoint);
    }
    if (alerts_endpoint) {
        free (config->alerts_endpoint);
        config->alerts_endpoint = strdup (alerts_endpoint);
    }
    if (http_endpoint) {
        free (config->http_endpoint);
        config->http_endpoint = strdup (http_endpoint);
    }
    if (check_only) {
        printf ("%s: configuration is valid\n", config->path);
        broker_config_destroy (&config);
        return 0;
    }
    int level = verbose ? ONENET_LOG_DEBUG : onenet_log_level_from_name (config->log_level);
    onenet_log_configure ((onenet_log_level_t) (level < 0 ? ONENET_LOG_INFO : level),
                          strcmp (config->log_format, "json") == 0, "broker");
    broker_catch_signals ();
    broker_t *broker = broker_new (config, err, sizeof err);   /* takes the config */
    if (!broker) {
        fprintf (stderr, "onenet-broker: %s\n", err);
        return 1;
    }
    broker_run (broker);
    broker_destroy (&broker);
    return 0;
}
