// C++ containers: std::map, std::unordered_map, std::vector growth and std::string, all through new/delete.
#include <map>
#include <string>
#include <unordered_map>
#include <vector>
extern "C" {
#include "common.h"
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 3000;
    size_t sink = 0;
    for (long r = 0; r < rounds; r++) {
        std::map<int, std::string> names;
        std::unordered_map<std::string, int> ids;
        std::vector<std::string> order;
        for (int i = 0; i < 100; i++) {
            std::string name = "customer-number-" + std::to_string(r * 100 + i);
            names[i] = name;
            ids[name] = i;
            order.push_back(name);
        }
        for (auto &entry : names) sink += entry.second.size();
        sink += ids.size() + order.size();
    }
    bench_report();
    return (int)(sink & 0);
}
