/*
 * Tests of auth_password: hashing and verification at a test cost (allowed
 * only through below_minimum_for_tests) and once at the real cost, the
 * dummy verification, rehash detection, and the worker pool through a real
 * libuv loop: overflow refused with PV_EBUSY, the rest completed.
 */
#include "adapters/auth/auth_password.h"
#include "tests/harness/test.h"

#include <string.h>

/* libsodium's smallest Argon2id cost: fast enough for many cases. */
static const auth_pwcost cheap = {1, 8192, true};
/* Another test cost, to make a cheap hash look old. */
static const auth_pwcost cheap2 = {2, 16384, true};

#define PW "correct horse battery staple"

static void test_hash_and_verify(void) {
  char hash[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), hash, NULL));
  ASSERT(strncmp(hash, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
  ASSERT_OK(auth_password_verify(hash, PW, strlen(PW), NULL));
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_password_verify(hash, "wrong", 5, &err), PV_EUNAUTHORIZED);
  ASSERT_STR_EQ(err.message, "invalid email or password");
  /* a prefix of the password is another password */
  ASSERT_ERR(auth_password_verify(hash, PW, strlen(PW) - 1, NULL), PV_EUNAUTHORIZED);
  /* two hashes of one password differ (salt) and both verify */
  char again[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), again, NULL));
  ASSERT(strcmp(hash, again) != 0);
  ASSERT_OK(auth_password_verify(again, PW, strlen(PW), NULL));
}

static void test_real_cost(void) {
  char hash[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&AUTH_PWCOST_DEFAULT, PW, strlen(PW), hash, NULL));
  ASSERT(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
  ASSERT_OK(auth_password_verify(hash, PW, strlen(PW), NULL));
  ASSERT(!auth_password_needs_rehash(hash, &AUTH_PWCOST_DEFAULT));
}

static void test_cost_below_minimum_refused(void) {
  char hash[AUTH_PWHASH_MAX];
  auth_pwcost weak = cheap;
  weak.below_minimum_for_tests = false;
  ASSERT_ERR(auth_password_hash(&weak, PW, strlen(PW), hash, NULL), PV_EINVAL);
  auth_pwcost weak_mem = {3, 16u << 20, false};
  ASSERT_ERR(auth_pwcost_check(&weak_mem, NULL), PV_EINVAL);
  auth_pwcost strong = {3, 64u << 20, false};
  ASSERT_OK(auth_pwcost_check(&strong, NULL));
  ASSERT_OK(auth_pwcost_check(&AUTH_PWCOST_DEFAULT, NULL));
  auth_pwcost absurd = {0, 8192, true};
  ASSERT_ERR(auth_pwcost_check(&absurd, NULL), PV_EINVAL);
}

static void test_needs_rehash(void) {
  char hash[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), hash, NULL));
  ASSERT(!auth_password_needs_rehash(hash, &cheap));
  ASSERT(auth_password_needs_rehash(hash, &cheap2));
  ASSERT(auth_password_needs_rehash(hash, &AUTH_PWCOST_DEFAULT));
  ASSERT(auth_password_needs_rehash("not a hash", &cheap));
  /* another algorithm (Argon2i) needs a rehash to Argon2id */
  ASSERT(auth_password_needs_rehash(
      "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
      &cheap));
}

static void test_dummy_and_malformed_fail(void) {
  pv_error err = PV_ERROR_INIT;
  ASSERT_ERR(auth_password_verify_dummy(PW, strlen(PW), &err), PV_EUNAUTHORIZED);
  ASSERT_STR_EQ(err.message, "invalid email or password");
  ASSERT_ERR(auth_password_verify_dummy("", 0, NULL), PV_EUNAUTHORIZED);
  ASSERT_ERR(auth_password_verify("$argon2id$garbage", PW, strlen(PW), NULL),
             PV_EUNAUTHORIZED);
  ASSERT_ERR(auth_password_verify(NULL, PW, strlen(PW), NULL), PV_EUNAUTHORIZED);
}

static void test_too_long_password(void) {
  static char longpw[AUTH_PASSWORD_MAX_BYTES + 1];
  memset(longpw, 'x', sizeof longpw);
  char hash[AUTH_PWHASH_MAX];
  ASSERT_ERR(auth_password_hash(&cheap, longpw, sizeof longpw, hash, NULL),
             PV_EINVAL);
  ASSERT_OK(auth_password_hash(&cheap, longpw, AUTH_PASSWORD_MAX_BYTES, hash, NULL));
  ASSERT_OK(auth_password_verify(hash, longpw, AUTH_PASSWORD_MAX_BYTES, NULL));
  ASSERT_ERR(auth_password_verify(hash, longpw, sizeof longpw, NULL),
             PV_EUNAUTHORIZED);
}

/* ---- the pool ----------------------------------------------------------- */

typedef struct tally {
  int delivered, ok, unauthorized, shutdown, other;
  char last_hash[AUTH_PWHASH_MAX];
  auth_pwpool *pool; /* for the close-from-callback case */
} tally;

static void count_result(void *arg, const auth_pwresult *res) {
  tally *t = arg;
  t->delivered++;
  if (res->rc == 0) t->ok++;
  else if (res->rc == PV_EUNAUTHORIZED) t->unauthorized++;
  else if (res->rc == PV_ESHUTDOWN) t->shutdown++;
  else t->other++;
  strcpy(t->last_hash, res->hash);
}

static void run_until(uv_loop_t *loop, const tally *t, int delivered) {
  while (t->delivered < delivered) uv_run(loop, UV_RUN_ONCE);
}

static void close_pool(uv_loop_t *loop, auth_pwpool *pool) {
  auth_pwpool_close(pool);
  uv_run(loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(loop));
}

static void test_pool_overflow_is_busy(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config cfg = {.threads = 2, .capacity = 4, .cost = cheap};
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &pool, NULL));
  char hash[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), hash, NULL));

  tally t = {0};
  int accepted = 0, busy = 0;
  for (int i = 0; i < 10; i++) {
    int rc = auth_pwpool_verify(pool, hash, PW, strlen(PW), count_result, &t);
    if (rc == 0) accepted++;
    else if (rc == PV_EBUSY) busy++;
  }
  /* held jobs only fall when the loop delivers them, so the cut is exact */
  ASSERT_EQ(accepted, 4);
  ASSERT_EQ(busy, 6);
  ASSERT_EQ(auth_pwpool_pending(pool), 4);
  run_until(&loop, &t, 4);
  ASSERT_EQ(t.ok, 4);
  ASSERT_EQ(t.other + t.unauthorized + t.shutdown, 0);
  ASSERT_EQ(auth_pwpool_pending(pool), 0);
  /* room again */
  ASSERT_OK(auth_pwpool_verify(pool, hash, "wrong", 5, count_result, &t));
  run_until(&loop, &t, 5);
  ASSERT_EQ(t.unauthorized, 1);
  close_pool(&loop, pool);
}

static void test_pool_many_jobs_complete(void) {
  /* more jobs than workers, submitted in waves as room frees up */
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config cfg = {.threads = 2, .capacity = 8, .cost = cheap};
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &pool, NULL));
  char hash[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), hash, NULL));
  tally t = {0};
  int submitted = 0;
  while (submitted < 40) {
    int rc = auth_pwpool_verify(pool, hash, PW, strlen(PW), count_result, &t);
    if (rc == 0) submitted++;
    else {
      ASSERT_ERR(rc, PV_EBUSY);
      uv_run(&loop, UV_RUN_ONCE);
    }
  }
  run_until(&loop, &t, 40);
  ASSERT_EQ(t.ok, 40);
  close_pool(&loop, pool);
}

static void test_pool_hash_unknown_user_and_rehash(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config cfg = {.cost = cheap2}; /* default threads and capacity */
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &pool, NULL));
  tally t = {0};

  ASSERT_OK(auth_pwpool_hash(pool, PW, strlen(PW), count_result, &t));
  run_until(&loop, &t, 1);
  ASSERT_EQ(t.ok, 1);
  ASSERT_OK(auth_password_verify(t.last_hash, PW, strlen(PW), NULL));
  ASSERT(!auth_password_needs_rehash(t.last_hash, &cheap2));

  /* an unknown user: a dummy verification that fails, whatever the password */
  ASSERT_OK(auth_pwpool_verify(pool, NULL, PW, strlen(PW), count_result, &t));
  run_until(&loop, &t, 2);
  ASSERT_EQ(t.unauthorized, 1);
  ASSERT_STR_EQ(t.last_hash, "");

  /* a match at an old cost comes back with a new hash at the pool's cost */
  char old[AUTH_PWHASH_MAX];
  ASSERT_OK(auth_password_hash(&cheap, PW, strlen(PW), old, NULL));
  ASSERT_OK(auth_pwpool_verify(pool, old, PW, strlen(PW), count_result, &t));
  run_until(&loop, &t, 3);
  ASSERT_EQ(t.ok, 2);
  ASSERT(strncmp(t.last_hash, "$argon2id$v=19$m=16,t=2,p=1$", 28) == 0);
  ASSERT_OK(auth_password_verify(t.last_hash, PW, strlen(PW), NULL));

  /* a wrong password at an old cost is not rehashed */
  ASSERT_OK(auth_pwpool_verify(pool, old, "nope", 4, count_result, &t));
  run_until(&loop, &t, 4);
  ASSERT_EQ(t.unauthorized, 2);
  ASSERT_STR_EQ(t.last_hash, "");

  /* too long: refused for hashing, a plain failure for verifying */
  static char longpw[AUTH_PASSWORD_MAX_BYTES + 1];
  memset(longpw, 'x', sizeof longpw);
  ASSERT_ERR(auth_pwpool_hash(pool, longpw, sizeof longpw, count_result, &t),
             PV_EINVAL);
  ASSERT_OK(auth_pwpool_verify(pool, old, longpw, sizeof longpw, count_result, &t));
  run_until(&loop, &t, 5);
  ASSERT_EQ(t.unauthorized, 3);
  close_pool(&loop, pool);
}

static void test_pool_default_cost_dummy(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config cfg = {.threads = 1, .capacity = 2, .cost = AUTH_PWCOST_DEFAULT};
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &pool, NULL));
  tally t = {0};
  ASSERT_OK(auth_pwpool_verify(pool, NULL, PW, strlen(PW), count_result, &t));
  run_until(&loop, &t, 1);
  ASSERT_EQ(t.unauthorized, 1);
  close_pool(&loop, pool);
}

static void test_pool_close_answers_everything(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config cfg = {.threads = 1, .capacity = 16, .cost = cheap2};
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &pool, NULL));
  tally t = {0};
  for (int i = 0; i < 16; i++)
    ASSERT_OK(auth_pwpool_hash(pool, PW, strlen(PW), count_result, &t));
  auth_pwpool_close(pool);
  /* every callback ran before close returned: done, or cancelled */
  ASSERT_EQ(t.delivered, 16);
  ASSERT_EQ(t.ok + t.shutdown, 16);
  ASSERT_ERR(auth_pwpool_hash(pool, PW, strlen(PW), count_result, &t), PV_ESHUTDOWN);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
}

static void close_from_callback(void *arg, const auth_pwresult *res) {
  tally *t = arg;
  count_result(arg, res);
  if (t->delivered == 1) auth_pwpool_close(t->pool);
}

static void test_pool_close_from_callback(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool_config cfg = {.threads = 2, .capacity = 8, .cost = cheap};
  tally t = {0};
  ASSERT_OK(auth_pwpool_new(&loop, &cfg, &t.pool, NULL));
  for (int i = 0; i < 8; i++)
    ASSERT_OK(auth_pwpool_hash(t.pool, PW, strlen(PW), close_from_callback, &t));
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the pool's handle closed */
  ASSERT_EQ(t.delivered, 8);
  ASSERT_OK(uv_loop_close(&loop));
}

static void test_pool_bad_config(void) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  auth_pwpool *pool = NULL;
  auth_pwpool_config weak = {.cost = {1, 8192, false}};
  ASSERT_ERR(auth_pwpool_new(&loop, &weak, &pool, NULL), PV_EINVAL);
  auth_pwpool_config many = {.threads = 1000, .cost = cheap};
  ASSERT_ERR(auth_pwpool_new(&loop, &many, &pool, NULL), PV_EINVAL);
  ASSERT(pool == NULL);
  ASSERT_OK(uv_loop_close(&loop));
}

TEST_MAIN(TEST(test_hash_and_verify), TEST(test_real_cost),
          TEST(test_cost_below_minimum_refused), TEST(test_needs_rehash),
          TEST(test_dummy_and_malformed_fail), TEST(test_too_long_password),
          TEST(test_pool_overflow_is_busy), TEST(test_pool_many_jobs_complete),
          TEST(test_pool_hash_unknown_user_and_rehash),
          TEST(test_pool_default_cost_dummy),
          TEST(test_pool_close_answers_everything),
          TEST(test_pool_close_from_callback), TEST(test_pool_bad_config))
