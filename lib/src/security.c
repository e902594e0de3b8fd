/*
 * security.c - CURVE key pairs: generate, save, load, and the settings a
 * connecting peer needs (see onenet/security.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "onenet/config.h"
#include "onenet/security.h"
#include "sdk_internal.h"

int
onenet_keypair_generate (onenet_keypair_t *out)
{
    memset (out, 0, sizeof *out);
    return zmq_curve_keypair (out->public_key, out->secret_key) == 0 ? 0 : -1;
}

bool
onenet_key_valid (const char *text)
{
    if (!text || strlen (text) != ONENET_KEY_SIZE)
        return false;
    uint8_t decoded[32];
    return zmq_z85_decode (decoded, text) != NULL;
}

/* Writes text to path with mode, refusing to replace an existing file. */
static int
write_new_file (const char *path, mode_t mode, const char *text, char *err, size_t err_size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        sdk_set_error (err, err_size, "%s: %s", path,
                       errno == EEXIST ? "exists already: not replaced" : strerror (errno));
        return -1;
    }
    size_t length = strlen (text);
    bool ok = write (fd, text, length) == (ssize_t) length;
    ok = close (fd) == 0 && ok;
    if (!ok)
        sdk_set_error (err, err_size, "%s: cannot write", path);
    return ok ? 0 : -1;
}

int
onenet_keypair_save (const onenet_keypair_t *pair, const char *dir, const char *name, char *err,
                     size_t err_size)
{
    char path[1024], text[512];
    snprintf (path, sizeof path, "%s/%s.key", dir, name);
    snprintf (text, sizeof text,
              "# OneNet CURVE key pair of %s. Secret: readable by its owner only.\n"
              "public = \"%s\";\nsecret = \"%s\";\n",
              name, pair->public_key, pair->secret_key);
    if (write_new_file (path, 0600, text, err, err_size) < 0)
        return -1;
    snprintf (path, sizeof path, "%s/%s.pub", dir, name);
    snprintf (text, sizeof text, "# OneNet CURVE public key of %s.\npublic = \"%s\";\n", name,
              pair->public_key);
    return write_new_file (path, 0644, text, err, err_size);
}

int
onenet_keypair_load (const char *path, onenet_keypair_t *out, char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    onenet_config_t *file = onenet_config_load (path, err, err_size);
    if (!file)
        return -1;
    const char *public_key = NULL, *secret_key = NULL;
    onenet_config_require (file, "public");
    onenet_config_string (file, "public", NULL, &public_key);
    onenet_config_string (file, "secret", "", &secret_key);
    if (public_key && !onenet_key_valid (public_key))
        onenet_config_fail (file, "public", "not a 40-character Z85 CURVE key");
    if (secret_key && *secret_key && !onenet_key_valid (secret_key))
        onenet_config_fail (file, "secret", "not a 40-character Z85 CURVE key");
    struct stat info;
    if (secret_key && *secret_key && stat (path, &info) == 0 && (info.st_mode & 077))
        onenet_config_fail (file, "secret", "the file is readable by others (chmod 600 %s)", path);
    if (onenet_config_finish (file, err, err_size) == 0) {
        snprintf (out->public_key, sizeof out->public_key, "%s", public_key);
        snprintf (out->secret_key, sizeof out->secret_key, "%s", secret_key ? secret_key : "");
        onenet_config_destroy (&file);
        return 0;
    }
    onenet_config_destroy (&file);
    return -1;
}

int
onenet_security_load (onenet_security_t *out, const char *key_file, const char *broker_key,
                      char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    if (onenet_keypair_load (key_file, &out->own, err, err_size) < 0)
        return -1;
    if (!*out->own.secret_key) {
        sdk_set_error (err, err_size, "%s: has no secret key (a .pub file?)", key_file);
        return -1;
    }
    if (!broker_key || !*broker_key) {
        sdk_set_error (err, err_size, "the broker's public key is needed too (ONENET_BROKER_KEY)");
        return -1;
    }
    if (onenet_key_valid (broker_key)) {
        snprintf (out->broker_public_key, sizeof out->broker_public_key, "%s", broker_key);
        return 0;
    }
    onenet_keypair_t broker;
    if (onenet_keypair_load (broker_key, &broker, err, err_size) < 0)
        return -1;
    snprintf (out->broker_public_key, sizeof out->broker_public_key, "%s", broker.public_key);
    return 0;
}

int
onenet_security_from_env (onenet_security_t *out, char *err, size_t err_size)
{
    const char *key_file = getenv ("ONENET_KEY");
    if (!key_file || !*key_file)
        return 0;
    return onenet_security_load (out, key_file, getenv ("ONENET_BROKER_KEY"), err, err_size) == 0 ? 1
                                                                                                : -1;
}
