// Merges compose files as docker compose does (compose-spec "merge" rules):
// mappings merge key by key, scalars are replaced, sequences are appended,
// except command/entrypoint/healthcheck.test (replaced), environment, labels
// and the like (merged as mappings whichever form each file uses),
// depends_on/networks (merged as mappings), ports/volumes/secrets/configs
// (appended here, made unique by the normalizer). `!reset` removes a value,
// `!override` replaces it whole.
#pragma once

#include "compose/tree.h"

namespace berth::compose {

// Merges `over` into `base`. Both are whole compose documents (top-level maps).
void merge_documents(Node& base, const Node& over);
// Merges one service definition into another (used by `extends` too).
void merge_service(Node& base, const Node& over);

}  // namespace berth::compose
