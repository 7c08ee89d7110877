/*
 * Real programs under LD_PRELOAD=libconcordarena.so give the same output as
 * without it, and the library really served them: every process dumps its
 * statistics as JSON at exit into one file, and those dumps count allocations.
 *
 * usage: test_programs LIBRARY SOURCE_DIR
 */
#include "test_util.h"

#include <sys/stat.h>

static const char *lib_path;
static const char *source_dir;
static char work_dir[256];

static const char python_script[] =
    "import json, re, collections, decimal, fractions, itertools, hashlib, random\n"
    "import textwrap, difflib, csv, io, statistics, xml.etree.ElementTree as ET\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "random.seed(7)\n"
    "words = [''.join(random.choice('abcdefgh') for _ in range(random.randint(1, 9)))\n"
    "         for _ in range(60000)]\n"
    "c = collections.Counter(words)\n"
    "print(c.most_common(5))\n"
    "doc = {'items': [{'w': w, 'n': i, 'f': i / 7} for i, w in enumerate(words[:20000])]}\n"
    "s = json.dumps(doc, sort_keys=True)\n"
    "print(hashlib.sha256(s.encode()).hexdigest(), len(json.loads(s)['items']))\n"
    "print(len(re.findall(r'a+b*c', ' '.join(words))))\n"
    "decimal.getcontext().prec = 60\n"
    "print(sum(decimal.Decimal(1) / decimal.Decimal(k) for k in range(1, 3000)))\n"
    "print(sum(fractions.Fraction(1, k) for k in range(1, 300)).denominator % 1000003)\n"
    "print(sum(1 for _ in itertools.permutations(range(8))))\n"
    "print(textwrap.fill(' '.join(words[:200]), 50).count('\\n'))\n"
    "a, b = words[:3000], sorted(words[:3000])\n"
    "print(sum(1 for l in difflib.unified_diff(a, b, lineterm='')))\n"
    "buf = io.StringIO()\n"
    "csv.writer(buf).writerows([[w, len(w)] for w in words[:5000]])\n"
    "print(len(buf.getvalue()), statistics.mean(len(w) for w in words))\n"
    "root = ET.Element('r')\n"
    "for w in words[:5000]: ET.SubElement(root, 'w', n=w).text = w * 2\n"
    "print(len(ET.tostring(root)))\n"
    "def work(k):\n"
    "    d = {}\n"
    "    for i in range(20000): d[str(i * k)] = [i] * (i % 5)\n"
    "    return sum(len(v) for v in d.values())\n"
    "with ThreadPoolExecutor(4) as ex: print(sum(ex.map(work, range(1, 9))))\n";

static const char git_script[] =
    "set -e\n"
    "export HOME=\"$PWD\" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t\n"
    "export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t\n"
    "export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'\n"
    "mkdir repo && cd repo && git init -q -b main\n"
    "i=1\n"
    "while [ $i -le 60 ]; do\n"
    "  seq $i 3 4000 > f$((i % 7)).txt\n"
    "  git add -A && git commit -qm \"commit $i\"\n"
    "  i=$((i + 1))\n"
    "done\n"
    "git log --format='%H %s' | head -3\n"
    "git log --stat | wc -l\n"
    "git gc -q\n"
    "git count-objects -v | grep -E '^(count|in-pack)'\n"
    "git fsck --no-progress && echo fsck ok\n";

static const char sort_script[] =
    "set -e\n"
    "seq 1 400000 | awk '{print ($1 * 7919) % 1000003, $1}' > in.txt\n"
    "sort -n --parallel=2 -S 4M in.txt | md5sum\n"
    "sort -k2,2 -r in.txt | head -3\n";

/* Run `script` with sh in a fresh directory `name`, with or without the
 * library; returns the output (static storage, one per slot). */
static char *run_script(const char *name, const char *script, int preload, int slot)
{
    static char outputs[2][1 << 16];
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/%s-%d", work_dir, name, preload);
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/script.sh", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && sh script.sh", dir);
    char *argv[] = {"sh", "-c", cmd, NULL};
    static char env_preload[4200], env_file[600];
    snprintf(env_preload, sizeof(env_preload), "LD_PRELOAD=%s", lib_path);
    snprintf(env_file, sizeof(env_file), "CONCORD_ARENA_STATS_FILE=%s/stats.jsonl", dir);
    const char *env[] = {env_preload, env_file, "CONCORD_ARENA_STATS_AT_EXIT=1",
                         "CONCORD_ARENA_STATS_FORMAT=json", NULL};
    int st = tu_run(argv, preload ? env : NULL, outputs[slot], sizeof(outputs[slot]));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s (%s) failed, status %d:\n%s", name, preload ? "preloaded" : "plain", st,
                 outputs[slot]);
    return outputs[slot];
}

/* The dumps in `name`'s stats file: how many, and the allocations they count. */
static void served(const char *name, long *dumps, long long *allocs)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s-1/stats.jsonl", work_dir, name);
    FILE *f = fopen(path, "r");
    *dumps = 0;
    *allocs = 0;
    if (f == NULL) return;
    static char line[1 << 20];
    while (fgets(line, sizeof(line), f)) {
        const char *t = strstr(line, "\"total\":{\"allocs\":");
        if (t == NULL) continue;
        (*dumps)++;
        *allocs += strtoll(t + strlen("\"total\":{\"allocs\":"), NULL, 10);
    }
    fclose(f);
}

static void compare_program(const char *name, const char *script, long min_dumps,
                            long long min_allocs)
{
    char *plain = run_script(name, script, 0, 0);
    char *pre = run_script(name, script, 1, 1);
    if (strcmp(plain, pre) != 0)
        fail_msg("%s: output differs under the library\n--- plain:\n%s\n--- preloaded:\n%s", name,
                 plain, pre);
    assert_true(strlen(plain) > 0);
    long dumps;
    long long allocs;
    served(name, &dumps, &allocs);
    print_message("%s: %ld processes served, %lld allocations\n", name, dumps, allocs);
    assert_true(dumps >= min_dumps);
    assert_true(allocs >= min_allocs);
}

static void test_python(void **state)
{
    (void)state;
    char script[8192];
    snprintf(script, sizeof(script), "cat > t.py <<'PYEOF'\n%sPYEOF\npython3 t.py\n",
             python_script);
    compare_program("python", script, 2, 20000);
}

static void test_git(void **state)
{
    (void)state;
    compare_program("git", git_script, 100, 20000);
}

static void test_sort(void **state)
{
    (void)state;
    compare_program("sort", sort_script, 3, 500);
}

static void test_cmake_build(void **state)
{
    (void)state;
    char script[4096];
    snprintf(script, sizeof(script),
             "set -e\n"
             "cmake -S '%s' -B build -DCA_BUILD_TESTS=OFF > cmake.log\n"
             "make -C build -j2 > make.log 2>&1 || { cat make.log; exit 1; }\n"
             "test -f build/interpose/libconcordarena.so && echo built\n"
             "LD_PRELOAD=$PWD/build/interpose/libconcordarena.so sh -c 'echo self-hosted'\n",
             source_dir);
    char *pre = run_script("cmake", script, 1, 1);
    assert_non_null(strstr(pre, "built"));
    assert_non_null(strstr(pre, "self-hosted"));
    long dumps;
    long long allocs;
    served("cmake", &dumps, &allocs);
    print_message("cmake: %ld processes served, %lld allocations\n", dumps, allocs);
    assert_true(dumps >= 20); /* cmake, make, the compilers, the linker */
    assert_true(allocs > 100000);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_programs LIBRARY SOURCE_DIR\n");
        return 2;
    }
    lib_path = argv[1];
    source_dir = argv[2];
    snprintf(work_dir, sizeof(work_dir), "/tmp/ca-programs-XXXXXX");
    if (mkdtemp(work_dir) == NULL) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python),
        cmocka_unit_test(test_git),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_cmake_build),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work_dir);
    if (rc == 0 && system(cmd) != 0) rc = 1;
    return rc;
}
