/* A libpq program driven by the integration tests: parameterised query with binary results,
 * a pipeline of prepared executions, and an error round trip, through custos.
 * Usage: libpq_client "<conninfo>"   (exit 0 and prints "ok" on success) */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(PGconn* c, const char* what) {
  fprintf(stderr, "%s: %s\n", what, PQerrorMessage(c));
  PQfinish(c);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s conninfo\n", argv[0]);
    return 2;
  }
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) return fail(c, "connect");

  /* Binary result of an int4 parameter round trip. */
  const char* params[1] = {"20"};
  PGresult* r = PQexecParams(c, "select $1::int4 + 22", 1, NULL, params, NULL, NULL, 1);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return fail(c, "execParams");
  uint32_t v;
  memcpy(&v, PQgetvalue(r, 0, 0), 4);
  if (ntohl(v) != 42) {
    fprintf(stderr, "binary value %u != 42\n", ntohl(v));
    return 1;
  }
  PQclear(r);

  /* Named prepared statement executed several times. */
  r = PQprepare(c, "twice", "select $1::text || $1::text", 1, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) return fail(c, "prepare");
  PQclear(r);
  for (int i = 0; i < 5; ++i) {
    const char* p[1] = {"ab"};
    r = PQexecPrepared(c, "twice", 1, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "abab") != 0)
      return fail(c, "execPrepared");
    PQclear(r);
  }

  /* An error, then the session goes on. */
  r = PQexec(c, "select * from no_such_table_xyz");
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (PQresultStatus(r) != PGRES_FATAL_ERROR || !state || strcmp(state, "42P01") != 0) {
    fprintf(stderr, "expected 42P01, got %s\n", state ? state : "(none)");
    return 1;
  }
  PQclear(r);
  r = PQexec(c, "select 'still-alive'");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return fail(c, "after error");
  PQclear(r);
  PQfinish(c);
  puts("ok");
  return 0;
}
