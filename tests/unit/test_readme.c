/* The README's configuration reference is exactly what the schema generates, and its
 * Quick start names the two scripts that exist. */
#include "config/config.h"
#include "testlib.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        ps_strbuf ref;
        ps_strbuf_init(&ref);
        ps_config_write_reference(&ref);
        fputs(ps_strbuf_str(&ref), stdout);
        ps_strbuf_fini(&ref);
        return 0;
    }
    char *readme = NULL;
    size_t len = 0;
    CHECK(ps_file_read(PSAMPLE_SOURCE_DIR "/README.md", &readme, &len) == PS_OK,
          "cannot read README.md: %s", ps_error_message());
    if (readme == NULL)
        TEST_EXIT();
    const char *begin_tag = "<!-- configuration reference:";
    const char *end_tag = "<!-- end of configuration reference -->";
    char *begin = strstr(readme, begin_tag);
    char *end = strstr(readme, end_tag);
    CHECK(begin && end && begin < end, "README lacks the configuration reference markers");
    if (begin && end && begin < end) {
        begin = strchr(begin, '\n') + 1;
        ps_strbuf want;
        ps_strbuf_init(&want);
        ps_config_write_reference(&want);
        size_t got_len = (size_t)(end - begin);
        bool same = got_len == want.len && memcmp(begin, want.data, want.len) == 0;
        if (!same) {
            size_t i = 0;
            while (i < got_len && i < want.len && begin[i] == want.data[i])
                i++;
            const char *line = begin + i;
            while (line > begin && line[-1] != '\n')
                line--;
            const char *wline = want.data + (line - begin);
            CHECK(same,
                  "README configuration reference differs from the schema at byte %zu:\n"
                  "README: %.200s\nschema: %.200s\n(print the schema's text with "
                  "tests/unit_readme --print and paste it into README.md)",
                  i, line, wline);
        }
        ps_strbuf_fini(&want);
    }
    CHECK_STR_CONTAINS(readme, "    scripts/quickstart ");
    CHECK_STR_CONTAINS(readme, "    scripts/test ");
    ps_free(readme);
    TEST_EXIT();
}
