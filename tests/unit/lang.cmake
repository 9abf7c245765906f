# The Stan-language front end (src/lang).
ps_add_test(NAME unit_lang_parse SOURCES unit/test_lang_parse.c unit/lang_sexpr.c LABELS unit)
ps_add_test(NAME unit_lang_check SOURCES unit/test_lang_check.c unit/lang_sexpr.c LABELS unit)
ps_add_test(NAME unit_lang_robust SOURCES unit/test_lang_robust.c LABELS unit TIMEOUT 300)
# Walks ../shared (bench models, posteriordb) and reports per file; skips without it.
ps_add_test(NAME unit_lang_corpus SOURCES unit/test_lang_corpus.c LABELS unit)
