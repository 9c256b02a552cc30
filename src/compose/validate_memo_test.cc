#include "compose/load_error.h"
#include "compose/validate.h"
#include "compose/yaml_reader.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace berth::compose;

TEST_CASE("validate: a memo of valid documents skips the schema, and holds only valid ones") {
    std::set<std::string> memo_set;
    int lookups = 0;
    ValidMemo memo;
    memo.known_valid = [&](std::string_view d) { ++lookups; return memo_set.count(std::string(d)) > 0; };
    memo.remember = [&](std::string_view d) { memo_set.insert(std::string(d)); };

    Node good = parse_yaml("services:\n  web:\n    image: x\n    mem_limit: 64m\n", "c.yaml");
    validate(good, memo);
    CHECK(memo_set.size() == 1);
    CHECK(lookups == 1);

    // Invalid documents raise as before and are never remembered.
    Node bad = parse_yaml("services:\n  web:\n    image: x\n    restrat: always\n", "c.yaml");
    CHECK_THROWS_AS(validate(bad, memo), LoadError);
    CHECK(memo_set.size() == 1);

    // The key is the document the schema sees: a change of an integer's value is the same
    // document to the schema (to_json keeps types, not numbers), a changed key is not.
    Node same_shape = parse_yaml("services:\n  web:\n    image: x\n    mem_limit: 64m\n", "other.yaml");
    validate(same_shape, memo);
    CHECK(memo_set.size() == 1);
    Node other = parse_yaml("services:\n  web:\n    image: y\n", "c.yaml");
    validate(other, memo);
    CHECK(memo_set.size() == 2);

    // A memo that claims a document is valid is believed: that is what makes it fast, and why
    // state::Memo keys on the berth binary's identity.
    memo.known_valid = [](std::string_view) { return true; };
    CHECK_NOTHROW(validate(bad, memo));
    // Without a memo nothing changes.
    CHECK_THROWS_AS(validate(bad), LoadError);
}
