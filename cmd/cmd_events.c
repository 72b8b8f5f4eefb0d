/*
 * pivotal events — prints the event catalogue (schema/events.def): a list,
 * or with --markdown the page docs/events.md.
 */
#include "cmd/commands.h"
#include "core/catalog.h"

#include <stdio.h>
#include <string.h>

int cmd_events(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: pivotal events [--markdown]\n\n"
           "Lists the event types of the catalogue; --markdown prints docs/events.md.\n");
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--markdown")) {
    pv_buf md = PV_BUF_INIT;
    cat_markdown(&md);
    fwrite(md.data, 1, md.len, stdout);
    pv_buf_release(&md);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "error: unknown option \"%s\"\n", argv[1]);
    return 2;
  }
  for (size_t i = 0; i < cat_count(); i++) {
    const cat_event *ev = cat_at(i);
    printf("%-32s v%-3u %zu fields  %s\n", ev->type, ev->version, ev->field_count, ev->doc);
  }
  return 0;
}
