/* libconcordarena.so exports exactly the names of interpose/exports.map,
 * the one export list: every one of them, and nothing else. */
#include "test_util.h"

static const char *lib_path;
static const char *map_path;

#define MAXNAMES 256
static char names[MAXNAMES][64];
static size_t nnames;

/* The names between "global:" and "local:" of the version script, one per
 * "name;", comments skipped. */
static void read_export_list(void)
{
    FILE *f = fopen(map_path, "r");
    assert_non_null(f);
    char line[256];
    int in_global = 0, in_comment = 0;
    while (fgets(line, sizeof(line), f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (in_comment || strncmp(p, "/*", 2) == 0 || *p == '*') {
            in_comment = strstr(p, "*/") == NULL;
            continue;
        }
        if (strncmp(p, "global:", 7) == 0) {
            in_global = 1;
            continue;
        }
        if (strncmp(p, "local:", 6) == 0) break;
        char name[64];
        if (in_global && sscanf(p, "%63[A-Za-z0-9_];", name) == 1) {
            assert_true(nnames < MAXNAMES);
            strcpy(names[nnames++], name);
        }
    }
    fclose(f);
    assert_true(nnames > 40); /* the malloc family, the signal functions, the region API */
}

static void test_exported_symbols(void **state)
{
    (void)state;
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib_path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    read_export_list();
    char line[512];
    int seen[MAXNAMES] = {0};
    int others = 0;
    while (fgets(line, sizeof(line), f)) {
        char addr[64], type[8], name[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) continue;
        if (strcmp(type, "A") == 0) continue; /* version definitions */
        int found = 0;
        for (size_t i = 0; i < nnames; i++)
            if (strcmp(name, names[i]) == 0) seen[i] = found = 1;
        if (!found) {
            print_error("unexpected export: %s", line);
            others++;
        }
    }
    assert_int_equal(pclose(f), 0);
    assert_int_equal(others, 0);
    for (size_t i = 0; i < nnames; i++)
        if (!seen[i]) fail_msg("missing export: %s", names[i]);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_exports LIBRARY EXPORT_MAP\n");
        return 2;
    }
    lib_path = argv[1];
    map_path = argv[2];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exported_symbols)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
