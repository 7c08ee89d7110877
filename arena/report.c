/* Reports of bad pointers (see report.h). */
#include "report.h"

#include "concord.h"
#include "options.h"
#include "os.h"
#include "util.h"

#include <stdatomic.h>

#define CA_BAD_REPORTED 100u /* with CONCORD_ARENA_ABORT_ON_ERROR=0: reported, then counted */

static _Atomic uint64_t ca_bad_count;

static const char *const ca_bad_text[] = {
    [CA_BAD_NOT_OURS] = "not allocated here",
    [CA_BAD_INTERIOR] = "inside an object",
    [CA_BAD_FREED] = "already freed",
    [CA_BAD_NEVER] = "not allocated here (a slot never handed out)",
};

uint64_t ca_invalid_pointer_count(void)
{
    return atomic_load_explicit(&ca_bad_count, memory_order_relaxed);
}

void ca_report_bad(const char *call, const void *p, enum ca_bad_pointer why)
{
    uint64_t n = atomic_fetch_add_explicit(&ca_bad_count, 1, memory_order_relaxed) + 1;
    char mem[24];
    ca_hex_text(mem, (uintptr_t)p);
    if (ca_cfg.abort_on_error) {
        ca_message(call, "(): invalid pointer ", mem, ": ", ca_bad_text[why],
                   "; aborting (CONCORD_ARENA_ABORT_ON_ERROR=0 leaves such pointers alone)", NULL);
        ca_os_abort();
    }
    if (n <= CA_BAD_REPORTED)
        ca_message(call, "(): invalid pointer ", mem, ": ", ca_bad_text[why], "; left alone", NULL);
    if (n == CA_BAD_REPORTED)
        ca_message("further invalid pointers are counted, not reported; the count is given at exit",
                   NULL);
}

void ca_report_bad_summary(void)
{
    uint64_t n = ca_invalid_pointer_count();
    if (n <= CA_BAD_REPORTED) return;
    char mem[24];
    ca_message(ca_u64_text(mem, n),
               " invalid pointers in all were left alone; the first 100 were reported", NULL);
}
