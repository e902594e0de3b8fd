/*
 * broker.h - the OneNet broker: one ROUTER endpoint where adapters register
 * and clients call services; routes requests by service name to the
 * instance with the most free credit.
 */
#ifndef BROKER_BROKER_H
#define BROKER_BROKER_H

#include "config.h"

typedef struct broker_t broker_t;

/* Creates a broker bound to config->endpoint. The config is borrowed and
 * must outlive the broker. Returns NULL with a reason in err. */
broker_t *broker_new (const broker_config_t *config, char *err, size_t err_size);

/* Serves until SIGINT/SIGTERM (onenet_signals_catch) or broker_stop, then
 * answers what is still pending UNAVAILABLE. Returns 0. */
int broker_run (broker_t *self);

/* Makes broker_run return after the current message. */
void broker_stop (broker_t *self);

void broker_destroy (broker_t **self_p);

#endif
