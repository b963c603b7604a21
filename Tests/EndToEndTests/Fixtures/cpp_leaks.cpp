// C++ leaks through new, std::vector growth, std::string and std::make_shared. The program prints the
// sizes the test must find, so the test needs no knowledge of libstdc++'s layouts.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

struct Widget {
    int data[25];
};

static Widget *g_widget;
static std::vector<int> *g_vector;
static std::string *g_string;
static std::shared_ptr<Widget> *g_shared;

__attribute__((noinline)) void leak_new() {
    g_widget = new Widget();
}

__attribute__((noinline)) void grow_vector() {
    auto *v = new std::vector<int>();
    for (int i = 0; i < 100; i++) v->push_back(i);
    g_vector = v;
}

__attribute__((noinline)) void make_string() {
    g_string = new std::string(200, 'x');
}

__attribute__((noinline)) void make_shared_widget() {
    g_shared = new std::shared_ptr<Widget>(std::make_shared<Widget>());
}

int main() {
    leak_new();
    grow_vector();
    make_string();
    make_shared_widget();
    // What each line above left allocated.
    std::printf("widget %zu\n", sizeof(Widget));
    std::printf("vector %zu %zu\n", sizeof(std::vector<int>), g_vector->capacity() * sizeof(int));
    std::printf("string %zu %zu\n", sizeof(std::string), g_string->capacity() + 1);
    std::printf("shared %zu %zu\n", sizeof(std::shared_ptr<Widget>),
                sizeof(std::_Sp_counted_ptr_inplace<Widget, std::allocator<Widget>, __gnu_cxx::_S_atomic>));
    return 0;
}
