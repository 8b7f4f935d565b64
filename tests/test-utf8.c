/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text for JSON output: valid UTF-8 passes as it is, every other byte becomes \xNN. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

Test(utf8, valid_forms)
{
    cr_assert(cg_utf8_valid(""));
    cr_assert(cg_utf8_valid("web-1"));
    cr_assert(cg_utf8_valid("caf\xc3\xa9"));      /* U+00E9 */
    cr_assert(cg_utf8_valid("\xe2\x82\xac"));     /* U+20AC */
    cr_assert(cg_utf8_valid("\xf0\x9f\x98\x80")); /* U+1F600 */
    cr_assert(cg_utf8_valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    cr_assert_not(cg_utf8_valid("\xff"));
    cr_assert_not(cg_utf8_valid("\xc0\xaf"));         /* overlong '/' */
    cr_assert_not(cg_utf8_valid("\xe0\x80\xaf"));     /* overlong */
    cr_assert_not(cg_utf8_valid("\xed\xa0\x80"));     /* surrogate U+D800 */
    cr_assert_not(cg_utf8_valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
    cr_assert_not(cg_utf8_valid("\xc3"));             /* truncated */
}

Test(utf8, escape_keeps_valid_and_marks_invalid)
{
    char *s = cg_utf8_escape("a\xff"
                             "b\xc3\xa9\xc3");

    cr_assert_str_eq(s, "a\\xffb\xc3\xa9\\xc3");
    free(s);
}

Test(utf8, json_string_always_parses)
{
    json_t *j = cg_json_str("x\x80y"), *back;
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    json_error_t err;

    cr_assert_not_null(text);
    back = json_loads(text, JSON_DECODE_ANY, &err);
    cr_assert_not_null(back, "%s", err.text);
    cr_assert_str_eq(json_string_value(back), "x\\x80y");
    cr_assert(json_is_null(cg_json_str(NULL)));
    json_decref(back);
    json_decref(j);
    free(text);
}
