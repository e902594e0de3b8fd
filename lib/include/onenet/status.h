/*
 * onenet/status.h - the typed outcome of every OneNet request.
 *
 * The values are those of the wire enum onenet.Status (proto/onenet.proto),
 * so a status read from a header can be cast to onenet_status_t directly.
 */
#ifndef ONENET_STATUS_H
#define ONENET_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ONENET_OK = 0,
    ONENET_BAD_REQUEST = 1,
    ONENET_UNKNOWN_SERVICE = 2,
    ONENET_NO_ADAPTER = 3,
    ONENET_TIMEOUT = 4,
    ONENET_DENIED = 5,
    ONENET_UNAVAILABLE = 6,
    ONENET_RESOURCE_EXHAUSTED = 7,
    ONENET_INTERNAL = 8,
    ONENET_UNSUPPORTED_VERSION = 9,
    ONENET_NOT_FOUND = 10,
} onenet_status_t;

#define ONENET_STATUS_COUNT 11

/* Returns the wire name of a status ("OK", "TIMEOUT", ...), or "UNKNOWN"
 * for a value outside the enum. The string is static. */
const char *onenet_status_name (int status);

/* Parses a wire name (case-insensitive). Returns the status, or -1. */
int onenet_status_from_name (const char *name);

#ifdef __cplusplus
}
#endif
#endif
