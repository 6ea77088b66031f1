/* Runs each statement with binary results (PQexecParams, resultFormat 1) over one libpq
 * connection and prints one JSON line per statement:
 *   {"ok":true,"columns":[{"name":"id","type":23,"format":1},...],"rows":[[1,"Ada",...],...]}
 *   {"ok":false,"sqlstate":"0A000","message":"..."}
 * Binary values decoded: int2/int4/int8 as numbers, text-like types (text, varchar, bpchar, name,
 * unknown) as strings; anything else as a "\\x..." hex string. NULL is null. A text-format
 * column (format 0) is printed as a string.
 * Usage: libpq_binary "<conninfo>" "<sql>"...   (exit 1 only if the connection fails) */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void json_string(const char* s, int len) {
  putchar('"');
  for (int i = 0; i < len; ++i) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      printf("\\%c", ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      printf("\\u%04x", ch);
    } else {
      putchar(ch);
    }
  }
  putchar('"');
}

static int text_like(Oid t) { return t == 25 || t == 1043 || t == 1042 || t == 19 || t == 705; }

static void value(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) {
    fputs("null", stdout);
    return;
  }
  const char* v = PQgetvalue(r, row, col);
  int len = PQgetlength(r, row, col);
  Oid t = PQftype(r, col);
  if (PQfformat(r, col) == 0 || text_like(t)) {
    json_string(v, len);
  } else if (t == 21 && len == 2) {
    uint16_t x;
    memcpy(&x, v, 2);
    printf("%d", (int16_t)ntohs(x));
  } else if (t == 23 && len == 4) {
    uint32_t x;
    memcpy(&x, v, 4);
    printf("%d", (int32_t)ntohl(x));
  } else if (t == 20 && len == 8) {
    uint32_t hi, lo;
    memcpy(&hi, v, 4);
    memcpy(&lo, v + 4, 4);
    printf("%lld", (long long)(int64_t)(((uint64_t)ntohl(hi) << 32) | ntohl(lo)));
  } else {
    fputs("\"\\\\x", stdout);
    for (int i = 0; i < len; ++i) printf("%02x", (unsigned char)v[i]);
    putchar('"');
  }
}

static void report(const PGresult* r, PGconn* c) {
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char* msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg) msg = PQerrorMessage(c);
    fputs("{\"ok\":false,\"sqlstate\":", stdout);
    json_string(state ? state : "", state ? (int)strlen(state) : 0);
    fputs(",\"message\":", stdout);
    json_string(msg, (int)strlen(msg));
    puts("}");
    return;
  }
  fputs("{\"ok\":true,\"columns\":[", stdout);
  for (int j = 0; j < PQnfields(r); ++j) {
    const char* name = PQfname(r, j);
    fputs(j ? ",{\"name\":" : "{\"name\":", stdout);
    json_string(name, (int)strlen(name));
    printf(",\"type\":%u,\"format\":%d}", PQftype(r, j), PQfformat(r, j));
  }
  fputs("],\"rows\":[", stdout);
  for (int i = 0; i < PQntuples(r); ++i) {
    fputs(i ? ",[" : "[", stdout);
    for (int j = 0; j < PQnfields(r); ++j) {
      if (j) putchar(',');
      value(r, i, j);
    }
    putchar(']');
  }
  puts("]}");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s conninfo sql...\n", argv[0]);
    return 2;
  }
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(c));
    PQfinish(c);
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    PGresult* r = PQexecParams(c, argv[i], 0, NULL, NULL, NULL, NULL, 1 /* binary results */);
    report(r, c);
    PQclear(r);
    fflush(stdout);
  }
  PQfinish(c);
  return 0;
}
