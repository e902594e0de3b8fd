/*
 * store_sqlite.c - opening a department store and reading it in one
 * transaction (see store_sqlite.h).
 */
#include <stdio.h>
#include "store_sqlite.h"

/* Address space for memory-mapped reads. A lookup touches a few pages of
 * a store far larger than SQLite's page cache; each miss would cost a
 * pread(2), mapped it is a read of the kernel's page cache. A store
 * larger than this is read through pread(2) past it. */
#define MMAP_SIZE "268435456"
#define BUSY_TIMEOUT_MS 2000

sqlite3 *
store_sqlite_open (const char *path, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf (err, err_size, "cannot open %s: %s (create it with onenet-seed)", path,
                  db ? sqlite3_errmsg (db) : "out of memory");
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
    char *message = NULL;
    if (sqlite3_exec (db, "PRAGMA journal_mode = WAL; PRAGMA mmap_size = " MMAP_SIZE, NULL, NULL,
                      &message)
        != SQLITE_OK) {
        snprintf (err, err_size, "%s: %s", path, message ? message : "cannot enable WAL");
        sqlite3_free (message);
        sqlite3_close (db);
        return NULL;
    }
    return db;
}

bool
store_sqlite_read_begin (sqlite3 *db, sqlite3_stmt *begin)
{
    if (!sqlite3_get_autocommit (db))
        return false;
    bool begun = sqlite3_step (begin) == SQLITE_DONE;
    sqlite3_reset (begin);
    return begun;
}

void
store_sqlite_read_end (sqlite3 *db, sqlite3_stmt *commit, bool begun)
{
    if (!begun)
        return;
    sqlite3_step (commit);
    sqlite3_reset (commit);
    if (!sqlite3_get_autocommit (db))   /* a read's COMMIT does not fail; never stay inside */
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
}
