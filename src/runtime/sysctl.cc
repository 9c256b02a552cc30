#include "base/error.h"
#include "runtime/spec.h"

namespace berth::runtime {

void check_sysctl(const std::string& name, bool own_network) {
    static const char* const kIpc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                                       "kernel.shm_rmid_forced"};
    for (const char* k : kIpc)
        if (name == k) return;
    if (name.rfind("fs.mqueue.", 0) == 0) return;
    if (name.rfind("net.", 0) == 0) {
        if (own_network) return;
        throw Error("sysctl " + name + " cannot be set with the host's network",
                    "net.* sysctls need the container's own network namespace; remove network_mode: host");
    }
    throw Error("sysctl " + name + " is not namespaced and cannot be set in a container",
                "allowed: kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*");
}

}  // namespace berth::runtime
