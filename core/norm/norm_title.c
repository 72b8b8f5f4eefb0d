/*
 * norm_title — job title to seniority and department by one rule table.
 *
 * A title is folded like a name key (case, accents, NFKC) and split into
 * words at every character that is not a letter or digit, so "Sr." is the
 * word "sr" and "Co-Founder" is "co founder". A rule matches when its
 * pattern's words occur consecutively in the title's words.
 */
#include "core/norm/norm.h"
#include "core/norm/norm_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *norm_seniority_name(norm_seniority s) {
  switch (s) {
#define NORM__XX(name, str) case NORM_SENIORITY_##name: return str;
    NORM_SENIORITY_MAP(NORM__XX)
#undef NORM__XX
  }
  return "unknown";
}

const char *norm_department_name(norm_department d) {
  switch (d) {
#define NORM__XX(name, str) case NORM_DEPARTMENT_##name: return str;
    NORM_DEPARTMENT_MAP(NORM__XX)
#undef NORM__XX
  }
  return "unknown";
}

/*
 * The rule table. One row: RULE(pattern, seniority, department, priority).
 *  - pattern: lowercase ASCII words separated by single spaces, matched as
 *    consecutive whole words ("vp" matches "VP, Sales" but not "VPN").
 *  - seniority / department: the value the rule gives, or `_` when the
 *    rule has no say on that axis.
 *  - priority: rules are tried from the highest priority down (the earlier
 *    row first on a tie). The first matching rule that sets an axis decides
 *    it, and a matching rule consumes its words, so a lower rule cannot
 *    match them again: "product owner" (95) leaves no "owner" for the
 *    owner rule (85), "vice president" (80) no "president" (70), while the
 *    "senior" of "Senior Product Owner" still counts. Priorities order
 *    specificity, not rank.
 * Bands: 90-99 phrases that contain a seniority word but are something
 * else ("account executive", "assistant to"), 80-89 owners, the C-suite
 * and VPs, 60-79 directors, heads and presidents, 50-59 managers, 40
 * senior, 30-39 entry and intern, 10-29 department words (longer phrases
 * higher).
 * Adding a rule is one row; tests/norm/test_norm.c walks titles through it.
 */
#define NORM_TITLE_RULES(RULE)                                                \
  /* phrases that contain C-level or seniority words but are not them */     \
  RULE("executive assistant", ENTRY, OPERATIONS, 95)                          \
  RULE("assistant to", ENTRY, _, 95)                                          \
  RULE("account executive", _, SALES, 95)                                     \
  RULE("product owner", _, PRODUCT, 95)                                       \
  RULE("business partner", _, _, 95)                                          \
  RULE("account manager", MANAGER, SALES, 55)                                 \
  RULE("customer success", _, CUSTOMER_SUCCESS, 25)                           \
  /* owners and the C-suite */                                                \
  RULE("founder", OWNER, EXECUTIVE, 90)                                       \
  RULE("cofounder", OWNER, EXECUTIVE, 90)                                     \
  RULE("owner", OWNER, EXECUTIVE, 85)                                         \
  RULE("ceo", C_LEVEL, EXECUTIVE, 85)                                         \
  RULE("chief executive officer", C_LEVEL, EXECUTIVE, 88)                     \
  RULE("cfo", C_LEVEL, FINANCE, 85)                                           \
  RULE("chief financial officer", C_LEVEL, FINANCE, 88)                       \
  RULE("cto", C_LEVEL, ENGINEERING, 85)                                       \
  RULE("chief technology officer", C_LEVEL, ENGINEERING, 88)                  \
  RULE("cio", C_LEVEL, IT, 85)                                                \
  RULE("chief information officer", C_LEVEL, IT, 88)                          \
  RULE("ciso", C_LEVEL, IT, 85)                                               \
  RULE("chief information security officer", C_LEVEL, IT, 89)                 \
  RULE("cmo", C_LEVEL, MARKETING, 85)                                         \
  RULE("chief marketing officer", C_LEVEL, MARKETING, 88)                     \
  RULE("coo", C_LEVEL, OPERATIONS, 85)                                        \
  RULE("chief operating officer", C_LEVEL, OPERATIONS, 88)                    \
  RULE("cro", C_LEVEL, SALES, 85)                                             \
  RULE("chief revenue officer", C_LEVEL, SALES, 88)                           \
  RULE("chief sales officer", C_LEVEL, SALES, 88)                             \
  RULE("chro", C_LEVEL, HR, 85)                                               \
  RULE("chief people officer", C_LEVEL, HR, 88)                               \
  RULE("chief human resources officer", C_LEVEL, HR, 88)                      \
  RULE("cdo", C_LEVEL, DATA, 85)                                              \
  RULE("chief data officer", C_LEVEL, DATA, 88)                               \
  RULE("chief product officer", C_LEVEL, PRODUCT, 88)                         \
  RULE("chief legal officer", C_LEVEL, LEGAL, 88)                             \
  RULE("general counsel", C_LEVEL, LEGAL, 80)                                 \
  RULE("chief of staff", DIRECTOR, EXECUTIVE, 89)                             \
  RULE("chief", C_LEVEL, _, 80)                                               \
  RULE("executive director", C_LEVEL, EXECUTIVE, 80)                          \
  RULE("managing director", C_LEVEL, EXECUTIVE, 80)                           \
  RULE("president", C_LEVEL, EXECUTIVE, 70)                                   \
  RULE("geschaftsfuhrer", C_LEVEL, EXECUTIVE, 80)                             \
  RULE("directeur general", C_LEVEL, EXECUTIVE, 80)                           \
  /* partners */                                                              \
  RULE("managing partner", PARTNER, EXECUTIVE, 82)                            \
  RULE("partner", PARTNER, _, 30)                                             \
  /* vice presidents */                                                       \
  RULE("vice president", VP, _, 80)                                           \
  RULE("vp", VP, _, 80)                                                       \
  RULE("svp", VP, _, 80)                                                      \
  RULE("evp", VP, _, 80)                                                      \
  RULE("avp", VP, _, 80)                                                      \
  /* directors and heads */                                                   \
  RULE("head of", DIRECTOR, _, 65)                                            \
  RULE("head", DIRECTOR, _, 60)                                               \
  RULE("director", DIRECTOR, _, 60)                                           \
  RULE("directeur", DIRECTOR, _, 60)                                          \
  RULE("leiter", DIRECTOR, _, 60)                                             \
  /* managers and leads */                                                    \
  RULE("manager", MANAGER, _, 50)                                             \
  RULE("mgr", MANAGER, _, 50)                                                 \
  RULE("team lead", MANAGER, _, 50)                                           \
  RULE("supervisor", MANAGER, _, 50)                                          \
  RULE("controller", MANAGER, FINANCE, 50)                                    \
  /* senior individual contributors */                                        \
  RULE("senior", SENIOR, _, 40)                                               \
  RULE("sr", SENIOR, _, 40)                                                   \
  RULE("lead", SENIOR, _, 40)                                                 \
  RULE("principal", SENIOR, _, 40)                                            \
  RULE("staff", SENIOR, _, 35)                                                \
  /* entry level */                                                           \
  RULE("junior", ENTRY, _, 30)                                                \
  RULE("jr", ENTRY, _, 30)                                                    \
  RULE("associate", ENTRY, _, 30)                                             \
  RULE("assistant", ENTRY, _, 30)                                             \
  RULE("coordinator", ENTRY, _, 30)                                           \
  RULE("trainee", ENTRY, _, 30)                                               \
  RULE("graduate", ENTRY, _, 30)                                              \
  RULE("intern", INTERN, _, 32)                                               \
  RULE("internship", INTERN, _, 32)                                           \
  RULE("working student", INTERN, _, 32)                                      \
  /* departments */                                                           \
  RULE("sales", _, SALES, 20)                                                 \
  RULE("business development", _, SALES, 20)                                  \
  RULE("bdr", ENTRY, SALES, 20)                                               \
  RULE("sdr", ENTRY, SALES, 20)                                               \
  RULE("revenue", _, SALES, 15)                                               \
  RULE("account", _, SALES, 10)                                               \
  RULE("marketing", _, MARKETING, 20)                                         \
  RULE("demand gen", _, MARKETING, 20)                                        \
  RULE("demand generation", _, MARKETING, 20)                                 \
  RULE("growth", _, MARKETING, 15)                                            \
  RULE("brand", _, MARKETING, 15)                                             \
  RULE("communications", _, MARKETING, 15)                                    \
  RULE("content", _, MARKETING, 15)                                           \
  RULE("seo", _, MARKETING, 15)                                               \
  RULE("engineering", _, ENGINEERING, 20)                                     \
  RULE("engineer", _, ENGINEERING, 20)                                        \
  RULE("software", _, ENGINEERING, 18)                                        \
  RULE("developer", _, ENGINEERING, 20)                                       \
  RULE("devops", _, ENGINEERING, 20)                                          \
  RULE("architect", _, ENGINEERING, 15)                                       \
  RULE("qa", _, ENGINEERING, 15)                                              \
  RULE("product", _, PRODUCT, 18)                                             \
  RULE("design", _, DESIGN, 18)                                               \
  RULE("designer", _, DESIGN, 20)                                             \
  RULE("ux", _, DESIGN, 20)                                                   \
  RULE("it", _, IT, 20)                                                       \
  RULE("information technology", _, IT, 20)                                   \
  RULE("security", _, IT, 15)                                                 \
  RULE("infrastructure", _, IT, 15)                                           \
  RULE("systems administrator", _, IT, 20)                                    \
  RULE("sysadmin", _, IT, 20)                                                 \
  RULE("helpdesk", _, IT, 20)                                                 \
  RULE("data", _, DATA, 16)                                                   \
  RULE("analytics", _, DATA, 16)                                              \
  RULE("data scientist", _, DATA, 22)                                         \
  RULE("data engineer", _, DATA, 22)                                          \
  RULE("finance", _, FINANCE, 20)                                             \
  RULE("financial", _, FINANCE, 18)                                           \
  RULE("accounting", _, FINANCE, 20)                                          \
  RULE("accountant", _, FINANCE, 20)                                          \
  RULE("treasury", _, FINANCE, 20)                                            \
  RULE("fp a", _, FINANCE, 20)                                                \
  RULE("hr", _, HR, 20)                                                       \
  RULE("human resources", _, HR, 20)                                          \
  RULE("people", _, HR, 15)                                                   \
  RULE("talent", _, HR, 18)                                                   \
  RULE("recruiter", _, HR, 20)                                                \
  RULE("recruiting", _, HR, 20)                                               \
  RULE("payroll", _, HR, 20)                                                  \
  RULE("operations", _, OPERATIONS, 18)                                       \
  RULE("ops", _, OPERATIONS, 18)                                              \
  RULE("supply chain", _, OPERATIONS, 20)                                     \
  RULE("logistics", _, OPERATIONS, 20)                                        \
  RULE("facilities", _, OPERATIONS, 20)                                       \
  RULE("legal", _, LEGAL, 20)                                                 \
  RULE("counsel", _, LEGAL, 20)                                               \
  RULE("attorney", _, LEGAL, 20)                                              \
  RULE("lawyer", _, LEGAL, 20)                                                \
  RULE("compliance", _, LEGAL, 18)                                            \
  RULE("paralegal", ENTRY, LEGAL, 20)                                         \
  RULE("support", _, CUSTOMER_SUCCESS, 15)                                    \
  RULE("customer service", _, CUSTOMER_SUCCESS, 20)                           \
  RULE("customer experience", _, CUSTOMER_SUCCESS, 20)                        \
  RULE("procurement", _, PROCUREMENT, 20)                                     \
  RULE("purchasing", _, PROCUREMENT, 20)                                      \
  RULE("buyer", _, PROCUREMENT, 18)                                           \
  RULE("sourcing", _, PROCUREMENT, 18)

typedef struct title_rule {
  const char *pattern;
  int seniority;  /* norm_seniority or _ */
  int department; /* norm_department or _ */
  int priority;
} title_rule;

/* `_` in a row pastes to NORM_SENIORITY__ / NORM_DEPARTMENT__: no say. */
#define NORM_SENIORITY__ (-1)
#define NORM_DEPARTMENT__ (-1)
static const title_rule title_rules[] = {
#define RULE(pattern, sen, dep, prio)                                         \
  {pattern, NORM_SENIORITY_##sen, NORM_DEPARTMENT_##dep, prio},
    NORM_TITLE_RULES(RULE)
#undef RULE
};
#define RULE_COUNT (sizeof title_rules / sizeof *title_rules)

/* Row numbers of title_rules by priority, highest first, then by row;
 * sorted once (pthread_once) and read-only afterwards. */
static unsigned short rule_order[RULE_COUNT];
static pthread_once_t rule_order_once = PTHREAD_ONCE_INIT;

static int by_priority(const void *a, const void *b) {
  unsigned short x = *(const unsigned short *)a, y = *(const unsigned short *)b;
  if (title_rules[x].priority != title_rules[y].priority)
    return title_rules[y].priority - title_rules[x].priority;
  return (int)x - (int)y;
}

static void rule_order_sort(void) {
  for (size_t i = 0; i < RULE_COUNT; i++) rule_order[i] = (unsigned short)i;
  qsort(rule_order, RULE_COUNT, sizeof *rule_order, by_priority);
}

/* Title words considered; arbitrary, well beyond any real title. */
#define TITLE_MAX_WORDS 48

typedef struct word {
  const char *p;
  size_t len;
  int consumed; /* matched by a rule of higher priority */
} word;

/* Is `pattern` (words separated by single spaces) a run of free words at
 * words[i..]? Returns the number of words it spans, or 0. */
static int match_at(const char *pattern, const word *words, int count, int i) {
  const char *p = pattern;
  for (int j = i; j < count; j++) {
    const char *sp = strchr(p, ' ');
    size_t n = sp ? (size_t)(sp - p) : strlen(p);
    if (words[j].consumed || n != words[j].len || memcmp(p, words[j].p, n) != 0) return 0;
    if (!sp) return j - i + 1;
    p = sp + 1;
  }
  return 0;
}

static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

int norm_title_classify(const char *in, size_t len, norm_title *out, pv_error *err) {
  pv_buf folded = PV_BUF_INIT;
  size_t start, tlen;
  out->seniority = NORM_SENIORITY_UNKNOWN;
  out->department = NORM_DEPARTMENT_UNKNOWN;
  if (len > NORM_TEXT_MAX)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid title: longer than %d bytes",
                        NORM_TEXT_MAX);
  int why = norm__trim(in, len, &start, &tlen);
  if (why == -1) return pv_error_set(err, PV_EINVAL, NULL, "invalid title: not valid UTF-8");
  if (why == -2)
    return pv_error_set(err, PV_EINVAL, NULL, "invalid title: contains a control character");
  if (norm__fold(in + start, tlen, &folded) != 0) {
    pv_buf_release(&folded);
    return pv_error_set(err, PV_EINVAL, NULL, "invalid title: cannot be normalized");
  }

  word words[TITLE_MAX_WORDS];
  int count = 0;
  for (size_t i = 0; i < folded.len && count < TITLE_MAX_WORDS;) {
    while (i < folded.len && !is_word_byte((unsigned char)folded.data[i])) i++;
    size_t b = i;
    while (i < folded.len && is_word_byte((unsigned char)folded.data[i])) i++;
    if (i > b) words[count++] = (word){folded.data + b, i - b, 0};
  }

  pthread_once(&rule_order_once, rule_order_sort);
  int sen_set = 0, dep_set = 0;
  for (size_t r = 0; r < RULE_COUNT; r++) {
    const title_rule *rule = &title_rules[rule_order[r]];
    int hit = 0;
    for (int i = 0; i < count; i++) {
      int n = match_at(rule->pattern, words, count, i);
      for (int j = i; j < i + n; j++) words[j].consumed = 1;
      hit |= n > 0;
    }
    if (!hit) continue;
    if (!sen_set && rule->seniority >= 0) {
      out->seniority = (norm_seniority)rule->seniority;
      sen_set = 1;
    }
    if (!dep_set && rule->department >= 0) {
      out->department = (norm_department)rule->department;
      dep_set = 1;
    }
  }
  pv_buf_release(&folded);
  return 0;
}
