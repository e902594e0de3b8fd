/*
 * sdk_internal.h - helpers shared by the SDK's client and adapter.
 * Not installed.
 */
#ifndef ONENET_SDK_INTERNAL_H
#define ONENET_SDK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "onenet/security.h"

/* Writes a reason into err (if not NULL), printf-style. */
void sdk_set_error (char *err, size_t err_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Messages a client's or adapter's socket queues each way (ZeroMQ's
 * high-water mark); past it a send fails with EAGAIN. */
#define SDK_QUEUE_HWM 10000

/* Creates a socket of type (ZMQ_DEALER for calls, ZMQ_SUB for the alert
 * stream) connected to endpoint with the options every OneNet peer uses
 * (no linger, quick reconnect, SDK_QUEUE_HWM), as a CURVE client when the
 * environment names keys (ONENET_KEY, ONENET_BROKER_KEY). NULL with a
 * reason. */
void *sdk_connect (void *context, int type, const char *endpoint, char *err, size_t err_size);

/* The value of count decimal digits at text (checked by the caller). */
int sdk_decimal (const char *text, size_t count);

/* Days in month (1-12) of a Gregorian year; 0 for a month out of range. */
int sdk_days_in_month (int year, int month);

/* Copies length bytes of src and a terminator to *cursor, moves *cursor
 * past them and returns the copy: for strings kept in the allocation of
 * the struct they belong to. */
const char *sdk_text_put (char **cursor, const char *src, size_t length);

/* Writes size bytes as lowercase hex into out (2*size+1 bytes needed,
 * truncated to out_size). */
void sdk_hex (const uint8_t *data, size_t size, char *out, size_t out_size);

#endif
