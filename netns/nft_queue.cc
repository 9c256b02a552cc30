#include "netns/nft_queue.h"

#include "base/uv_handle.h"

#include <deque>
#include <utility>
#include <vector>

namespace berth::netns {

struct NftQueue::Impl : std::enable_shared_from_this<Impl> {
    uv_loop_t* loop = nullptr;
    bool alive = true;  // false once the queue is destroyed: late callbacks do nothing
    struct Job {
        std::string script;
        Done done;
        bool alone = false;  // run by itself (after a batch it was in failed)
    };
    std::deque<Job> jobs;
    bool running = false;

    // One nft run: the process, its stdin (the script) and its output (stdout and stderr).
    struct Run {
        std::shared_ptr<Impl> owner;  // keeps the queue's state while nft runs
        std::vector<Job> batch;       // the jobs this run does, as one transaction
        std::string script;
        uv_process_t* proc = nullptr;
        uv_pipe_t* in = nullptr;
        uv_pipe_t* out = nullptr;
        uv_pipe_t* err = nullptr;
        uv_write_t write{};
        std::string output;
        int64_t status = -1;
        int pending = 0;  // events still to come before the run is over
        void finish() {
            if (--pending > 0) return;
            close_handle(proc);
            close_handle(in);
            close_handle(out);
            close_handle(err);
            std::string error;
            if (status != 0) {
                while (!output.empty() && output.back() == '\n') output.pop_back();
                error = "nft failed (exit " + std::to_string(status) + "): " + output;
            }
            auto self = owner;
            std::vector<Job> jobs = std::move(batch);
            delete this;
            if (!self->alive) return;
            self->running = false;
            if (!error.empty() && jobs.size() > 1) {
                // One bad script failed the whole batch: run each by itself, so
                // that only the bad one fails.
                for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
                    it->alone = true;
                    self->jobs.push_front(std::move(*it));
                }
            } else {
                for (auto& j : jobs)
                    if (j.done) j.done(error);
            }
            self->next();
        }
    };

    void next() {
        if (running || jobs.empty() || !alive) return;
        running = true;
        auto* r = new Run;
        r->owner = shared_from_this();
        // Whatever queued up while the last nft ran goes in one run: one exec
        // and one transaction for a whole stack stopping at once.
        do {
            r->script += jobs.front().script;
            r->batch.push_back(std::move(jobs.front()));
            jobs.pop_front();
        } while (!jobs.empty() && !r->batch.front().alone && !jobs.front().alone);
        r->in = new_handle<uv_pipe_t>();
        r->out = new_handle<uv_pipe_t>();
        r->err = new_handle<uv_pipe_t>();
        for (uv_pipe_t* p : {r->in, r->out, r->err}) {
            uv_pipe_init(loop, p, 0);
            p->data = r;
        }
        uv_stdio_container_t stdio[3];
        stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
        stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(r->in);
        stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
        stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(r->out);
        stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
        stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(r->err);
        char* args[] = {const_cast<char*>("nft"), const_cast<char*>("-f"), const_cast<char*>("-"), nullptr};
        uv_process_options_t opts{};
        opts.file = "nft";
        opts.args = args;
        opts.stdio = stdio;
        opts.stdio_count = 3;
        opts.exit_cb = [](uv_process_t* p, int64_t status, int signal) {
            auto* run = static_cast<Run*>(p->data);
            run->status = signal ? 128 + signal : status;
            run->finish();
        };
        r->proc = new_handle<uv_process_t>();
        r->proc->data = r;
        int err = uv_spawn(loop, r->proc, &opts);
        if (err < 0) {
            r->output = std::string("cannot run nft (is the nftables package installed?): ") + uv_strerror(err);
            r->status = 127;
            r->pending = 1;
            r->finish();
            return;
        }
        r->pending = 4;  // the script written, the exit, and the end of stdout and of stderr
        uv_buf_t buf = uv_buf_init(r->script.data(), static_cast<unsigned>(r->script.size()));
        r->write.data = r;
        int werr = uv_write(&r->write, reinterpret_cast<uv_stream_t*>(r->in), &buf, 1, [](uv_write_t* w, int) {
            auto* run = static_cast<Run*>(w->data);
            close_handle(run->in);  // EOF: nft runs the script
            run->finish();
        });
        if (werr < 0) {  // no callback will come: nft sees EOF at once and fails
            close_handle(r->in);
            r->finish();
        }
        for (uv_pipe_t* p : {r->out, r->err})
            if (uv_read_start(reinterpret_cast<uv_stream_t*>(p),
                          [](uv_handle_t*, size_t, uv_buf_t* b) {
                              static char chunk[4096];
                              *b = uv_buf_init(chunk, sizeof chunk);
                          },
                          [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                              auto* run = static_cast<Run*>(s->data);
                              if (n > 0) {
                                  if (run->output.size() < 65536) run->output.append(b->base, static_cast<size_t>(n));
                                  return;
                              }
                              if (n < 0) {
                                  uv_read_stop(s);
                                  run->finish();
                              }
                          }) < 0)
                r->finish();  // nothing to read from it: its end counts as come
    }
};

NftQueue::NftQueue(uv_loop_t* loop) : impl_(std::make_shared<Impl>()) { impl_->loop = loop; }

NftQueue::~NftQueue() {
    impl_->alive = false;
    impl_->jobs.clear();
}

void NftQueue::apply(std::string script, Done done) {
    impl_->jobs.push_back({std::move(script), std::move(done)});
    impl_->next();
}

bool NftQueue::idle() const { return !impl_->running && impl_->jobs.empty(); }

}  // namespace berth::netns
