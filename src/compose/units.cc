#include "compose/units.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <stdexcept>

namespace berth::compose {
namespace {

// A value quoted for a message; a very long one is cut, so that a 5,000-digit
// number does not fill the terminal.
std::string quoted(std::string_view s) {
    constexpr size_t kShown = 40;
    if (s.size() <= kShown) return "\"" + std::string(s) + "\"";
    return "\"" + std::string(s.substr(0, kShown)) + "…\" (" + std::to_string(s.size()) + " characters)";
}

// The digits (and at most one '.') of a duration or size as a number.
// std::stold would throw std::out_of_range, whose what() is just "stold".
long double to_number(const std::string& digits, std::string_view whole, const char* limit) {
    errno = 0;
    char* end = nullptr;
    long double v = std::strtold(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size())
        throw ValueError("invalid number in " + quoted(whole));
    if (errno == ERANGE || !std::isfinite(v))
        throw ValueError("value out of range: " + quoted(whole) + " (" + limit + ")");
    return v;
}

constexpr const char* kDurationLimit = "the longest duration is about 290 years, 2500000h";
constexpr const char* kSizeLimit = "the largest size is 8 EiB";

}  // namespace

int64_t parse_duration(std::string_view text) {
    std::string_view s = text;
    if (s.empty()) throw ValueError("empty duration");
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return 0;
    if (s.empty()) throw ValueError("invalid duration " + quoted(text));
    long double total = 0;
    while (!s.empty()) {
        size_t i = 0;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
        if (i == 0)
            throw ValueError("invalid duration " + quoted(text) +
                                        ": expected a number like 30s, 1m30s or 500ms");
        std::string num(s.substr(0, i));
        if (num == "." || std::count(num.begin(), num.end(), '.') > 1)
            throw ValueError("invalid duration " + quoted(text));
        s.remove_prefix(i);
        size_t j = 0;
        while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
        std::string_view unit = s.substr(0, j);
        s.remove_prefix(j);
        long double mult;
        if (unit == "ns") mult = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e3;
        else if (unit == "ms") mult = 1e6;
        else if (unit == "s") mult = 1e9;
        else if (unit == "m") mult = 60e9;
        else if (unit == "h") mult = 3600e9;
        else if (unit.empty())
            throw ValueError("invalid duration " + quoted(text) +
                                        ": missing unit (use ns, us, ms, s, m or h, as in 30s)");
        else
            throw ValueError("invalid duration " + quoted(text) + ": unknown unit " +
                                        quoted(unit) + " (use ns, us, ms, s, m or h)");
        total += to_number(num, text, kDurationLimit) * mult;
        if (total > 9.2e18L)
            throw ValueError("value out of range: " + quoted(text) + " (" + kDurationLimit + ")");
    }
    auto ns = static_cast<int64_t>(std::llround(total));
    return neg ? -ns : ns;
}

namespace {

// Go's fmtFrac/fmtInt: prints v/10^prec with trailing zeros dropped.
std::string frac(uint64_t v, int prec) {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
        int d = static_cast<int>(v % 10);
        print = print || d != 0;
        if (print) digits.insert(digits.begin(), static_cast<char>('0' + d));
        v /= 10;
    }
    std::string out = std::to_string(v);
    if (print) out += "." + digits;
    return out;
}

}  // namespace

std::string format_duration(int64_t ns) {
    if (ns == 0) return "0s";
    bool neg = ns < 0;
    uint64_t u = neg ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
    std::string out;
    if (u < 1000000000ULL) {
        if (u < 1000ULL) out = std::to_string(u) + "ns";
        else if (u < 1000000ULL) out = frac(u, 3) + "\xC2\xB5s";
        else out = frac(u, 6) + "ms";
    } else {
        uint64_t secs_ns = u % 60000000000ULL;
        uint64_t mins = u / 60000000000ULL;
        out = frac(secs_ns, 9) + "s";
        if (mins > 0) {
            uint64_t h = mins / 60;
            out = std::to_string(mins % 60) + "m" + out;
            if (h > 0) out = std::to_string(h) + "h" + out;
        }
    }
    return neg ? "-" + out : out;
}

int64_t parse_bytes(std::string_view text) {
    std::string s(text);
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0 || std::count(s.begin(), s.begin() + i, '.') > 1)
        throw ValueError("invalid size " + quoted(text) +
                                    ": expected a number with an optional unit, like 512m or 1g");
    long double n = to_number(s.substr(0, i), text, kSizeLimit);
    std::string unit;
    for (char c : s.substr(i)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!unit.empty() && unit.back() == 'b' && unit.size() <= 3) unit.pop_back();
    if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();  // "Ki", "Mi"… as Docker tolerates
    long double mult;
    if (unit.empty()) mult = 1;
    else if (unit == "k") mult = 1024.0L;
    else if (unit == "m") mult = 1024.0L * 1024;
    else if (unit == "g") mult = 1024.0L * 1024 * 1024;
    else if (unit == "t") mult = 1024.0L * 1024 * 1024 * 1024;
    else if (unit == "p") mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
    else
        throw ValueError("invalid size " + quoted(text) + ": unknown unit (use b, k, m, g, t or p)");
    long double v = n * mult;
    if (v > 9.2e18L) throw ValueError("value out of range: " + quoted(text) + " (" + kSizeLimit + ")");
    return static_cast<int64_t>(v);
}

std::vector<std::string> shell_split(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                words.push_back(std::move(cur));
                cur.clear();
                in_word = false;
            }
            ++i;
        } else if (c == '\\') {
            in_word = true;
            if (i + 1 < text.size()) {
                if (text[i + 1] != '\n') cur += text[i + 1];  // backslash-newline joins lines
                i += 2;
            } else {
                ++i;  // a trailing backslash is dropped
            }
        } else if (c == '\'') {
            in_word = true;
            size_t end = text.find('\'', i + 1);
            if (end == std::string_view::npos)
                throw ValueError("unterminated single quote in " + quoted(text));
            cur.append(text.substr(i + 1, end - i - 1));
            i = end + 1;
        } else if (c == '"') {
            in_word = true;
            ++i;
            bool closed = false;
            while (i < text.size()) {
                char d = text[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < text.size() &&
                    (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$' ||
                     text[i + 1] == '`' || text[i + 1] == '\n')) {
                    if (text[i + 1] != '\n') cur += text[i + 1];
                    i += 2;
                    continue;
                }
                cur += d;
                ++i;
            }
            if (!closed) throw ValueError("unterminated double quote in " + quoted(text));
        } else {
            in_word = true;
            cur += c;
            ++i;
        }
    }
    if (in_word) words.push_back(std::move(cur));
    return words;
}

std::optional<int> signal_number(std::string_view text) {
    constexpr int kRtMin = 34;      // docker's SIGRTMIN on Linux (glibc keeps 32 and 33)
    constexpr int kMaxSignal = 64;  // SIGRTMAX
    auto small_number = [](std::string_view digits, int max) -> std::optional<int> {
        if (digits.empty() || digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        int n = std::stoi(std::string(digits));
        return n >= 1 && n <= max ? std::optional<int>(n) : std::nullopt;
    };
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos)
        return small_number(text, kMaxSignal);
    std::string name;
    for (char c : text) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
    if (name.empty()) return std::nullopt;
    // docker's real-time names: RTMIN, RTMIN+1…+15, RTMAX-14…-1, RTMAX.
    auto offset = [&](std::string_view base, char sign) -> std::optional<int> {
        if (name.rfind(base, 0) != 0) return std::nullopt;
        std::string_view rest = std::string_view(name).substr(base.size());
        if (rest.empty()) return 0;
        if (rest[0] != sign) return std::nullopt;
        return small_number(rest.substr(1), 15);
    };
    if (auto n = offset("RTMIN", '+')) return kRtMin + *n;
    if (auto n = offset("RTMAX", '-')) return kMaxSignal - *n;
    static const std::pair<const char*, int> aliases[] = {{"CLD", SIGCHLD}, {"IOT", SIGABRT}, {"POLL", SIGIO}};
    for (auto& [alias, sig] : aliases)
        if (name == alias) return sig;
    for (int s = 1; s < 32; ++s)
        if (const char* abbrev = sigabbrev_np(s); abbrev && name == abbrev) return s;
    return std::nullopt;
}

}  // namespace berth::compose
