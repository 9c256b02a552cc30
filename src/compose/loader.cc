#include "compose/loader.h"

#include "base/files.h"
#include "base/strings.h"
#include "compose/dotenv.h"
#include "compose/input_file.h"
#include "compose/interpolate.h"
#include "compose/load_error.h"
#include "compose/merge.h"
#include "compose/normalize.h"
#include "compose/validate.h"
#include "compose/yaml_reader.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <set>

extern char** environ;

namespace fs = std::filesystem;

namespace berth::compose {
namespace {

constexpr int kMaxNesting = 32;  // include/extends depth, against runaway recursion

using Env = std::map<std::string, std::string>;

std::map<std::string, std::string> process_environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        size_t eq = kv.find('=');
        if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return env;
}

Lookup lookup_in(const Env& env) {
    return [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
}

std::string abs_path(const std::string& p, const fs::path& base) {
    fs::path path(p);
    if (path.is_relative()) path = base / path;
    return path.lexically_normal().string();
}

bool is_relative_fs_path(const std::string& p) {
    return !p.empty() && p[0] != '/' && p[0] != '~' && p.find("://") == std::string::npos;
}

// Makes a service's relative paths absolute against `dir`: for services that
// come from another directory through `extends: {file}` or `include`.
void absolutize_service(Node& svc, const fs::path& dir) {
    if (!svc.is_map()) return;
    if (Node* b = svc.find("build")) {
        if (b->is_scalar() && is_relative_fs_path(b->text)) b->text = abs_path(b->text, dir);
        else if (b->is_map()) {
            if (Node* c = b->find("context"); c && c->is_scalar() && is_relative_fs_path(c->text))
                c->text = abs_path(c->text, dir);
            else if (!b->find("context"))
                b->set("context", Node::scalar(dir.string(), false, b->loc));
        }
    }
    if (Node* ef = svc.find("env_file")) {
        auto fix = [&](Node& n) {
            if (n.is_scalar() && is_relative_fs_path(n.text)) n.text = abs_path(n.text, dir);
            else if (n.is_map())
                if (Node* p = n.find("path"); p && p->is_scalar() && is_relative_fs_path(p->text))
                    p->text = abs_path(p->text, dir);
        };
        if (ef->is_seq()) for (auto& it : ef->items) fix(it);
        else fix(*ef);
    }
    if (Node* vols = svc.find("volumes"); vols && vols->is_seq()) {
        for (auto& v : vols->items) {
            if (v.is_scalar() && !v.text.empty() && v.text[0] == '.') {
                size_t colon = v.text.find(':');
                std::string src = v.text.substr(0, colon);
                v.text = abs_path(src, dir) + (colon == std::string::npos ? "" : v.text.substr(colon));
            } else if (v.is_map()) {
                const Node* type = v.find("type");
                Node* src = v.find("source");
                if (type && type->text == "bind" && src && src->is_scalar() && is_relative_fs_path(src->text))
                    src->text = abs_path(src->text, dir);
            }
        }
    }
    if (Node* ext = svc.find("extends"); ext && ext->is_map())
        if (Node* f = ext->find("file"); f && f->is_scalar() && is_relative_fs_path(f->text))
            f->text = abs_path(f->text, dir);
}

void absolutize_document(Node& doc, const fs::path& dir) {
    if (!doc.is_map()) return;
    if (Node* services = doc.find("services"); services && services->is_map())
        for (auto& e : services->entries) absolutize_service(e.value, dir);
    for (const char* kind : {"secrets", "configs"}) {
        if (Node* top = doc.find(kind); top && top->is_map())
            for (auto& e : top->entries)
                if (Node* f = e.value.find("file"); f && f->is_scalar() && is_relative_fs_path(f->text))
                    f->text = abs_path(f->text, dir);
    }
}

// An included project's secrets and configs from `environment:` read its own
// environment (its env_file): their value is taken there, as `content`.
void resolve_file_environment(Node& doc, const Env& env) {
    for (const char* kind : {"secrets", "configs"}) {
        Node* top = doc.find(kind);
        if (!top || !top->is_map()) continue;
        for (auto& e : top->entries) {
            if (!e.value.is_map()) continue;
            const Node* var = e.value.find("environment");
            if (!var || !var->is_scalar()) continue;
            auto it = env.find(var->text);
            if (it == env.end()) continue;  // the normalizer says it is not set
            Location loc = var->loc;
            e.value.erase("environment");
            e.value.set("content", Node::scalar(it->second, false, loc), loc);
        }
    }
}

class Loader {
public:
    Loader(const Env& env, const ValidMemo& memo) : env_(env), memo_(memo) {}

    // read → interpolate → validate → include → extends
    Node load_file(const std::string& path, const Env& env, int depth) {
        if (depth > kMaxNesting)
            throw LoadError(Location{path, 0, 0}, "", "include/extends nest more than " + std::to_string(kMaxNesting) + " levels deep");
        Node doc = read_yaml_file(path);
        if (doc.is_null()) doc = Node::map(doc.loc);
        interpolate_tree(doc, lookup_in(env));
        validate(doc, memo_);
        resolve_includes(doc, path, depth);
        resolve_extends(doc, path, env, depth);
        return doc;
    }

private:
    const Env& env_;
    const ValidMemo& memo_;
    std::vector<std::string> include_stack_;

    void resolve_includes(Node& doc, const std::string& path, int depth) {
        const MapEntry* inc_entry = doc.find_entry("include");
        if (!inc_entry) return;
        Node includes = inc_entry->value;
        doc.erase("include");
        if (includes.is_null()) return;
        fs::path dir = fs::path(path).parent_path();
        for (size_t i = 0; i < includes.items.size(); ++i) {
            const Node& item = includes.items[i];
            std::string ip = path_index("include", i);
            std::vector<std::string> files;
            std::string project_dir;
            std::vector<std::string> env_files;
            if (item.is_scalar()) {
                files.push_back(abs_path(item.text, dir));
            } else if (item.is_map()) {
                if (const Node* p = item.find("path")) {
                    if (p->is_scalar()) files.push_back(abs_path(p->text, dir));
                    else for (const auto& f : p->items) files.push_back(abs_path(f.text, dir));
                }
                if (const Node* p = item.find("project_directory")) project_dir = abs_path(p->text, dir);
                if (const Node* e = item.find("env_file")) {
                    if (e->is_scalar()) env_files.push_back(abs_path(e->text, dir));
                    else for (const auto& f : e->items) env_files.push_back(abs_path(f.text, dir));
                }
            }
            if (files.empty()) throw LoadError(item.loc, ip, "an include needs a `path`");
            for (const auto& f : files)
                if (!files::exists(f)) throw LoadError(item.loc, ip, "included file " + f + " not found");
            if (std::find(include_stack_.begin(), include_stack_.end(), files[0]) != include_stack_.end())
                throw LoadError(item.loc, ip, "include cycle: " + join(include_stack_, " -> ") + " -> " + files[0]);
            if (project_dir.empty()) project_dir = fs::path(files[0]).parent_path().string();
            // The included project sees the process environment and its own .env.
            Env env = env_;
            if (env_files.empty() && files::exists(fs::path(project_dir) / ".env"))
                env_files.push_back((fs::path(project_dir) / ".env").string());
            for (const auto& ef : env_files)
                for (auto& [k, v] : read_dotenv_file(ef, lookup_in(env))) env.emplace(k, v);
            include_stack_.push_back(files[0]);
            Node merged;
            for (size_t f = 0; f < files.size(); ++f) {
                Node one = load_file(files[f], env, depth + 1);
                if (f == 0) merged = std::move(one);
                else merge_documents(merged, one);
            }
            include_stack_.pop_back();
            absolutize_document(merged, project_dir);
            resolve_file_environment(merged, env);
            for (const char* kind : {"services", "networks", "volumes", "secrets", "configs"}) {
                const Node* theirs = merged.find(kind);
                if (!theirs || !theirs->is_map()) continue;
                Node* ours = doc.find(kind);
                if (!ours || ours->is_null()) {
                    doc.set(kind, Node::map(theirs->loc), theirs->loc);
                    ours = doc.find(kind);
                }
                for (const auto& e : theirs->entries) {
                    if (const MapEntry* clash = ours->find_entry(e.key)) {
                        if (std::string(kind) != "services" && clash->value.kind == e.value.kind &&
                            clash->value.is_null())
                            continue;
                        throw LoadError(clash->key_loc, std::string(kind) + "." + e.key,
                                        std::string(kind).substr(0, std::string(kind).size() - 1) + " \"" + e.key +
                                            "\" is also defined by the included file " + files[0],
                                        "rename one of them");
                    }
                    ours->entries.push_back(e);
                }
            }
        }
    }

    void resolve_extends(Node& doc, const std::string& path, const Env& env, int depth) {
        Node* services = doc.find("services");
        if (!services || !services->is_map()) return;
        std::set<std::string> done;
        for (auto& e : services->entries) {
            std::vector<std::string> chain;
            resolve_service(doc, e.key, path, env, depth, chain, done);
        }
    }

    // Resolves `extends` of services.<name> in `doc` (whose file is `path`), in place.
    void resolve_service(Node& doc, const std::string& name, const std::string& path, const Env& env,
                         int depth, std::vector<std::string>& chain, std::set<std::string>& done) {
        if (done.count(name)) return;
        Node* svc = doc.find("services")->find(name);
        if (!svc || !svc->is_map()) return;
        const Node* ext = svc->find("extends");
        if (!ext) {
            done.insert(name);
            return;
        }
        std::string key = path + "#" + name;
        if (std::find(chain.begin(), chain.end(), key) != chain.end()) {
            std::vector<std::string> names;
            for (auto& c : chain) names.push_back(c.substr(c.find('#') + 1));
            names.push_back(name);
            throw LoadError(ext->loc, "services." + name + ".extends", "extends cycle: " + join(names, " -> "));
        }
        chain.push_back(key);
        std::string base_name, base_file;
        if (ext->is_scalar()) base_name = ext->text;
        else if (ext->is_map()) {
            if (const Node* s = ext->find("service")) base_name = s->text;
            if (const Node* f = ext->find("file")) base_file = f->text;
        }
        std::string ep = "services." + name + ".extends";
        if (base_name.empty()) throw LoadError(ext->loc, ep, "extends needs the name of a `service`");
        Node base;
        if (base_file.empty()) {
            const Node* other = doc.find("services")->find(base_name);
            if (!other)
                throw LoadError(ext->loc, ep, "service \"" + name + "\" extends undefined service \"" + base_name + "\"");
            resolve_service(doc, base_name, path, env, depth, chain, done);
            base = *doc.find("services")->find(base_name);
            svc = doc.find("services")->find(name);  // the recursion may have moved entries
        } else {
            std::string file = abs_path(base_file, fs::path(path).parent_path());
            if (!files::exists(file)) throw LoadError(ext->loc, ep + ".file", "file " + file + " not found");
            Node other = read_yaml_file(file);
            if (other.is_null()) other = Node::map(other.loc);
            interpolate_tree(other, lookup_in(env));
            validate(other, memo_);
            const Node* others = other.find("services");
            if (!others || !others->find(base_name))
                throw LoadError(ext->loc, ep, "service \"" + base_name + "\" not found in " + file);
            std::set<std::string> other_done;
            resolve_service(other, base_name, file, env, depth + 1, chain, other_done);
            base = *other.find("services")->find(base_name);
            absolutize_service(base, fs::path(file).parent_path());
        }
        Node own = *svc;
        own.erase("extends");
        merge_service(base, own);
        base.erase("extends");
        *svc = std::move(base);
        chain.pop_back();
        done.insert(name);
    }
};

// A project needs a service. An empty file is docker compose's "empty compose
// file"; a file with only `name:` (or `services: {}`) loads in docker compose
// but every command that acts then says "no service selected". berth refuses
// both when it loads, pointing at the spot.
void require_services(const Node& doc, const std::vector<std::string>& files) {
    std::string hint = "add a service under `services:`, such as\n  services:\n    web:\n      image: nginx";
    if (doc.entries.empty())
        throw LoadError(Location{files[0], 1, 1}, "", "the compose file is empty", hint);
    const MapEntry* services = doc.find_entry("services");
    if (!services)
        throw LoadError(doc.loc, "services", "the project defines no services (there is no `services` key)", hint);
    for (const auto& e : services->value.entries)
        if (e.key.rfind("x-", 0) != 0) return;
    throw LoadError(services->value.is_null() ? services->key_loc : services->value.loc, "services",
                    "the project defines no services", hint);
}

// A service's env_file, for the normalizer: nullopt when there is no such file.
std::optional<EnvList> read_env_file(const std::string& path, const Lookup& lookup) {
    std::error_code ec;
    bool exists = fs::exists(path, ec);
    if (ec) throw Error::sys(ec.value(), "env file " + path);
    if (!exists) return std::nullopt;
    if (!lookup) return parse_raw_env(read_input_file(path, "env file"));  // format: raw
    return read_dotenv_file(path, lookup);
}

std::string getcwd_string() {
    std::error_code ec;
    fs::path p = fs::current_path(ec);
    if (ec) throw Error::sys(ec.value(), "get the current directory");
    return p.string();
}

}  // namespace

std::vector<std::string> find_compose_files(const std::string& start) {
    static const char* kNames[] = {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"};
    static const char* kOverrides[] = {"compose.override.yaml", "compose.override.yml",
                                       "docker-compose.override.yaml", "docker-compose.override.yml"};
    for (fs::path dir = fs::path(start); ; dir = dir.parent_path()) {
        for (const char* n : kNames) {
            fs::path f = dir / n;
            if (files::is_regular_file(f)) {
                std::vector<std::string> out{f.string()};
                for (const char* o : kOverrides)
                    if (files::is_regular_file(dir / o)) {
                        out.push_back((dir / o).string());
                        break;
                    }
                return out;
            }
        }
        if (dir == dir.parent_path()) return {};
    }
}

std::string normalize_project_name(const std::string& raw) {
    std::string out;
    for (char c : raw) {
        char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_') out += l;
    }
    while (!out.empty() && (out[0] == '-' || out[0] == '_')) out.erase(0, 1);
    return out;
}

bool is_valid_project_name(const std::string& name) {
    if (name.empty()) return false;
    if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    return true;
}

Project load_project(const LoadOptions& opts) {
    Env env = opts.environment ? *opts.environment : process_environment();
    std::string cwd = opts.working_dir.empty() ? getcwd_string() : opts.working_dir;

    // docker compose's working directory: --project-directory, else the first
    // -f file's directory, else the current one. Its .env (or --env-file, or
    // COMPOSE_ENV_FILES) may set COMPOSE_FILE, COMPOSE_PROFILES… (the process
    // environment wins), before the files are even known.
    std::string wd = !opts.project_directory.empty()       ? abs_path(opts.project_directory, cwd)
                     : !opts.files.empty() && opts.files[0] != "-" ? fs::path(abs_path(opts.files[0], cwd)).parent_path().string()
                                                             : cwd;
    std::vector<std::string> env_files;
    for (const auto& f : opts.env_files) env_files.push_back(abs_path(f, cwd));
    if (env_files.empty())
        if (auto it = env.find("COMPOSE_ENV_FILES"); it != env.end())
            for (auto& f : split(it->second, ','))
                if (!trim(f).empty()) env_files.push_back(abs_path(std::string(trim(f)), cwd));
    for (const auto& ef : env_files)
        if (!files::exists(ef)) throw Error("env file " + ef + " not found", "check the path given with --env-file");
    {
        std::vector<std::string> early = env_files;
        if (early.empty() && files::is_regular_file(fs::path(wd) / ".env")) early.push_back((fs::path(wd) / ".env").string());
        Env compose_vars;
        for (const auto& ef : early)
            for (auto& [k, v] : read_dotenv_file(ef, lookup_in(env)))
                if (k.rfind("COMPOSE_", 0) == 0) compose_vars[k] = v;
        for (auto& [k, v] : compose_vars) env.emplace(k, v);
    }

    // Which files.
    std::vector<std::string> files;
    for (const auto& f : opts.files) files.push_back(f == "-" ? f : abs_path(f, cwd));
    if (files.empty()) {
        if (auto it = env.find("COMPOSE_FILE"); it != env.end() && !it->second.empty()) {
            std::string sep = env.count("COMPOSE_PATH_SEPARATOR") ? env.at("COMPOSE_PATH_SEPARATOR") : ":";
            for (auto& f : split(it->second, sep.empty() ? ':' : sep[0]))
                if (!f.empty()) files.push_back(abs_path(f, wd));
        } else {
            files = find_compose_files(wd);
        }
    }
    if (files.empty()) {
        throw Error("no compose file found in " + wd + " or any parent directory",
                    "create compose.yaml, or name one with -f FILE");
    }
    for (const auto& f : files) {
        if (f == "-") throw Error("reading the compose file from standard input is not supported yet", "pass a path with -f");
        if (!files::exists(f)) throw Error("compose file " + f + " not found", "check the path given with -f or COMPOSE_FILE");
        if (files::is_directory(f)) throw Error(f + " is a directory, not a compose file");
    }

    // The project directory and its .env.
    std::string project_dir = !opts.project_directory.empty() ? abs_path(opts.project_directory, cwd)
                                                              : fs::path(files[0]).parent_path().string();
    if (env_files.empty() && files::is_regular_file(fs::path(project_dir) / ".env"))
        env_files.push_back((fs::path(project_dir) / ".env").string());
    for (const auto& ef : env_files) {
        // The process environment wins over .env; later files win over earlier ones.
        Env from_file;
        for (auto& [k, v] : read_dotenv_file(ef, lookup_in(env))) from_file[k] = v;
        for (auto& [k, v] : from_file) env.emplace(k, v);
    }

    Loader loader(env, opts.valid_memo);
    Node doc;
    for (size_t i = 0; i < files.size(); ++i) {
        Node one = loader.load_file(files[i], env, 0);
        if (i == 0) doc = std::move(one);
        else merge_documents(doc, one);
    }
    require_services(doc, files);
    if (const MapEntry* v = doc.find_entry("version")) {
        spdlog::warn("{}: the top-level `version` is obsolete and ignored", v->key_loc.str());
        doc.erase("version");
    }

    // The project name: -p, COMPOSE_PROJECT_NAME, `name:`, then the directory.
    std::string name;
    std::string from;
    if (!opts.project_name.empty()) {
        name = opts.project_name;
        from = "-p";
    } else if (auto it = env.find("COMPOSE_PROJECT_NAME"); it != env.end() && !it->second.empty()) {
        name = it->second;
        from = "COMPOSE_PROJECT_NAME";
    } else if (const MapEntry* n = doc.find_entry("name"); n && n->value.is_scalar() && !n->value.text.empty()) {
        name = n->value.text;
        if (!is_valid_project_name(name))
            throw LoadError(n->value.loc, "name", "invalid project name \"" + name + "\"",
                            "use lowercase letters, digits, dashes and underscores, starting with a letter or digit");
    } else {
        name = normalize_project_name(fs::path(project_dir).filename().string());
        if (name.empty())
            throw Error("cannot derive a project name from the directory " + project_dir, "give one with -p NAME or `name:`");
    }
    if (!is_valid_project_name(name))
        throw Error("invalid project name \"" + name + "\" (from " + from + ")",
                    "use lowercase letters, digits, dashes and underscores, starting with a letter or digit");

    NormalizeContext ctx;
    ctx.project_name = name;
    ctx.project_dir = project_dir;
    ctx.profiles = opts.profiles;
    if (ctx.profiles.empty())
        if (auto it = env.find("COMPOSE_PROFILES"); it != env.end())
            for (auto& p : split(it->second, ','))
                if (!trim(p).empty()) ctx.profiles.emplace_back(trim(p));
    ctx.env = env;
    ctx.home = env.count("HOME") ? env.at("HOME") : "/root";
    ctx.read_env_file = read_env_file;
    Project project = normalize(doc, ctx);
    project.compose_files = files;
    project.environment = env;
    return project;
}

}  // namespace berth::compose
