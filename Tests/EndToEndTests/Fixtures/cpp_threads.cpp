// Four threads that throw exceptions through ten frames and catch them, with std::string and std::vector
// churn, each leaking exactly 100 blocks of 16 bytes from one function. Prints a checksum that must not
// change under the shim.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static int *volatile sink;

__attribute__((noinline)) void leak_in_worker(int i) {
    sink = new int[4]{i, i, i, i}; // 16 bytes, never deleted
}

__attribute__((noinline)) int thrower(int depth, int value) {
    std::string label = "frame " + std::to_string(depth) + " carrying a value long enough for the heap";
    if (depth == 0) throw std::runtime_error(label + " " + std::to_string(value));
    return thrower(depth - 1, value) + static_cast<int>(label.size());
}

static void worker(int id, long *checksum) {
    long sum = 0;
    for (int i = 0; i < 2000; i++) {
        std::vector<std::string> words;
        for (int w = 0; w < 8; w++) words.push_back(std::string(24 + w, static_cast<char>('a' + w)));
        try {
            sum += thrower(10, i);
        } catch (const std::runtime_error &error) {
            sum += static_cast<long>(std::string(error.what()).size()) + static_cast<long>(words.size());
        }
        if (i % 20 == 0) leak_in_worker(id);
    }
    *checksum = sum;
}

int main() {
    long sums[4] = {0, 0, 0, 0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) threads.emplace_back(worker, t, &sums[t]);
    for (auto &thread : threads) thread.join();
    std::printf("checksum %ld\n", sums[0] + sums[1] + sums[2] + sums[3]);
    return 0;
}
