/*
 * seed_store.c - the SQLite side of onenet-seed: each department store is
 * built in a temporary file, in one transaction with prepared statements,
 * indexed after the bulk load, switched to WAL, then renamed over the old
 * one, so a reader never sees a half-written store.
 *
 * Any failure here is fatal (seed_die): a generator that fails is simply
 * run again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "seed.h"

static void
exec_sql (store_t *store, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec (store->db, sql, NULL, NULL, &err) != SQLITE_OK)
        seed_die ("%s: %s", store->temp_path, err ? err : "unknown error");
}

static sqlite3_stmt *
prepare (store_t *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        seed_die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    return stmt;
}

void
seed_bind_text (sqlite3_stmt *stmt, int column, const char *text)
{
    sqlite3_bind_text (stmt, column, text, -1, SQLITE_STATIC);
}

void
seed_bind_int (sqlite3_stmt *stmt, int column, int64_t value)
{
    sqlite3_bind_int64 (stmt, column, value);
}

void
seed_store_step (store_t *store, sqlite3_stmt *stmt)
{
    if (sqlite3_step (stmt) != SQLITE_DONE)
        seed_die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    sqlite3_reset (stmt);
}

static void
remove_file (const char *path)
{
    if (unlink (path) < 0 && errno != ENOENT)
        seed_die ("cannot remove %s: %s", path, strerror (errno));
}

void
seed_store_open (store_t *store, const char *dir, const store_schema_t *schema)
{
    store->schema = schema;
    snprintf (store->path, sizeof store->path, "%s/%s", dir, schema->file);
    snprintf (store->temp_path, sizeof store->temp_path, "%s.tmp", store->path);
    remove_file (store->temp_path);
    if (sqlite3_open_v2 (store->temp_path, &store->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK)
        seed_die ("cannot create %s: %s", store->temp_path, sqlite3_errmsg (store->db));
    /* A generator that fails is simply run again: no journal, no fsync. */
    exec_sql (store, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                     "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;");
    exec_sql (store, schema->tables);
    exec_sql (store, "BEGIN");
    for (size_t i = 0; i < SEED_STORE_INSERTS && schema->inserts[i]; i++)
        store->insert[i] = prepare (store, schema->inserts[i]);
}

void
seed_store_close (store_t *store)
{
    for (size_t i = 0; i < SEED_STORE_INSERTS; i++)
        sqlite3_finalize (store->insert[i]);
    exec_sql (store, store->schema->indexes);
    exec_sql (store, "COMMIT");
    exec_sql (store, "PRAGMA journal_mode = WAL");
    if (sqlite3_close (store->db) != SQLITE_OK)
        seed_die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    char side[1100];
    snprintf (side, sizeof side, "%s-wal", store->path);
    remove_file (side);
    snprintf (side, sizeof side, "%s-shm", store->path);
    remove_file (side);
    if (rename (store->temp_path, store->path) < 0)
        seed_die ("cannot rename %s to %s: %s", store->temp_path, store->path, strerror (errno));
}
