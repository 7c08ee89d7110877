/* Uses the region API and says which library its malloc comes from. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kv_arena.h>

int main(void)
{
    kv_arena_t *r = kv_arena_create(0);
    if (!r) return 1;
    for (int i = 0; i < 1000; i++) {
        char *p = kv_arena_alloc(r, 40);
        if (!p) return 1;
        memset(p, i, 40);
    }
    kv_arena_stats_t s;
    if (kv_arena_get_stats(r, &s) != 0) return 1;
    kv_arena_destroy(r);

    void *m = malloc(100);
    Dl_info info;
    const char *from = "?";
    if (dladdr(m ? (void *)&malloc : NULL, &info) && info.dli_fname) from = info.dli_fname;
    free(m);
    printf("region ok; malloc from %s\n", from);
    return 0;
}
