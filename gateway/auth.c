/*
 * auth.c - who is calling: bearer tokens, kept in gateway.cfg only as
 * SHA-256 hashes (libsodium), mapped to a user, department and role.
 * The role decides which routes a user may take (server.c's table).
 */
#include <string.h>
#include <sodium.h>
#include "gateway.h"

void
auth_hash_hex (const char *token, char hex[65])
{
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, (const unsigned char *)token, strlen (token));
    sodium_bin2hex (hex, 65, hash, sizeof hash);
}

int
auth_parse_hash (const char *hex, uint8_t out[32])
{
    size_t length = 0;
    if (!hex || strlen (hex) != 64)
        return -1;
    if (sodium_hex2bin (out, 32, hex, 64, NULL, &length, NULL) != 0 || length != 32)
        return -1;
    return 0;
}

const gateway_user_t *
auth_find_user (const gateway_config_t *config, const char *token)
{
    if (!token || !*token)
        return NULL;
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, (const unsigned char *)token, strlen (token));
    const gateway_user_t *found = NULL;
    for (size_t i = 0; i < config->user_count; i++)
        if (sodium_memcmp (hash, config->users[i].token_hash, sizeof hash) == 0)
            found = &config->users[i];
    return found;
}

const char *
auth_role_name (gateway_role_t role)
{
    switch (role) {
    case ROLE_CLERK:
        return "clerk";
    case ROLE_COORDINATOR:
        return "coordinator";
    case ROLE_AUDITOR:
        return "auditor";
    case ROLE_OPERATOR:
        return "operator";
    }
    return "unknown";
}

int
auth_role_from_name (const char *name)
{
    static const gateway_role_t roles[] = {ROLE_CLERK, ROLE_COORDINATOR, ROLE_AUDITOR,
                                           ROLE_OPERATOR};
    for (size_t i = 0; name && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp (name, auth_role_name (roles[i])) == 0)
            return (int)roles[i];
    return -1;
}
