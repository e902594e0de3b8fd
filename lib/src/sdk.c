/*
 * sdk.c - what the client and the adapter share: socket setup and small
 * formatting helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include "sdk_internal.h"

void
sdk_set_error (char *err, size_t err_size, const char *format, ...)
{
    if (!err || err_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, err_size, format, args);
    va_end (args);
}

void *
sdk_connect (void *context, int type, const char *endpoint, char *err, size_t err_size)
{
    onenet_security_t security;
    int secured = onenet_security_from_env (&security, err, err_size);
    if (secured < 0)
        return NULL;
    void *socket = zmq_socket (context, type);
    if (!socket) {
        sdk_set_error (err, err_size, "cannot create socket: %s", zmq_strerror (errno));
        return NULL;
    }
    if (secured
        && (zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, security.broker_public_key, ONENET_KEY_SIZE) < 0
            || zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, security.own.public_key, ONENET_KEY_SIZE) < 0
            || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, security.own.secret_key, ONENET_KEY_SIZE) < 0)) {
        sdk_set_error (err, err_size, "cannot set CURVE keys: %s", zmq_strerror (errno));
        zmq_close (socket);
        return NULL;
    }
    /* ZeroMQ's default high-water mark (1000) is less than it seems: a
     * writer learns what was read only every half of it, so more than
     * about 500 calls in flight could fail to queue. */
    int linger = 0, reconnect_ivl = 100, reconnect_max = 2000, hwm = SDK_QUEUE_HWM;
    zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_RECONNECT_IVL, &reconnect_ivl, sizeof reconnect_ivl);
    zmq_setsockopt (socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    if (zmq_connect (socket, endpoint) < 0) {
        sdk_set_error (err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror (errno));
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

int
sdk_decimal (const char *text, size_t count)
{
    int value = 0;
    for (size_t i = 0; i < count; i++)
        value = value * 10 + (text[i] - '0');
    return value;
}

int
sdk_days_in_month (int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

const char *
sdk_text_put (char **cursor, const char *src, size_t length)
{
    char *start = *cursor;
    memcpy (start, src, length);
    start[length] = '\0';
    *cursor += length + 1;
    return start;
}

void
sdk_hex (const uint8_t *data, size_t size, char *out, size_t out_size)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < size && n + 2 < out_size; i++) {
        out[n++] = digits[data[i] >> 4];
        out[n++] = digits[data[i] & 15];
    }
    if (out_size)
        out[n] = '\0';
}
