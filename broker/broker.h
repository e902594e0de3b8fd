/*
 * broker.h - the OneNet broker: one ROUTER endpoint where adapters register
 * and clients call services; routes requests by service name to the
 * instance with the most free credit.
 */
#ifndef BROKER_BROKER_H
#define BROKER_BROKER_H

#include "config.h"

typedef struct broker_t broker_t;

/* Creates a broker bound to config->endpoint. Takes the config, which
 * the broker frees (and replaces on reload); on failure it is freed too.
 * Returns NULL with a reason in err. */
broker_t *broker_new (broker_config_t *config, char *err, size_t err_size);

/* Installs the broker's signal handling: SIGINT/SIGTERM drain and stop
 * (a second one stops at once), SIGHUP reloads the config file. */
void broker_catch_signals (void);

/* Serves until a stop signal or broker_stop. On a signal it drains:
 * refuses new requests UNAVAILABLE, waits up to broker.drain_ms for those
 * in flight and for the alert spool to reach Redis, then answers what is
 * left UNAVAILABLE. Returns 0. */
int broker_run (broker_t *self);

/* Re-reads the config file: log level and format, deadlines and limits,
 * view settings, departments, known services, alert rules and escalation
 * change at once; endpoints, Redis, the alert stream and spool,
 * max_pending and security keep their value until a restart (logged).
 * An invalid file is refused and the running config kept (logged).
 * Returns 0 when applied, -1 when refused. */
int broker_reload (broker_t *self);

/* Makes broker_run return after the current message. */
void broker_stop (broker_t *self);

void broker_destroy (broker_t **self_p);

#endif
