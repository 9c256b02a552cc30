// supervisor/one_off: `berth run`'s container, on the one launch path that the
// supervisor's units take (launch.h): the service's brief, its addresses on
// the project's networks (made first when it publishes ports and they do not
// exist yet), its spec, its record beside the stack's (runs/: `down` removes
// it, the stack's DNS answers its name, two one-offs never share an address),
// its published ports (kernel DNAT: a one-off has no port proxy). And its life:
// in the foreground on this process's stdio, or detached under a small monitor
// process that reaps it and writes its end.
#pragma once

#include "compose/model.h"
#include "images/store.h"
#include "netns/netns.h"
#include "plan/brief.h"
#include "runtime/container.h"
#include "runtime/spec.h"
#include "state/state.h"
#include "supervisor/container_spec.h"
#include "supervisor/launch.h"

#include <memory>
#include <string>
#include <vector>

namespace berth::supervisor {

struct OneOffRequest {
    std::string name;                    // "": PROJECT-SERVICE-run-RANDOM
    RunOverrides overrides;              // -e, -u, -w, --entrypoint, the command
    std::vector<plan::PublishedPort> publish;  // -p, fixed host ports only
    bool service_ports = false;          // --service-ports: the service's own `ports:` too
    bool rm = false;                     // its files and record go when it exits
    bool tty = false;                    // a pty, with the caller's terminal in raw mode
    bool stdin_open = true;
};

class OneOff {
public:
    // Resolves and records everything before anything runs: the brief (a bad value is an Error naming the
    // service and key), the ports (taken ones fail now), the networks, the spec and the record. `svc` is the
    // project's service with run's own mounts and capabilities added.
    OneOff(const compose::Project& project, compose::Service svc, const images::ResolvedImage& image,
           OneOffRequest req);
    ~OneOff();
    OneOff(const OneOff&) = delete;
    OneOff& operator=(const OneOff&) = delete;

    const std::string& name() const { return rec_.name; }

    // Runs it on this process's stdin (when stdin_open), stdout and stderr until it exits, signals
    // forwarded; its exit code (OOMKilled said on stderr).
    int run_attached();
    // Starts it under a monitor process and returns once it runs; throws the start's error otherwise.
    void run_detached();

private:
    NetworkSetup plan_network(const plan::ServicePlan& brief);
    void started(pid_t pid);
    void unpublish();
    void ended();   // exited: the record says so, or (--rm) goes
    void forget();  // the record goes, and the project's runtime dir when nothing else is in it
    runtime::StartHooks hooks();

    const compose::Project& project_;
    compose::Service svc_;
    OneOffRequest req_;
    state::ProjectState stack_, one_offs_;
    state::ContainerRecord rec_;
    std::unique_ptr<netns::Networks> nets_;
    Addresses addrs_;
    std::vector<netns::PublishedPort> ports_;
    bool publishing_ = false;
    runtime::ContainerSpec spec_;
};

}  // namespace berth::supervisor
