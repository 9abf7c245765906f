/* Error recording, located messages, allocation fault injection, string buffers. */
#include "core/core.h"
#include "testlib.h"

int main(void)
{
    /* The first error wins. */
    ps_error_clear();
    CHECK(ps_error(PS_ERR_CONFIG, "first %d", 1) == PS_ERR_CONFIG, "status returned");
    ps_error(PS_ERR_IO, "second");
    CHECK(strcmp(ps_error_message(), "first 1") == 0, "kept \"%s\"", ps_error_message());
    CHECK(ps_error_status() == PS_ERR_CONFIG, "first status kept");
    ps_error_clear();
    CHECK(ps_error_message()[0] == '\0', "cleared");

    /* Re-tagging the recorded message keeps its text. */
    ps_error(PS_ERR_IO, "cannot read x: gone");
    ps_error_set(PS_ERR_CONFIG, ps_error_message());
    CHECK(strcmp(ps_error_message(), "cannot read x: gone") == 0 &&
              ps_error_status() == PS_ERR_CONFIG,
          "re-tagged message is \"%s\"", ps_error_message());
    ps_error_clear();

    /* Compiler-style located message with caret under the right character. */
    const char *text = "a = 1\nbéta = \"x\n";
    ps_error_at(PS_ERR_CONFIG, "c.toml", text, strlen(text), 2, 9, "unterminated string");
    const char *want = "c.toml:2:9: error: unterminated string\n    béta = \"x\n            ^";
    CHECK(strcmp(ps_error_message(), want) == 0, "located message was:\n%s\nexpected:\n%s",
          ps_error_message(), want);
    ps_error_clear();
    size_t line, col;
    ps_text_position(text, strlen(text), 14, &line, &col);
    CHECK(line == 2 && col == 8, "offset 14 is %zu:%zu, expected 2:8", line, col);

    /* A very long line is shown around the column only. */
    char *longline = ps_malloc(100001);
    memset(longline, 'x', 100000);
    longline[100000] = '\0';
    ps_error_at(PS_ERR_CONFIG, "l.toml", longline, 100000, 1, 50000, "here");
    CHECK(strlen(ps_error_message()) < 400, "long line message is %zu bytes",
          strlen(ps_error_message()));
    CHECK_STR_CONTAINS(ps_error_message(), "l.toml:1:50000: error: here");
    ps_error_clear();
    ps_free(longline);

    /* Control characters are not echoed to the terminal. */
    const char *ctl = "k = \"\x1b[31m\"";
    ps_error_at(PS_ERR_CONFIG, "e.toml", ctl, strlen(ctl), 1, 6, "control character");
    CHECK(strchr(ps_error_message(), 0x1b) == NULL, "escape byte echoed");
    ps_error_clear();

    /* Allocation fault injection: the n-th allocation fails, then allocation works. */
    ps_fault_alloc_after(2);
    void *a = ps_malloc(8);
    void *b = ps_malloc(8);
    void *c = ps_malloc(8);
    CHECK(a != NULL && b == NULL && c != NULL, "second allocation should fail only");
    ps_free(a);
    ps_free(c);
    ps_fault_alloc_after(0);
    double *arr = NULL;
    CHECK(ps_alloc_array(&arr, SIZE_MAX / 4, sizeof(double), "big") == PS_ERR_MEM,
          "overflowing size must fail");
    CHECK_STR_CONTAINS(ps_error_message(), "size overflow");
    ps_error_clear();
    CHECK(ps_alloc_array(&arr, 10, sizeof(double), "ten") == PS_OK && arr != NULL, "alloc");
    CHECK(arr[9] == 0.0, "zeroed");
    ps_free_ptr(&arr);
    CHECK(arr == NULL, "free_ptr clears");

    /* String buffer survives an allocation failure and reports it. */
    ps_strbuf sb;
    ps_strbuf_init(&sb);
    ps_strbuf_printf(&sb, "%d-%s", 42, "x");
    CHECK(strcmp(ps_strbuf_str(&sb), "42-x") == 0, "strbuf printf");
    ps_fault_alloc_after(1);
    for (int i = 0; i < 100; i++)
        ps_strbuf_puts(&sb, "0123456789");
    char *out = NULL;
    CHECK(ps_strbuf_take(&sb, &out) == PS_ERR_MEM && out == NULL, "failed append reported");
    ps_error_clear();

    /* Named fault points. */
    setenv("PSAMPLE_FAULT", "init_lp@2,open_data", 1);
    ps_fault_set_rank(2);
    CHECK(ps_fault_point("init_lp"), "init_lp@2 on rank 2");
    CHECK(ps_fault_point("open_data"), "open_data everywhere");
    CHECK(!ps_fault_point("init"), "a prefix must not match");
    ps_fault_set_rank(1);
    CHECK(!ps_fault_point("init_lp"), "init_lp@2 not on rank 1");
    unsetenv("PSAMPLE_FAULT");

    /* Edit distance for suggestions. */
    CHECK(ps_edit_distance("draws", "drawz", 3) == 1, "draws/drawz");
    CHECK(ps_edit_distance("chains", "chian", 3) == 3, "chains/chian");
    CHECK(ps_edit_distance("abc", "xyzxyz", 2) == 3, "capped");

    /* Paths resolve against the config file's folder. */
    char *p = NULL;
    CHECK(ps_path_resolve("dir/sub/c.toml", "m.stan", &p) == PS_OK &&
              strcmp(p, "dir/sub/m.stan") == 0,
          "relative path resolved to %s", p ? p : "(null)");
    ps_free(p);
    CHECK(ps_path_resolve("dir/c.toml", "/abs/m.stan", &p) == PS_OK &&
              strcmp(p, "/abs/m.stan") == 0,
          "absolute path kept");
    ps_free(p);
    CHECK(ps_path_resolve("c.toml", "m.stan", &p) == PS_OK && strcmp(p, "m.stan") == 0,
          "no folder");
    ps_free(p);
    TEST_EXIT();
}
