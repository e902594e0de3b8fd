/*
 * main.c - onenet-gateway: the HTTP/JSON gateway and web console.
 *
 *   onenet-gateway -c config/gateway.cfg     serve
 *   onenet-gateway --hash-token TOKEN        print a token's hash for gateway.cfg
 *
 * Load the config, start the HTTP server, wait for SIGINT/SIGTERM, stop.
 * docs/GATEWAY.md is the operator's guide, docs/openapi.yaml the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "gateway.h"

static int
s_usage (FILE *out)
{
    fprintf (out, "usage: onenet-gateway -c CONFIG\n"
                  "       onenet-gateway --hash-token TOKEN\n");
    return out == stdout ? 0 : 2;
}

int
main (int argc, char **argv)
{
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp (argv[i], "-c") == 0 || strcmp (argv[i], "--config") == 0) && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp (argv[i], "--hash-token") == 0 && i + 1 < argc) {
            if (sodium_init () < 0)
                return 1;
            char hex[65];
            auth_hash_hex (argv[++i], hex);
            printf ("%s\n", hex);
            return 0;
        } else if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
            return s_usage (stdout);
        else
            return s_usage (stderr);
    }
    if (!config_path)
        return s_usage (stderr);
    if (sodium_init () < 0) {
        fprintf (stderr, "onenet-gateway: libsodium failed to start\n");
        return 1;
    }
    char err[512];
    gateway_config_t *config = gateway_config_load (config_path, err, sizeof err);
    if (!config) {
        fprintf (stderr, "onenet-gateway: %s\n", err);
        return 1;
    }
    onenet_log_configure ((onenet_log_level_t)onenet_log_level_from_name (config->log_level), 0,
                          "gateway");
    onenet_signals_catch ();
    gateway_t gateway = {.config = config};
    if (gateway_start (&gateway, err, sizeof err) < 0) {
        onenet_error ("gateway.start_failed", "reason=\"%s\"", err);
        gateway_config_destroy (&config);
        return 1;
    }
    onenet_info ("gateway.started", "address=%s port=%d users=%zu web_root=%s", config->address,
                 config->port, config->user_count, config->web_root);
    while (!onenet_interrupted ())
        usleep (100 * 1000);
    onenet_info ("gateway.stopping", NULL);
    gateway_stop (&gateway);
    gateway_config_destroy (&config);
    return 0;
}
