// C++'s operator new and delete under LD_PRELOAD: every form is the
// library's (not libstdc++'s forwarding to malloc), objects are usable and
// aligned, a failed new calls the new-handler and then throws
// std::bad_alloc, the nothrow forms return nullptr, and a bad delete is
// reported and aborts like a bad free.
#include <dlfcn.h>
#include <malloc.h>
#include <new>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include <cmocka.h>
}

// Which shared object defines the function at `fn`.
static bool from_library(const void *fn)
{
    Dl_info info;
    if (dladdr(fn, &info) == 0 || info.dli_fname == nullptr) return false;
    return strstr(info.dli_fname, "libconcordarena") != nullptr;
}

static void test_every_form_is_ours(void **)
{
    void *(*news[])(size_t) = {&::operator new, &::operator new[]};
    for (auto f : news)
        assert_true(from_library(reinterpret_cast<const void *>(f)));
    void (*sized)(void *, size_t) = &::operator delete;
    void (*sized_array)(void *, size_t) = &::operator delete[];
    void *(*aligned)(size_t, std::align_val_t) = &::operator new;
    void (*aligned_delete)(void *, std::align_val_t) = &::operator delete;
    assert_true(from_library(reinterpret_cast<const void *>(sized)));
    assert_true(from_library(reinterpret_cast<const void *>(sized_array)));
    assert_true(from_library(reinterpret_cast<const void *>(aligned)));
    assert_true(from_library(reinterpret_cast<const void *>(aligned_delete)));
}

struct alignas(256) wide {
    unsigned char bytes[300];
};

static void test_objects(void **)
{
    for (size_t n = 0; n < 70000; n = n * 2 + 1) {
        unsigned char *p = new unsigned char[n];
        assert_non_null(p);
        assert_true(malloc_usable_size(p) >= n);
        memset(p, 0x5a, n);
        ::operator delete[](p, n);
    }
    int *one = new int(42);
    assert_int_equal(*one, 42);
    delete one;
    wide *w = new wide[3];
    assert_int_equal(reinterpret_cast<uintptr_t>(w) % 256, 0);
    memset(w, 1, sizeof(wide) * 3);
    delete[] w;
    void *a = ::operator new(100, std::align_val_t(4096));
    assert_int_equal(reinterpret_cast<uintptr_t>(a) % 4096, 0);
    ::operator delete(a, 100, std::align_val_t(4096));
    void *z = ::operator new(0);
    void *z2 = ::operator new(0);
    assert_non_null(z);
    assert_ptr_not_equal(z, z2);
    ::operator delete(z);
    ::operator delete(z2);
}

static int handler_calls;
static void give_up()
{
    handler_calls++;
    std::set_new_handler(nullptr); // the next failure throws
}

static void test_out_of_memory(void **)
{
    const size_t absurd = SIZE_MAX / 2;
    assert_null(::operator new(absurd, std::nothrow));
    assert_null(::operator new[](absurd, std::align_val_t(64), std::nothrow));
    // nothrow new: the handler runs first, and what it throws becomes nullptr
    std::set_new_handler(give_up);
    assert_null(::operator new(absurd, std::nothrow));
    assert_int_equal(handler_calls, 1);
    handler_calls = 0;
    char *fine = new (std::nothrow) char[100];
    assert_non_null(fine);
    assert_true(malloc_usable_size(fine) >= 100);
    delete[] fine;
    bool thrown = false;
    try {
        (void)::operator new(absurd);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    assert_true(thrown);
    std::set_new_handler(give_up);
    thrown = false;
    try {
        (void)::operator new[](absurd, std::align_val_t(128));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    assert_true(thrown);
    assert_int_equal(handler_calls, 1);
}

static void test_bad_delete_aborts(void **)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        int on_stack[4] = {0, 1, 2, 3};
        void *volatile bad = on_stack; // not ours (hidden from the compiler's check)
        ::operator delete(bad, sizeof on_stack);
        _exit(0);
    }
    close(pipefd[1]);
    char out[1024] = {0};
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof out && (r = read(pipefd[0], out + len, sizeof out - 1 - len)) > 0)
        len += static_cast<size_t>(r);
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(out, "invalid pointer"));
    assert_non_null(strstr(out, "not allocated here"));
}

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_form_is_ours),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_bad_delete_aborts),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
