/*
 * onenet/security.h - CURVE identities (ZeroMQ RFC 26) for OneNet peers.
 *
 * Each department (and the broker) has a key pair. The secret key stays
 * in a file only its owner can read; the broker lists every department's
 * public key in its config and authenticates connections with them (ZAP,
 * RFC 27): the department a request comes from is the key's, never what
 * a message says.
 *
 * Key files are small libconfig files written by `onenet keygen NAME`:
 *   NAME.key  (mode 0600)  public = "<40 Z85 chars>"; secret = "<40 Z85 chars>";
 *   NAME.pub               public = "<40 Z85 chars>";
 *
 * Clients and adapters pick their keys up from the environment when the
 * program does not set them: ONENET_KEY (its NAME.key) and
 * ONENET_BROKER_KEY (the broker's .pub file, or the 40-character key).
 */
#ifndef ONENET_SECURITY_H
#define ONENET_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONENET_KEY_SIZE 40   /* Z85 text of a 32-byte CURVE key */

typedef struct {
    char public_key[ONENET_KEY_SIZE + 1];
    char secret_key[ONENET_KEY_SIZE + 1];   /* "" when only the public key is known */
} onenet_keypair_t;

/* What a client or adapter needs to connect under CURVE. */
typedef struct {
    onenet_keypair_t own;
    char broker_public_key[ONENET_KEY_SIZE + 1];
} onenet_security_t;

/* Creates a new key pair. Returns 0, or -1 if libzmq has no CURVE. */
int onenet_keypair_generate (onenet_keypair_t *out);

/* Writes NAME.key (mode 0600, public and secret) and NAME.pub into dir.
 * Refuses to overwrite an existing NAME.key (an identity is not replaced
 * by accident). Returns 0, or -1 with a reason in err. */
int onenet_keypair_save (const onenet_keypair_t *pair, const char *dir, const char *name,
                         char *err, size_t err_size);

/* Reads a .key or .pub file. A .key file that others can read is refused
 * (its secret is no longer one). Returns 0, or -1 with file, line and
 * reason in err. */
int onenet_keypair_load (const char *path, onenet_keypair_t *out, char *err, size_t err_size);

/* True when text is a well-formed Z85 CURVE key (40 characters). */
bool onenet_key_valid (const char *text);

/* Fills security from a key file and the broker's key (a .pub file path
 * or the 40-character key itself). Returns 0, or -1 with a reason. */
int onenet_security_load (onenet_security_t *out, const char *key_file, const char *broker_key,
                          char *err, size_t err_size);

/* Fills security from ONENET_KEY and ONENET_BROKER_KEY. Returns 1 when
 * they are set and valid, 0 when ONENET_KEY is not set (plaintext), -1
 * with a reason when they are set but unusable. */
int onenet_security_from_env (onenet_security_t *out, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
