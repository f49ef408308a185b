// A fake libnccl.so.2 for the CPU emulator: the ranks of a communicator (threads of one process, or processes under
// mpirun) meet in a file mapped into each of them, named after the unique id, so a rank given another id than rank 0's
// never finds the others (ncclCommInitRank times out): the bootstrap's broadcast of the id is really tested.
//
// Stream semantics as NCCL's, in the fake driver's terms: a collective first runs what its stream has queued,
// including the compute-stream work that stream waits for through an event (a missing cuStreamWaitEvent before the
// collective shows up as stale input); it then exchanges the ranks' buffers (blocking, as the collective's kernel
// would) and QUEUES the copy of the result into the receive buffer on its stream (cuMemcpyDtoDAsync), so the result
// appears only when that stream is flushed: a compute stream that reads it without waiting on an event recorded after
// the collective sees the old contents. Each rank also checks that every rank called the same collective with the same
// count, type and root, in the same order. Sums are in rank order.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

typedef int ncclResult_t;
enum { ncclSuccess = 0, ncclSystemError = 2, ncclInvalidArgument = 4, ncclInvalidUsage = 5 };
struct ncclUniqueId { char internal[128]; };

extern "C" int cuMemcpyDtoDAsync_v2(void* dst, const void* src, size_t n, void* stream);
extern "C" void emu_stream_flush(void* stream);

namespace {
const size_t kSlotBytes = 64ull << 20;       // the largest collective buffer a rank may send
const int kMaxRanks = 8;
const auto kPatience = std::chrono::seconds(60);
// What ncclCommGetAsyncError reports (emu_nccl_inject "async_error"): a network failure or a dead peer, as NCCL's
// proxy thread would find it, for the communicator's watchdog to see.
std::atomic<int> g_asyncError{0};
std::atomic<int> g_aborts{0};

struct SlotHeader { int kind, type, root; size_t count; unsigned long long sequence; };
struct Shared
{
    std::atomic<int> size, joined, arrived, generation;
    SlotHeader slots[kMaxRanks];
};

struct Comm
{
    int rank, size;
    Shared* shared;
    char* data; // size slots of kSlotBytes after the header page
    size_t mapped;
    unsigned long long sequence = 0;
    std::vector<char*> results; // read by queued copies; freed with the communicator
};

enum { AllReduce = 1, AllGather, Broadcast };

size_t element_bytes(int type) { return type == 7 || type == 2 ? 4 : type == 8 ? 8 : 0; }

bool barrier(Comm* c)
{
    int generation = c->shared->generation.load();
    if (c->shared->arrived.fetch_add(1) + 1 == c->size)
    {
        c->shared->arrived.store(0);
        c->shared->generation.fetch_add(1);
        return true;
    }
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (c->shared->generation.load() == generation)
    {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

char* slot(Comm* c, int rank) { return c->data + (size_t)rank * kSlotBytes; }

ncclResult_t collective(Comm* c, int kind, const void* send, void* recv, size_t count, int type, int root, void* stream)
{
    size_t bytes = count * element_bytes(type);
    if (!c || element_bytes(type) == 0 || bytes > kSlotBytes || (kind == Broadcast && (root < 0 || root >= c->size)))
        return ncclInvalidArgument;
    emu_stream_flush(stream); // the input is what the stream (and the events it waits on) had queued
    c->sequence++;
    c->shared->slots[c->rank] = SlotHeader{kind, type, root, count, c->sequence};
    memcpy(slot(c, c->rank), send, bytes);
    if (!barrier(c)) { fprintf(stderr, "fake libnccl: rank %d waited %llds for the other ranks\n", c->rank, (long long)kPatience.count()); return ncclSystemError; }
    const SlotHeader& mine = c->shared->slots[c->rank];
    for (int r = 0; r < c->size; r++)
    {
        const SlotHeader& other = c->shared->slots[r];
        if (other.kind != mine.kind || other.type != mine.type || other.root != mine.root || other.count != mine.count || other.sequence != mine.sequence)
        {
            fprintf(stderr, "fake libnccl: collective %llu: rank %d called kind %d of %zu (type %d, root %d), rank %d kind %d of %zu (type %d, root %d)\n",
                    mine.sequence, c->rank, mine.kind, mine.count, mine.type, mine.root, r, other.kind, other.count, other.type, other.root);
            barrier(c);
            return ncclInvalidUsage;
        }
    }
    size_t out = kind == AllGather ? bytes * c->size : bytes;
    char* result = (char*)malloc(out ? out : 1);
    if (kind == AllGather)
        for (int r = 0; r < c->size; r++) memcpy(result + r * bytes, slot(c, r), bytes);
    else if (kind == Broadcast)
        memcpy(result, slot(c, root), bytes);
    else
        for (size_t i = 0; i < count; i++)
        {
            if (type == 7) { float s = 0; for (int r = 0; r < c->size; r++) s += ((float*)slot(c, r))[i]; ((float*)result)[i] = s; }
            else if (type == 8) { double s = 0; for (int r = 0; r < c->size; r++) s += ((double*)slot(c, r))[i]; ((double*)result)[i] = s; }
            else { int s = 0; for (int r = 0; r < c->size; r++) s += ((int*)slot(c, r))[i]; ((int*)result)[i] = s; }
        }
    if (!barrier(c)) return ncclSystemError; // nobody overwrites a slot before every rank has read it
    c->results.push_back(result);
    return out ? (cuMemcpyDtoDAsync_v2(recv, result, out, stream) == 0 ? ncclSuccess : ncclSystemError) : ncclSuccess;
}

void release(Comm* c)
{
    munmap(c->shared, c->mapped);
    for (char* r : c->results) free(r);
    delete c;
}
} // namespace

extern "C" {
ncclResult_t ncclGetVersion(int* version) { *version = 22105; return ncclSuccess; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id)
{
    memset(id->internal, 0, sizeof id->internal);
    unsigned long long token = (unsigned long long)std::chrono::steady_clock::now().time_since_epoch().count() ^ ((unsigned long long)getpid() << 32);
    snprintf(id->internal, sizeof id->internal, "vicreg-fake-nccl-%d-%llx", getpid(), token);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(void** comm, int nranks, ncclUniqueId id, int rank)
{
    if (nranks < 1 || nranks > kMaxRanks || rank < 0 || rank >= nranks) return ncclInvalidArgument;
    if (strncmp(id.internal, "vicreg-fake-nccl-", 17) != 0) { fprintf(stderr, "fake libnccl: not an id from ncclGetUniqueId\n"); return ncclInvalidArgument; }
    std::string path = std::string("/dev/shm/") + std::string(id.internal, strnlen(id.internal, sizeof id.internal));
    int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0) return ncclSystemError;
    size_t mapped = 4096 + (size_t)nranks * kSlotBytes;
    if (ftruncate(fd, (off_t)mapped) != 0) { close(fd); return ncclSystemError; }
    void* base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return ncclSystemError;
    auto* c = new Comm{rank, nranks, (Shared*)base, (char*)base + 4096, mapped};
    int expected = 0;
    if (!c->shared->size.compare_exchange_strong(expected, nranks) && expected != nranks)
    {
        fprintf(stderr, "fake libnccl: rank %d says %d ranks, another said %d\n", rank, nranks, expected);
        release(c);
        return ncclInvalidUsage;
    }
    c->shared->joined.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (c->shared->joined.load() < nranks)
    {
        if (std::chrono::steady_clock::now() > deadline)
        {
            fprintf(stderr, "fake libnccl: rank %d of %d: the other ranks never joined %s\n", rank, nranks, path.c_str());
            release(c);
            return ncclSystemError;
        }
        std::this_thread::yield();
    }
    if (!barrier(c)) { release(c); return ncclSystemError; }
    if (rank == 0) unlink(path.c_str()); // every rank has it mapped: the name is no longer needed
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(void* comm) { if (comm) release((Comm*)comm); return ncclSuccess; }
ncclResult_t ncclCommAbort(void* comm) { g_aborts.fetch_add(1); return ncclCommDestroy(comm); }
ncclResult_t ncclCommGetAsyncError(void*, ncclResult_t* error) { *error = g_asyncError.load(); return ncclSuccess; }

// Fault injection for the tests: async_error (the ncclResult_t ncclCommGetAsyncError reports; 0 = none);
// aborts_seen (returns how many communicators ncclCommAbort has ended, and resets the count).
long emu_nccl_inject(const char* fault, long value)
{
    if (strcmp(fault, "async_error") == 0) { g_asyncError.store((int)value); return 0; }
    if (strcmp(fault, "aborts_seen") == 0) return g_aborts.exchange(0);
    fprintf(stderr, "fake libnccl: unknown fault '%s'\n", fault);
    return -1;
}

const char* ncclGetErrorString(ncclResult_t r)
{
    switch (r)
    {
    case ncclSuccess: return "no error";
    case ncclSystemError: return "unhandled system error (fake libnccl)";
    case ncclInvalidArgument: return "invalid argument (fake libnccl)";
    case ncclInvalidUsage: return "invalid usage (fake libnccl)";
    default: return "unknown result (fake libnccl)";
    }
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int type, int op, void* comm, void* stream)
{
    if (op != 0) return ncclInvalidArgument; // only ncclSum is emulated
    return collective((Comm*)comm, AllReduce, send, recv, count, type, 0, stream);
}
ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, int type, void* comm, void* stream)
{
    return collective((Comm*)comm, AllGather, send, recv, count, type, 0, stream);
}
ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, int type, int root, void* comm, void* stream)
{
    return collective((Comm*)comm, Broadcast, send, recv, count, type, root, stream);
}
ncclResult_t ncclReduceScatter(const void*, void*, size_t, int, int, void*, void*) { return ncclInvalidUsage; } // not emulated
ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }
}
