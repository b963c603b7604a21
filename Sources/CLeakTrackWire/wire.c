// The wire format is header-only; compiling it here checks its _Static_asserts on the Swift side's compiler.
#include "leaktrack_wire.h"
