/*
 * store_sqlite.h - what the reference departments' SQLite stores share:
 * opening a store the way an adapter should, and one read transaction
 * around a lookup of several statements. Compiled into each department
 * adapter (adapters/public_security, social_security, emergency).
 */
#ifndef ONENET_STORE_SQLITE_H
#define ONENET_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>

/* Opens the existing store at path for reading and writing (onenet-seed
 * makes stores; an adapter never creates one). WAL, since the
 * department's own systems may write while the adapter reads; reads
 * through a memory map; a busy timeout. Returns the connection, or NULL
 * with a reason in err. */
sqlite3 *store_sqlite_open (const char *path, char *err, size_t err_size);

/* The SQL of the two statements a read transaction runs: prepare them
 * with the store's own and pass them below. */
#define STORE_SQLITE_BEGIN "BEGIN"
#define STORE_SQLITE_COMMIT "COMMIT"

/* A lookup's statements run in one read transaction: they see one
 * snapshot of the store (a record and its rows as of one moment, never
 * half of an update), and SQLite takes its WAL read lock once instead of
 * once per statement. Returns true when it began one, for
 * store_sqlite_read_end to end; false inside a transaction already, or
 * when BEGIN failed (the statements then run on their own). */
bool store_sqlite_read_begin (sqlite3 *db, sqlite3_stmt *begin);

/* Ends what store_sqlite_read_begin began (nothing when begun is false),
 * also after a statement failed: the connection is never left inside a
 * transaction, which would keep it on an old snapshot for good. */
void store_sqlite_read_end (sqlite3 *db, sqlite3_stmt *commit, bool begun);

#endif
