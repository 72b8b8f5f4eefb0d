/*
 * docs/api/openapi.yaml against the route table (routes.def): every route
 * is described with its method and x-roles, and the file describes nothing
 * else. Parsed with libyaml (Debian's libyaml-dev).
 *
 * argv: none; OPENAPI_YAML names the file (meson sets it).
 */
#include "adapters/http/http.h"
#include "tests/harness/test.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *const role_names[] = {"admin", "campaign_manager", "data_ops",
                                         "qa_analyst", "agent", "client_user"};

static const char *scalar(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in mapping node m, or NULL. */
static yaml_node_t *lookup(yaml_document_t *d, yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(yaml_document_get_node(d, p->key));
    if (k && strcmp(k, key) == 0) return yaml_document_get_node(d, p->value);
  }
  return NULL;
}

/* "/users/:id" → "/users/{id}" */
static void openapi_path(const char *route, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = route; *p && o + 3 < cap;) {
    if (*p == ':') {
      out[o++] = '{';
      p++;
      while (*p && *p != '/' && o + 2 < cap) out[o++] = *p++;
      out[o++] = '}';
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

static int method_of(const char *name) {
  static const char *const names[] = {"", "get", "head", "post", "put", "patch", "delete",
                                      "options"};
  for (int i = 1; i < 8; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return 0;
}

static void load(yaml_document_t *doc) {
  const char *file = getenv("OPENAPI_YAML");
  ASSERT(file != NULL);
  FILE *f = fopen(file, "rb");
  if (!f) test__fail(__FILE__, __LINE__, "cannot open %s", file);
  yaml_parser_t parser;
  ASSERT(yaml_parser_initialize(&parser));
  yaml_parser_set_input_file(&parser, f);
  if (!yaml_parser_load(&parser, doc))
    test__fail(__FILE__, __LINE__, "%s: YAML error at line %zu: %s", file,
               parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
  yaml_parser_delete(&parser);
  fclose(f);
}

static void test_openapi_matches_route_table(void) {
  yaml_document_t doc;
  load(&doc);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  const char *version = scalar(lookup(&doc, root, "openapi"));
  ASSERT(version && strncmp(version, "3.1", 3) == 0);
  yaml_node_t *paths = lookup(&doc, root, "paths");
  ASSERT(paths && paths->type == YAML_MAPPING_NODE);
  int problems = 0;
  size_t described = 0;
  /* every operation in the file is a route with the same roles */
  for (yaml_node_pair_t *p = paths->data.mapping.pairs.start; p < paths->data.mapping.pairs.top;
       p++) {
    const char *path = scalar(yaml_document_get_node(&doc, p->key));
    yaml_node_t *item = yaml_document_get_node(&doc, p->value);
    ASSERT(path && item && item->type == YAML_MAPPING_NODE);
    for (yaml_node_pair_t *q = item->data.mapping.pairs.start;
         q < item->data.mapping.pairs.top; q++) {
      const char *key = scalar(yaml_document_get_node(&doc, q->key));
      int method = method_of(key);
      if (!method) continue; /* parameters, summary... */
      described++;
      const http_route *route = NULL;
      for (size_t i = 0; i < http_routes_count; i++) {
        char op[256];
        openapi_path(http_routes[i].path, op, sizeof op);
        if (http_routes[i].method == method && strcmp(op, path) == 0) route = &http_routes[i];
      }
      if (!route) {
        fprintf(stderr, "# %s %s is in openapi.yaml but not in routes.def\n", key, path);
        problems++;
        continue;
      }
      yaml_node_t *roles = lookup(&doc, yaml_document_get_node(&doc, q->value), "x-roles");
      if (!roles || roles->type != YAML_SEQUENCE_NODE) {
        fprintf(stderr, "# %s %s has no x-roles list\n", key, path);
        problems++;
        continue;
      }
      http_roles mask = 0;
      for (yaml_node_item_t *it = roles->data.sequence.items.start;
           it < roles->data.sequence.items.top; it++) {
        const char *name = scalar(yaml_document_get_node(&doc, *it));
        http_roles bit = 0;
        if (name && strcmp(name, "public") == 0) bit = HTTP_PUBLIC;
        for (int r = 0; r < 6; r++)
          if (name && strcmp(name, role_names[r]) == 0) bit = 1u << r;
        if (!bit) {
          fprintf(stderr, "# %s %s: unknown role \"%s\"\n", key, path, name ? name : "?");
          problems++;
        }
        mask |= bit;
      }
      http_roles want = route->roles & HTTP_PUBLIC ? HTTP_PUBLIC : route->roles;
      if (mask != want) {
        fprintf(stderr, "# %s %s: x-roles 0x%x, routes.def 0x%x\n", key, path, mask, want);
        problems++;
      }
    }
  }
  /* every route is in the file */
  for (size_t i = 0; i < http_routes_count; i++) {
    char op[256], method[16];
    openapi_path(http_routes[i].path, op, sizeof op);
    snprintf(method, sizeof method, "%s", http_method_name(http_routes[i].method));
    for (char *c = method; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!lookup(&doc, lookup(&doc, paths, op), method)) {
      fprintf(stderr, "# %s %s is in routes.def but not in openapi.yaml\n", method, op);
      problems++;
    }
  }
  ASSERT_EQ(problems, 0);
  ASSERT_EQ(described, http_routes_count);
  yaml_document_delete(&doc);
}

/* Every operation answers problem+json for its errors (a response marked
 * x-not-problem documents its own body, as /readyz's 503 does). */
static void test_openapi_errors_are_problems(void) {
  yaml_document_t doc;
  load(&doc);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  yaml_node_t *problem = lookup(&doc, lookup(&doc, lookup(&doc, root, "components"),
                                             "responses"), "Problem");
  ASSERT(lookup(&doc, lookup(&doc, problem, "content"), "application/problem+json") != NULL);
  yaml_node_t *paths = lookup(&doc, root, "paths");
  int problems = 0;
  for (yaml_node_pair_t *p = paths->data.mapping.pairs.start; p < paths->data.mapping.pairs.top;
       p++) {
    yaml_node_t *item = yaml_document_get_node(&doc, p->value);
    for (yaml_node_pair_t *q = item->data.mapping.pairs.start;
         q < item->data.mapping.pairs.top; q++) {
      if (!method_of(scalar(yaml_document_get_node(&doc, q->key)))) continue;
      yaml_node_t *responses = lookup(&doc, yaml_document_get_node(&doc, q->value), "responses");
      if (!responses || responses->type != YAML_MAPPING_NODE) {
        problems++;
        continue;
      }
      for (yaml_node_pair_t *r = responses->data.mapping.pairs.start;
           r < responses->data.mapping.pairs.top; r++) {
        const char *code = scalar(yaml_document_get_node(&doc, r->key));
        if (!code || code[0] < '4') continue;
        yaml_node_t *resp = yaml_document_get_node(&doc, r->value);
        const char *ref = scalar(lookup(&doc, resp, "$ref"));
        const char *exempt = scalar(lookup(&doc, resp, "x-not-problem"));
        bool ok = (ref && strcmp(ref, "#/components/responses/Problem") == 0) ||
                  lookup(&doc, lookup(&doc, resp, "content"), "application/problem+json") ||
                  (exempt && strcmp(exempt, "true") == 0);
        if (!ok) {
          fprintf(stderr, "# %s %s: %s is not problem+json\n",
                  scalar(yaml_document_get_node(&doc, q->key)),
                  scalar(yaml_document_get_node(&doc, p->key)), code);
          problems++;
        }
      }
    }
  }
  ASSERT_EQ(problems, 0);
  yaml_document_delete(&doc);
}

TEST_MAIN(TEST(test_openapi_matches_route_table), TEST(test_openapi_errors_are_problems))
