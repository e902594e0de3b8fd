/*
 * rules.h - cross-department routing: configured rules (alert_rules) turn
 * a department's event into an alert for everyone who subscribes, so that
 * departments react together ("a missing person reported to public
 * security becomes an alert for emergency management").
 *
 * Rules know no department's schema: the event body is read by field
 * name through the shared schema (proto/), like the CLI reads JSON.
 */
#ifndef BROKER_RULES_H
#define BROKER_RULES_H

#include "broker_internal.h"

/* Applies every rule for (department, header->topic) to one event's
 * body (NULL when the EVENT had no body frame); each that matches
 * publishes an alert through the alerts module. */
void rules_on_event (broker_t *broker, const char *department, const Onenet__EventHeader *header,
                     const void *body, size_t size);

#endif
