/*
 * stand_in — a stand-in for a Clearbit-style Company API on 127.0.0.1, for
 * the enrichment tests: one thread accepting connections one at a time,
 * reading a request head and answering by the `domain` query value (the
 * text as sent, still percent-encoded):
 *
 *   soft.example     200, naics6Codes ["511210"] (software), sicCode "73"
 *   bank.example     200, sicCode "6021" (financial_services), no NAICS
 *   words.example    200, no codes; category.industry "Hotels, Restaurants
 *                    & Leisure" (hospitality by its words)
 *   vague.example    200, an object the rules cannot place
 *   queued.example   202        unknown.example  404
 *   invalid.example  422        refused.example  401
 *   limited.example  429        broken.example   500
 *   garbage.example  200, a body that is not JSON
 *   shape.example    200, `category` a string (wrong shape)
 *   big.example      200, a 2 MiB body
 *   slow.example     no answer until stand_in_stop
 *   anything else    404
 *
 * It records every request's target and Authorization header.
 */
#ifndef PV_TESTS_STAND_IN_H
#define PV_TESTS_STAND_IN_H

#include <pthread.h>
#include <stdbool.h>

#define STAND_IN_MAX_REQUESTS 32

typedef struct stand_in {
  int fd, port;
  int stop_pipe[2];
  pthread_t thread;
  pthread_mutex_t lock;
  int requests;
  char target[STAND_IN_MAX_REQUESTS][512]; /* "/v2/companies/find?domain=..." */
  char auth[STAND_IN_MAX_REQUESTS][256];   /* the Authorization value, or "" */
} stand_in;

void stand_in_start(stand_in *s);
/* Wakes a held answer, closes the socket, joins the thread. */
void stand_in_stop(stand_in *s);

/* Copies of request i's target and Authorization (asserts it exists). */
void stand_in_request(stand_in *s, int i, char target[512], char auth[256]);
int stand_in_count(stand_in *s);

/* "http://127.0.0.1:PORT" of a port nothing listens on (bound, then
 * closed), for a refused connection. */
void stand_in_closed_url(char *out, size_t cap);

#endif
