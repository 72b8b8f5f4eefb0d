/*
 * seg_filter — parse, check and compile audience filters (seg_filter.h).
 *
 * Two passes: seg__parse turns the JSON into a tree of seg_node (every
 * check happens here, so a bad filter is refused before any SQL exists),
 * then seg__emit writes the predicate. The rules that keep it safe:
 *   - the only text copied from a row of seg_fields.def into SQL is its
 *     expression; the only text copied from the request is none at all:
 *     values, LIKE patterns and custom keys become parameters;
 *   - numbers are re-printed from the parsed double ("%.17g"), dates are
 *     checked against the calendar and re-printed in RFC 3339, so a cast
 *     in SQL can never fail on them (a failing cast would be a 500);
 *   - the size limits bound the SQL whatever the input.
 */
#include "core/seg_filter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const seg_field seg__fields[] = {
#define C SEG_CONTACT
#define CA (SEG_CONTACT | SEG_ACCOUNT)
#define SEG_FIELD(id, name, type, ents, label, cat, sql)                      \
  {name, SEG_T_##type, ents, label, cat, sql},
#include "core/seg_fields.def"
#undef SEG_FIELD
#undef C
#undef CA
};

static const char *const seg__op_names[] = {
#define SEG__XX(NAME, name) name,
    SEG_OP_MAP(SEG__XX)
#undef SEG__XX
};

#define B(op) (1u << SEG_OP_##op)
/* The operators of each type. */
static unsigned seg__type_ops(seg_type t) {
  switch (t) {
  case SEG_T_TEXT:
  case SEG_T_CTEXT:
  case SEG_T_LTEXT:
    return B(EQUALS) | B(NOT_EQUALS) | B(IN) | B(NOT_IN) | B(CONTAINS) | B(NOT_CONTAINS) |
           B(STARTS_WITH) | B(ENDS_WITH) | B(IS_EMPTY) | B(IS_NOT_EMPTY);
  case SEG_T_ENUM:
    return B(EQUALS) | B(NOT_EQUALS) | B(IN) | B(NOT_IN) | B(IS_EMPTY) | B(IS_NOT_EMPTY);
  case SEG_T_NUMBER:
  case SEG_T_CNUMBER:
    return B(EQUALS) | B(NOT_EQUALS) | B(IN) | B(NOT_IN) | B(GT) | B(GTE) | B(LT) | B(LTE) |
           B(BETWEEN) | B(IS_EMPTY) | B(IS_NOT_EMPTY);
  case SEG_T_DATE:
  case SEG_T_CDATE:
    return B(BEFORE) | B(AFTER) | B(BETWEEN) | B(WITHIN_LAST_DAYS) | B(WITHIN_NEXT_DAYS) |
           B(IS_EMPTY) | B(IS_NOT_EMPTY);
  case SEG_T_BOOL:
  case SEG_T_CBOOL:
    return B(EQUALS);
  case SEG_T_ARRAY:
    return B(CONTAINS) | B(ANY_OF) | B(ALL_OF) | B(NONE_OF) | B(IS_EMPTY) | B(IS_NOT_EMPTY);
  case SEG_T_MEMBER:
    return B(ANY_OF) | B(ALL_OF) | B(NONE_OF);
  }
  return 0;
}
#undef B

size_t seg_field_count(void) { return sizeof seg__fields / sizeof seg__fields[0]; }
const seg_field *seg_field_at(size_t i) {
  return i < seg_field_count() ? &seg__fields[i] : NULL;
}
const seg_field *seg_field_find(const char *name) {
  for (size_t i = 0; i < seg_field_count(); i++)
    if (strcmp(seg__fields[i].name, name) == 0) return &seg__fields[i];
  return NULL;
}
const char *seg_op_name(seg_op op) { return op < SEG_OP_COUNT ? seg__op_names[op] : "?"; }
bool seg_type_allows(seg_type t, seg_op op) { return (seg__type_ops(t) >> op) & 1u; }

static bool seg__keyed(seg_type t) {
  return t == SEG_T_CTEXT || t == SEG_T_CNUMBER || t == SEG_T_CDATE || t == SEG_T_CBOOL;
}

const char *seg_type_name(seg_type t) {
  switch (t) {
  case SEG_T_TEXT: case SEG_T_CTEXT: case SEG_T_LTEXT: return "text";
  case SEG_T_ENUM: return "enum";
  case SEG_T_NUMBER: case SEG_T_CNUMBER: return "number";
  case SEG_T_DATE: case SEG_T_CDATE: return "date";
  case SEG_T_BOOL: case SEG_T_CBOOL: return "boolean";
  case SEG_T_ARRAY: return "array";
  case SEG_T_MEMBER: return "membership";
  }
  return "?";
}

/* The value each operator takes, for the catalogue and the error details. */
static const char *seg__op_value_doc(seg_op op) {
  switch (op) {
  case SEG_OP_IN: case SEG_OP_NOT_IN: case SEG_OP_ANY_OF: case SEG_OP_ALL_OF:
  case SEG_OP_NONE_OF: return "array of 1 to 1000 values";
  case SEG_OP_BETWEEN: return "array [low, high]";
  case SEG_OP_IS_EMPTY: case SEG_OP_IS_NOT_EMPTY: return "none";
  case SEG_OP_WITHIN_LAST_DAYS: case SEG_OP_WITHIN_NEXT_DAYS: return "whole number of days";
  default: return "one value";
  }
}

cJSON *seg_fields_json(void) {
  cJSON *root = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(root, "fields");
  for (size_t i = 0; i < seg_field_count(); i++) {
    const seg_field *f = &seg__fields[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", f->name);
    cJSON_AddStringToObject(o, "type", seg_type_name(f->type));
    cJSON_AddStringToObject(o, "label", f->label);
    cJSON_AddStringToObject(o, "category", f->category);
    cJSON *ents = cJSON_AddArrayToObject(o, "entities");
    if (f->entities & SEG_CONTACT) cJSON_AddItemToArray(ents, cJSON_CreateString("contact"));
    if (f->entities & SEG_ACCOUNT) cJSON_AddItemToArray(ents, cJSON_CreateString("account"));
    cJSON *ops = cJSON_AddArrayToObject(o, "operators");
    for (int op = 0; op < SEG_OP_COUNT; op++)
      if (seg_type_allows(f->type, (seg_op)op))
        cJSON_AddItemToArray(ops, cJSON_CreateString(seg__op_names[op]));
    cJSON_AddBoolToObject(o, "requiresKey", seg__keyed(f->type));
    cJSON_AddItemToArray(arr, o);
  }
  cJSON *ops = cJSON_AddObjectToObject(root, "operators");
  for (int op = 0; op < SEG_OP_COUNT; op++)
    cJSON_AddStringToObject(ops, seg__op_names[op], seg__op_value_doc((seg_op)op));
  return root;
}

int seg_entity_parse(const char *s, seg_entity *out) {
  if (s && strcmp(s, "contact") == 0) *out = SEG_CONTACT;
  else if (s && strcmp(s, "account") == 0) *out = SEG_ACCOUNT;
  else return PV_EINVAL;
  return 0;
}
const char *seg_entity_name(seg_entity e) { return e == SEG_ACCOUNT ? "account" : "contact"; }

const char *seg_from_sql(seg_entity entity) {
  if (entity == SEG_ACCOUNT)
    return "FROM rm_accounts.accounts a WHERE a.tenant = $1 AND NOT a.deleted AND ";
  /* contact_facts holds live contacts only; the joins are by unique keys,
   * so PostgreSQL removes each one a predicate does not use */
  return "FROM rm_segments.contact_facts f LEFT JOIN rm_contacts.contacts c ON c.tenant ="
         " f.tenant AND c.id = f.id LEFT JOIN rm_accounts.accounts a ON a.tenant = f.tenant"
         " AND a.id = f.account_id AND NOT a.deleted WHERE f.tenant = $1 AND ";
}
const char *seg_id_sql(seg_entity entity) { return entity == SEG_ACCOUNT ? "a.id" : "f.id"; }

void seg_sql_init(seg_sql *q, int first_param) {
  memset(q, 0, sizeof *q);
  pv_buf_init(&q->where, 256);
  q->first = first_param;
}

void seg_sql_release(seg_sql *q) {
  for (size_t i = 0; i < q->nparams; i++) free(q->params[i]);
  free(q->params);
  pv_buf_release(&q->where);
  memset(q, 0, sizeof *q);
}

/* Adds a parameter (taking value) without writing it. */
static void seg__push_param(seg_sql *q, char *value) {
  if (q->nparams == q->cap) {
    q->cap = q->cap ? q->cap * 2 : 8;
    q->params = pv_xrealloc(q->params, q->cap * sizeof *q->params);
  }
  q->params[q->nparams++] = value;
}

/* Adds a parameter (taking value) and writes its $N. */
static void seg__param(seg_sql *q, char *value, const char *cast) {
  pv_buf_addf(&q->where, "$%zu%s", (size_t)q->first + q->nparams, cast ? cast : "");
  seg__push_param(q, value);
}

void seg_like_pattern(pv_buf *out, const char *s, bool any_prefix, bool any_suffix) {
  if (any_prefix) pv_buf_addch(out, '%');
  for (; *s; s++) {
    if (*s == '%' || *s == '_' || *s == '\\') pv_buf_addch(out, '\\');
    pv_buf_addch(out, *s);
  }
  if (any_suffix) pv_buf_addch(out, '%');
}

/* ---- the tree ---------------------------------------------------------- */

typedef enum { SEG_N_AND, SEG_N_OR, SEG_N_NOT, SEG_N_COND } seg_node_kind;

typedef struct seg_node {
  seg_node_kind kind;
  struct seg_node **kids;
  size_t nkids;
  const seg_field *field;
  seg_op op;
  char *key;      /* custom field name */
  char **values;  /* canonical text of each value */
  size_t nvalues;
  bool bool_value;
} seg_node;

static void seg__node_free(seg_node *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nkids; i++) seg__node_free(n->kids[i]);
  free(n->kids);
  for (size_t i = 0; i < n->nvalues; i++) free(n->values[i]);
  free(n->values);
  free(n->key);
  free(n);
}

typedef struct seg_parse {
  seg_entity entity;
  size_t nodes;
  pv_error *err;
} seg_parse;

static int seg__fail(seg_parse *p, int code, const pv_buf *ptr, const char *member,
                     const char *fmt, const char *arg) {
  char field[512];
  snprintf(field, sizeof field, "%s%s%s", ptr->data, member ? "/" : "", member ? member : "");
  return pv_error_set(p->err, code, field, fmt, arg);
}

static bool seg__is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int seg__digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* A date or timestamp as RFC 3339 UTC-or-offset text PostgreSQL reads
 * with no session dependence: YYYY-MM-DD (midnight UTC) or
 * YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|±HH:MM). Returns NULL when invalid. */
static char *seg__date(const char *s) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  size_t len = strlen(s);
  if (len < 10 || s[4] != '-' || s[7] != '-') return NULL;
  int y = seg__digits(s, 4), m = seg__digits(s + 5, 2), d = seg__digits(s + 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1) return NULL;
  int md = mdays[m - 1] + (m == 2 && seg__is_leap(y));
  if (d > md) return NULL;
  if (len == 10) {
    char *out = pv_xmalloc(32);
    snprintf(out, 32, "%.10sT00:00:00Z", s);
    return out;
  }
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return NULL;
  const char *t = s + 11;
  if (strlen(t) < 5 || t[2] != ':') return NULL;
  int hh = seg__digits(t, 2), mi = seg__digits(t + 3, 2);
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59) return NULL;
  t += 5;
  if (*t == ':') {
    int ss = seg__digits(t + 1, 2);
    if (ss < 0 || ss > 59) return NULL;
    t += 3;
    if (*t == '.') {
      t++;
      size_t nd = strspn(t, "0123456789");
      if (nd < 1 || nd > 6) return NULL;
      t += nd;
    }
  }
  if ((*t == 'Z' || *t == 'z') && t[1] == '\0') return pv_xstrdup(s);
  if ((*t == '+' || *t == '-') && strlen(t) == 6 && t[3] == ':') {
    int oh = seg__digits(t + 1, 2), om = seg__digits(t + 4, 2);
    if (oh < 0 || oh > 14 || om < 0 || om > 59) return NULL;
    return pv_xstrdup(s);
  }
  return NULL;
}

/* One scalar value as canonical text for the field's type, or NULL with
 * err set. ptr is the value's pointer. */
static char *seg__scalar(seg_parse *p, const seg_node *n, const cJSON *v, const pv_buf *ptr) {
  char buf[64];
  switch (n->field->type) {
  case SEG_T_NUMBER:
  case SEG_T_CNUMBER:
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
      seg__fail(p, PV_EBADTYPE, ptr, NULL, "a number is expected for \"%s\"", n->field->name);
      return NULL;
    }
    snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
    return pv_xstrdup(buf);
  case SEG_T_DATE:
  case SEG_T_CDATE: {
    char *out = cJSON_IsString(v) ? seg__date(v->valuestring) : NULL;
    if (!out) {
      seg__fail(p, PV_EINVAL, ptr, NULL, "a date is expected for \"%s\"", n->field->name);
      pv_error_detail(p->err, "Dates are YYYY-MM-DD (midnight UTC) or RFC 3339 timestamps "
                              "such as 2025-10-01T09:30:00Z.");
    }
    return out;
  }
  default:
    if (!cJSON_IsString(v)) {
      seg__fail(p, PV_EBADTYPE, ptr, NULL, "a string is expected for \"%s\"", n->field->name);
      return NULL;
    }
    if (strlen(v->valuestring) > SEG_MAX_VALUE_BYTES) {
      seg__fail(p, PV_ETOOBIG, ptr, NULL, "a value of \"%s\" is over 1024 bytes",
                n->field->name);
      return NULL;
    }
    char *out = pv_xstrdup(v->valuestring);
    if (n->field->type == SEG_T_LTEXT)
      for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return out;
  }
}

static void seg__push_value(seg_node *n, char *v) {
  n->values = pv_xrealloc(n->values, (n->nvalues + 1) * sizeof *n->values);
  n->values[n->nvalues++] = v;
}

static int seg__parse_value(seg_parse *p, seg_node *n, const cJSON *obj, pv_buf *ptr) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "value");
  size_t base = ptr->len;
  int rc = 0;
  switch (n->op) {
  case SEG_OP_IS_EMPTY:
  case SEG_OP_IS_NOT_EMPTY:
    return 0;
  case SEG_OP_WITHIN_LAST_DAYS:
  case SEG_OP_WITHIN_NEXT_DAYS: {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > SEG_MAX_DAYS)
      return seg__fail(p, PV_EINVAL, ptr, "value", "\"%s\" takes a whole number of days from 0 "
                       "to 36500", seg_op_name(n->op));
    char buf[16];
    snprintf(buf, sizeof buf, "%d", (int)v->valuedouble);
    seg__push_value(n, pv_xstrdup(buf));
    return 0;
  }
  case SEG_OP_IN: case SEG_OP_NOT_IN: case SEG_OP_ANY_OF: case SEG_OP_ALL_OF:
  case SEG_OP_NONE_OF: case SEG_OP_BETWEEN: {
    bool between = n->op == SEG_OP_BETWEEN;
    if (!cJSON_IsArray(v))
      return seg__fail(p, PV_EBADTYPE, ptr, "value", "\"%s\" takes an array of values",
                       seg_op_name(n->op));
    int count = cJSON_GetArraySize(v);
    if (between ? count != 2 : count < 1)
      return seg__fail(p, PV_EINVAL, ptr, "value", between ? "\"%s\" takes [low, high]"
                       : "\"%s\" takes at least one value", seg_op_name(n->op));
    if (count > SEG_MAX_VALUES)
      return seg__fail(p, PV_ETOOBIG, ptr, "value", "\"%s\" takes at most 1000 values",
                       seg_op_name(n->op));
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
      pv_buf_setlen(ptr, base);
      pv_buf_addf(ptr, "/value/%d", i++);
      char *s = seg__scalar(p, n, it, ptr);
      if (!s) return p->err->code;
      seg__push_value(n, s);
    }
    pv_buf_setlen(ptr, base);
    return 0;
  }
  default:
    break;
  }
  if (n->field->type == SEG_T_BOOL || n->field->type == SEG_T_CBOOL) {
    if (!cJSON_IsBool(v))
      return seg__fail(p, PV_EBADTYPE, ptr, "value", "true or false is expected for \"%s\"",
                       n->field->name);
    n->bool_value = cJSON_IsTrue(v);
    return 0;
  }
  if (!v)
    return seg__fail(p, PV_EINVAL, ptr, "value", "\"%s\" needs a value", seg_op_name(n->op));
  pv_buf_addstr(ptr, "/value");
  char *s = seg__scalar(p, n, v, ptr);
  pv_buf_setlen(ptr, base);
  if (!s) return p->err->code;
  seg__push_value(n, s);
  return rc;
}

static bool seg__key_ok(const char *k) {
  size_t n = strlen(k);
  if (n < 1 || n > SEG_MAX_KEY_BYTES) return false;
  return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int seg__parse_node(seg_parse *p, const cJSON *j, int depth, pv_buf *ptr, seg_node **out);

static int seg__parse_cond(seg_parse *p, const cJSON *j, pv_buf *ptr, seg_node *n) {
  n->kind = SEG_N_COND;
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "field");
  if (!cJSON_IsString(f))
    return seg__fail(p, PV_EINVAL, ptr, "field", "a condition needs a \"field\"%s", "");
  n->field = seg_field_find(f->valuestring);
  if (!n->field || !(n->field->entities & p->entity)) {
    seg__fail(p, PV_EINVAL, ptr, "field", "unknown field \"%.200s\"", f->valuestring);
    pv_error_detail(p->err, "GET /api/segments/fields lists the fields of each entity type.");
    return PV_EINVAL;
  }
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "operator");
  if (!cJSON_IsString(o))
    return seg__fail(p, PV_EINVAL, ptr, "operator", "a condition needs an \"operator\"%s", "");
  int op = -1;
  for (int i = 0; i < SEG_OP_COUNT; i++)
    if (strcmp(seg__op_names[i], o->valuestring) == 0) op = i;
  if (op < 0 || !seg_type_allows(n->field->type, (seg_op)op)) {
    seg__fail(p, PV_EINVAL, ptr, "operator", "operator \"%.64s\" does not apply to this field",
              o->valuestring);
    pv_error_detail(p->err, "Field \"%s\" is of type %s.", n->field->name,
                    seg_type_name(n->field->type));
    return PV_EINVAL;
  }
  n->op = (seg_op)op;
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
  if (seg__keyed(n->field->type)) {
    if (!cJSON_IsString(k) || !seg__key_ok(k->valuestring))
      return seg__fail(p, PV_EINVAL, ptr, "key", "field \"%s\" needs a \"key\": the custom "
                       "field's name (1 to 64 letters, digits, '_', '.', '-')", n->field->name);
    n->key = pv_xstrdup(k->valuestring);
  } else if (k) {
    return seg__fail(p, PV_EINVAL, ptr, "key", "field \"%s\" takes no \"key\"", n->field->name);
  }
  return seg__parse_value(p, n, j, ptr);
}

static int seg__parse_node(seg_parse *p, const cJSON *j, int depth, pv_buf *ptr, seg_node **out) {
  *out = NULL;
  if (!cJSON_IsObject(j))
    return seg__fail(p, PV_EBADTYPE, ptr, NULL, "a filter node is an object%s", "");
  if (++p->nodes > SEG_MAX_NODES)
    return seg__fail(p, PV_ETOOBIG, ptr, NULL, "a filter holds at most 200 nodes%s", "");
  seg_node *n = pv_xcalloc(1, sizeof *n);
  *out = n;
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
  const cJSON *conds = cJSON_GetObjectItemCaseSensitive(j, "conditions");
  if (!op && !conds) return seg__parse_cond(p, j, ptr, n);
  if (depth >= SEG_MAX_DEPTH)
    return seg__fail(p, PV_ETOODEEP, ptr, NULL, "groups nest at most 8 deep%s", "");
  if (!cJSON_IsString(op))
    return seg__fail(p, PV_EINVAL, ptr, "op", "a group needs \"op\": \"and\", \"or\" or "
                     "\"not\"%s", "");
  if (strcmp(op->valuestring, "and") == 0) n->kind = SEG_N_AND;
  else if (strcmp(op->valuestring, "or") == 0) n->kind = SEG_N_OR;
  else if (strcmp(op->valuestring, "not") == 0) n->kind = SEG_N_NOT;
  else
    return seg__fail(p, PV_EINVAL, ptr, "op", "unknown group op \"%.32s\"", op->valuestring);
  if (!cJSON_IsArray(conds))
    return seg__fail(p, PV_EINVAL, ptr, "conditions", "a group needs a \"conditions\" array%s",
                     "");
  size_t base = ptr->len;
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, conds) {
    pv_buf_setlen(ptr, base);
    pv_buf_addf(ptr, "/conditions/%d", i++);
    n->kids = pv_xrealloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
    n->kids[n->nkids] = NULL;
    int rc = seg__parse_node(p, it, depth + 1, ptr, &n->kids[n->nkids]);
    n->nkids++;
    if (rc) return rc;
  }
  pv_buf_setlen(ptr, base);
  return 0;
}

/* ---- SQL --------------------------------------------------------------- */

static const char *seg__cast(seg_type t) {
  switch (t) {
  case SEG_T_NUMBER: case SEG_T_CNUMBER: return "::numeric";
  case SEG_T_DATE: case SEG_T_CDATE: return "::timestamptz";
  default: return "::text";
  }
}

/* Writes the field's expression, its %K as a parameter. */
static void seg__expr(seg_sql *q, const seg_node *n, const char *member_test) {
  pv_buf *w = &q->where;
  pv_buf_addch(w, '(');
  for (const char *s = n->field->sql; *s; s++) {
    if (s[0] == '%' && s[1] == 'K') {
      seg__param(q, pv_xstrdup(n->key), "::text");
      s++;
    } else if (s[0] == '%' && s[1] == 'V') {
      pv_buf_addstr(w, member_test);
      s++;
    } else {
      pv_buf_addch(w, *s);
    }
  }
  pv_buf_addch(w, ')');
}

/* The values as "$a, $b, ..." with the type's cast. */
static void seg__value_list(seg_sql *q, const seg_node *n) {
  for (size_t i = 0; i < n->nvalues; i++) {
    if (i) pv_buf_addstr(&q->where, ", ");
    seg__param(q, pv_xstrdup(n->values[i]), seg__cast(n->field->type));
  }
}

static void seg__like(seg_sql *q, const seg_node *n, bool pre, bool suf, bool negate) {
  pv_buf pat = PV_BUF_INIT;
  seg_like_pattern(&pat, n->values[0], pre, suf);
  pv_buf *w = &q->where;
  pv_buf_addstr(w, "(");
  if (negate) {
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " IS NULL OR ");
  }
  if (n->field->type == SEG_T_LTEXT) {
    /* stored lowercase, and the value was lowercased when parsed */
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, negate ? " NOT LIKE " : " LIKE ");
    seg__param(q, pv_buf_detach(&pat, NULL), "::text");
    pv_buf_addstr(w, " ESCAPE '\\')");
    return;
  }
  /* lower() LIKE lower(): ILIKE lower-cases the pattern again on every
   * row, and a trigram index on lower(column) serves this form */
  pv_buf_addstr(w, "lower");
  seg__expr(q, n, NULL);
  pv_buf_addstr(w, negate ? " NOT LIKE lower(" : " LIKE lower(");
  seg__param(q, pv_buf_detach(&pat, NULL), "::text");
  pv_buf_addstr(w, ") ESCAPE '\\')");
}

static void seg__member(seg_sql *q, const seg_node *n) {
  pv_buf *w = &q->where;
  if (n->op == SEG_OP_ALL_OF) {
    pv_buf_addch(w, '(');
    for (size_t i = 0; i < n->nvalues; i++) {
      if (i) pv_buf_addstr(w, " AND ");
      pv_buf test = PV_BUF_INIT;
      pv_buf_addf(&test, "= $%zu::text", (size_t)q->first + q->nparams);
      seg__expr(q, n, test.data);
      pv_buf_release(&test);
      seg__push_param(q, pv_xstrdup(n->values[i]));
    }
    pv_buf_addch(w, ')');
    return;
  }
  /* IN ($a, $b, ...): numbered ahead, then the parameters added */
  pv_buf test = PV_BUF_INIT;
  pv_buf_addstr(&test, "IN (");
  for (size_t i = 0; i < n->nvalues; i++)
    pv_buf_addf(&test, "%s$%zu::text", i ? ", " : "", (size_t)q->first + q->nparams + i);
  pv_buf_addch(&test, ')');
  if (n->op == SEG_OP_NONE_OF) pv_buf_addstr(w, "NOT ");
  seg__expr(q, n, test.data);
  pv_buf_release(&test);
  for (size_t i = 0; i < n->nvalues; i++) seg__push_param(q, pv_xstrdup(n->values[i]));
}

static void seg__emit_cond(seg_sql *q, const seg_node *n) {
  pv_buf *w = &q->where;
  seg_type t = n->field->type;
  const char *cast = seg__cast(t);
  bool is_text = t == SEG_T_TEXT || t == SEG_T_CTEXT || t == SEG_T_LTEXT || t == SEG_T_ENUM;
  if (t == SEG_T_MEMBER) return seg__member(q, n);
  pv_buf_addch(w, '(');
  switch (n->op) {
  case SEG_OP_EQUALS:
    if (t == SEG_T_BOOL || t == SEG_T_CBOOL) {
      /* boolean expressions are never NULL (seg_fields.def), so the plain
       * expression is used: an EXISTS left bare can become a semi or anti
       * join, where "IS TRUE" would force a subplan per row */
      if (!n->bool_value) pv_buf_addstr(w, "NOT ");
      seg__expr(q, n, NULL);
    } else {
      seg__expr(q, n, NULL);
      pv_buf_addstr(w, " = ");
      seg__param(q, pv_xstrdup(n->values[0]), cast);
    }
    break;
  case SEG_OP_NOT_EQUALS:
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " IS DISTINCT FROM ");
    seg__param(q, pv_xstrdup(n->values[0]), cast);
    break;
  case SEG_OP_IN:
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " IN (");
    seg__value_list(q, n);
    pv_buf_addch(w, ')');
    break;
  case SEG_OP_NOT_IN:
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " IS NULL OR ");
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " NOT IN (");
    seg__value_list(q, n);
    pv_buf_addch(w, ')');
    break;
  case SEG_OP_CONTAINS:
    if (t == SEG_T_ARRAY) {
      seg__param(q, pv_xstrdup(n->values[0]), "::text");
      pv_buf_addstr(w, " = ANY (");
      seg__expr(q, n, NULL);
      pv_buf_addch(w, ')');
    } else {
      seg__like(q, n, true, true, false);
    }
    break;
  case SEG_OP_NOT_CONTAINS: seg__like(q, n, true, true, true); break;
  case SEG_OP_STARTS_WITH: seg__like(q, n, false, true, false); break;
  case SEG_OP_ENDS_WITH: seg__like(q, n, true, false, false); break;
  case SEG_OP_IS_EMPTY:
  case SEG_OP_IS_NOT_EMPTY:
    if (n->op == SEG_OP_IS_NOT_EMPTY) pv_buf_addstr(w, "NOT ");
    if (t == SEG_T_ARRAY) {
      pv_buf_addstr(w, "coalesce(cardinality(");
      seg__expr(q, n, NULL);
      pv_buf_addstr(w, "), 0) = 0");
    } else if (is_text) {
      pv_buf_addstr(w, "coalesce(");
      seg__expr(q, n, NULL);
      pv_buf_addstr(w, ", '') = ''");
    } else {
      seg__expr(q, n, NULL);
      pv_buf_addstr(w, " IS NULL");
    }
    break;
  case SEG_OP_GT: case SEG_OP_GTE: case SEG_OP_LT: case SEG_OP_LTE:
  case SEG_OP_BEFORE: case SEG_OP_AFTER: {
    static const char *const cmp[] = {[SEG_OP_GT] = " > ", [SEG_OP_GTE] = " >= ",
                                      [SEG_OP_LT] = " < ", [SEG_OP_LTE] = " <= ",
                                      [SEG_OP_BEFORE] = " < ", [SEG_OP_AFTER] = " > "};
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, cmp[n->op]);
    seg__param(q, pv_xstrdup(n->values[0]), cast);
    break;
  }
  case SEG_OP_BETWEEN:
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, " BETWEEN ");
    seg__param(q, pv_xstrdup(n->values[0]), cast);
    pv_buf_addstr(w, " AND ");
    seg__param(q, pv_xstrdup(n->values[1]), cast);
    break;
  case SEG_OP_WITHIN_LAST_DAYS:
  case SEG_OP_WITHIN_NEXT_DAYS: {
    bool last = n->op == SEG_OP_WITHIN_LAST_DAYS;
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, last ? " BETWEEN now() - make_interval(days => "
                          : " BETWEEN now() AND now() + make_interval(days => ");
    seg__param(q, pv_xstrdup(n->values[0]), "::int");
    pv_buf_addstr(w, last ? ") AND now()" : ")");
    break;
  }
  case SEG_OP_ANY_OF: case SEG_OP_ALL_OF: case SEG_OP_NONE_OF:
    if (n->op == SEG_OP_NONE_OF) pv_buf_addstr(w, "NOT coalesce(");
    seg__expr(q, n, NULL);
    pv_buf_addstr(w, n->op == SEG_OP_ALL_OF ? " @> ARRAY[" : " && ARRAY[");
    seg__value_list(q, n);
    pv_buf_addstr(w, "]::text[]");
    if (n->op == SEG_OP_NONE_OF) pv_buf_addstr(w, ", false)");
    break;
  case SEG_OP_COUNT:
    break;
  }
  pv_buf_addch(w, ')');
}

static void seg__emit(seg_sql *q, const seg_node *n) {
  pv_buf *w = &q->where;
  if (n->kind == SEG_N_COND) return seg__emit_cond(q, n);
  if (n->nkids == 0) {
    pv_buf_addstr(w, n->kind == SEG_N_AND ? "TRUE" : "FALSE");
    return;
  }
  pv_buf_addstr(w, n->kind == SEG_N_NOT ? "(NOT (" : "(");
  for (size_t i = 0; i < n->nkids; i++) {
    if (i) pv_buf_addstr(w, n->kind == SEG_N_OR ? " OR " : " AND ");
    seg__emit(q, n->kids[i]);
  }
  pv_buf_addstr(w, n->kind == SEG_N_NOT ? "))" : ")");
}

int seg_compile(const cJSON *filter, seg_entity entity, const char *pointer, seg_sql *q,
                pv_error *err) {
  seg_parse p = {entity, 0, err};
  pv_buf ptr = PV_BUF_INIT;
  pv_buf_addstr(&ptr, pointer ? pointer : "");
  seg_node *root = NULL;
  int rc = filter ? seg__parse_node(&p, filter, 0, &ptr, &root)
                  : pv_error_set(err, PV_EINVAL, pointer, "a filter is required");
  if (rc == 0) seg__emit(q, root);
  seg__node_free(root);
  pv_buf_release(&ptr);
  return rc;
}

/* The sample columns of each entity, as one JSON object per row. */
static const char *seg__sample_row(seg_entity ent) {
  if (ent == SEG_ACCOUNT)
    return "json_build_object('id', a.id, 'name', a.name, 'domain', a.domain, 'industry',"
           " a.industry, 'contactCount', a.contact_count)";
  return "json_build_object('id', f.id, 'email', f.email, 'firstName', f.first_name,"
         " 'lastName', f.last_name, 'title', f.title, 'seniority', f.seniority,"
         " 'department', f.department, 'phone', f.phone, 'accountId', f.account_id,"
         " 'accountName', a.name)";
}

/* The counts read the suppression flags contact_facts keeps. */
void seg_preview_sql(pv_buf *out, seg_entity ent, const char *w, int sample) {
  if (ent == SEG_CONTACT)
    pv_buf_addf(out,
                "SELECT json_build_object('entityType', 'contact', 'count', x.n, 'emailable', x.e,"
                " 'callable', x.k, 'sampleIds', coalesce(y.ids, '[]'), 'sample',"
                " coalesce(y.rows, '[]'))::text FROM (SELECT count(*) n, count(*) FILTER (WHERE"
                " f.email IS NOT NULL AND NOT f.email_suppressed) e, count(*) FILTER (WHERE"
                " f.phone IS NOT NULL AND NOT f.phone_suppressed) k %s(%s)) x, LATERAL (SELECT"
                " json_agg(r.id ORDER BY r.id) ids, json_agg(r.j ORDER BY r.id) rows FROM"
                " (SELECT f.id, %s j %s(%s) ORDER BY f.id LIMIT %d) r) y",
                seg_from_sql(ent), w, seg__sample_row(ent), seg_from_sql(ent), w, sample);
  else
    pv_buf_addf(out,
                "SELECT json_build_object('entityType', 'account', 'count', x.n, 'emailable',"
                " NULL, 'callable', NULL, 'sampleIds', coalesce(y.ids, '[]'), 'sample',"
                " coalesce(y.rows, '[]'))::text FROM (SELECT count(*) n %s(%s)) x, LATERAL"
                " (SELECT json_agg(r.id ORDER BY r.id) ids, json_agg(r.j ORDER BY r.id) rows"
                " FROM (SELECT a.id, %s j %s(%s) ORDER BY a.id LIMIT %d) r) y",
                seg_from_sql(ent), w, seg__sample_row(ent), seg_from_sql(ent), w, sample);
}
