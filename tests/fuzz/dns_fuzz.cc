// libFuzzer target: the embedded DNS server's packet parser. Any datagram is
// either refused (nullopt) or parsed into a query whose answer is itself a
// well-formed DNS response with one question and the asker's id.
#include "netns/dns.h"

#include <arpa/nameser.h>

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace berth::netns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto q = parse_dns_query(data, size);
    if (!q) return 0;
    if (q->question_end > size || q->question_end < NS_HFIXEDSZ) std::abort();
    DnsAnswer a;
    a.v4 = {0x0a000002, 0x0a000003};
    a.v6 = {Ip6{}};
    for (int rcode : {0, 2, 3}) {
        std::string out = dns_response(data, *q, a, rcode);
        ns_msg h;
        if (ns_initparse(reinterpret_cast<const uint8_t*>(out.data()), static_cast<int>(out.size()), &h) < 0) std::abort();
        if (ns_msg_id(h) != q->id || ns_msg_count(h, ns_s_qd) != 1) std::abort();
        ns_rr rr;
        for (int i = 0; i < ns_msg_count(h, ns_s_an); ++i)
            if (ns_parserr(&h, ns_s_an, i, &rr) < 0) std::abort();
    }
    return 0;
}
