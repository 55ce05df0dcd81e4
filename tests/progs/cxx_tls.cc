/*
 * cxx_tls - C++ runtime features inside threads: thread_local objects with non-trivial
 * destructors, std::thread, exceptions, std::mutex and std::condition_variable,
 * std::future carrying an exception, and backtrace().
 *
 * Usage: cxx_tls [threads=32] [rounds=50]
 *
 * Checks, one `name=value` line each (all deterministic), then CXX=ok or CXX=FAIL:
 *   tl_ctors / tl_dtors      every thread constructs its thread_local Counted and a
 *                            thread_local std::vector once, and their destructors have run
 *                            (on the exiting thread itself) by the time join returns;
 *   tl_dtor_context          each destructor saw its own thread's data;
 *   exceptions_caught        threads × rounds exceptions thrown through frames with RAII
 *                            guards (all guards unwound) and caught, some across a
 *                            condition-variable wait;
 *   raii_balance             guards constructed minus destroyed, 0;
 *   cv_total                 a producer/consumer pair over std::mutex + condition_variable;
 *   future_exception         an exception thrown in a std::async thread reaches get();
 *   backtrace                backtrace() in a thread returns a sane depth (>= 4, < 128)
 *                            and backtrace_symbols works (the process does not crash).
 */
#include <execinfo.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::atomic<long> tl_ctors{0}, tl_dtors{0}, vec_dtors{0}, dtor_bad{0};
static std::atomic<long> caught{0}, raii_live{0}, bt_bad{0};
static thread_local long my_id = -1;

struct Counted {
	long id;
	pthread_t self;
	Counted() : id(my_id), self(pthread_self()) { tl_ctors++; }
	~Counted()
	{
		if (id != my_id || !pthread_equal(self, pthread_self()))
			dtor_bad++;
		tl_dtors++;
	}
};

struct VecHolder {
	std::vector<std::string> v;
	VecHolder() : v(16, std::string(100, 'x')) {}
	~VecHolder()
	{
		if (v.size() != 16 || v[15].size() != 100)
			dtor_bad++;
		vec_dtors++;
	}
};

static thread_local Counted counted;
static thread_local VecHolder holder;

struct Guard {
	Guard() { raii_live++; }
	~Guard() { raii_live--; }
};

static std::mutex gate_mu;
static std::condition_variable gate_cv;
static long gate_tick;

__attribute__((noinline)) static void thrower(long id, int round)
{
	Guard g;
	if (round % 3 == 0) {
		/* block before throwing: the exception is raised after a possible migration */
		std::unique_lock<std::mutex> lk(gate_mu);
		gate_tick++;
		gate_cv.notify_all();
		gate_cv.wait_for(lk, std::chrono::microseconds(100));
	}
	throw std::runtime_error("thread " + std::to_string(id) + " round " +
				 std::to_string(round));
}

__attribute__((noinline)) static void middle(long id, int round)
{
	Guard g;
	std::string s(64, 'y');
	thrower(id, round);
	s += "unreachable";
}

__attribute__((noinline)) static int bt_leaf(void)
{
	void *frames[128];
	int n = backtrace(frames, 128);
	char **syms = backtrace_symbols(frames, n);
	if (!syms)
		return -1;
	std::free(syms);
	return n;
}

__attribute__((noinline)) static int bt_mid(void)
{
	int n = bt_leaf();
	__asm__ volatile("" ::: "memory");
	return n;
}

static void worker(long id, int rounds)
{
	my_id = id;
	(void)counted.id;	/* construct the thread_locals in this thread */
	(void)holder.v.size();
	for (int r = 0; r < rounds; r++) {
		try {
			middle(id, r);
		} catch (const std::runtime_error &e) {
			std::string want = "thread " + std::to_string(id) + " round " +
					   std::to_string(r);
			if (want == e.what())
				caught++;
		}
	}
	int n = bt_mid();
	if (n < 4 || n >= 128)
		bt_bad++;
}

int main(int argc, char **argv)
{
	long nthreads = argc > 1 ? std::atol(argv[1]) : 32;
	int rounds = argc > 2 ? std::atoi(argv[2]) : 50;
	if (nthreads <= 0 || rounds <= 0) {
		std::fprintf(stderr, "usage: %s [threads>0] [rounds>0]\n", argv[0]);
		return 2;
	}
	std::setvbuf(stdout, nullptr, _IOLBF, 0);

	std::vector<std::thread> ts;
	for (long i = 0; i < nthreads; i++)
		ts.emplace_back(worker, i, rounds);
	for (auto &t : ts)
		t.join();

	/* producer/consumer over std::mutex + std::condition_variable */
	std::mutex mu;
	std::condition_variable cv;
	std::vector<int> queue;
	bool done = false;
	long total = 0;
	std::thread consumer([&] {
		std::unique_lock<std::mutex> lk(mu);
		for (;;) {
			cv.wait(lk, [&] { return !queue.empty() || done; });
			while (!queue.empty()) {
				total += queue.back();
				queue.pop_back();
			}
			if (done)
				break;
		}
	});
	std::thread producer([&] {
		for (int i = 1; i <= 1000; i++) {
			std::lock_guard<std::mutex> lk(mu);
			queue.push_back(i);
			cv.notify_one();
		}
		std::lock_guard<std::mutex> lk(mu);
		done = true;
		cv.notify_one();
	});
	producer.join();
	consumer.join();

	std::string fut = "none";
	auto f = std::async(std::launch::async,
			    []() -> int { throw std::logic_error("from async"); });
	try {
		f.get();
	} catch (const std::logic_error &e) {
		fut = std::string(e.what()) == "from async" ? "ok" : "wrong";
	}

	int main_bt = bt_mid();

	long want_exc = nthreads * rounds;
	std::printf("threads=%ld rounds=%d\n", nthreads, rounds);
	std::printf("tl_ctors=%ld\n", tl_ctors.load());
	std::printf("tl_dtors=%ld\n", tl_dtors.load());
	std::printf("vec_dtors=%ld\n", vec_dtors.load());
	std::printf("tl_dtor_context=%s\n", dtor_bad.load() ? "FAIL" : "ok");
	std::printf("exceptions_caught=%ld\n", caught.load());
	std::printf("raii_balance=%ld\n", raii_live.load());
	std::printf("cv_total=%ld\n", total);
	std::printf("future_exception=%s\n", fut.c_str());
	std::printf("backtrace=%s\n", bt_bad.load() == 0 && main_bt >= 3 ? "ok" : "FAIL");
	/* Only worker() touches the thread_locals, so the counts are exactly nthreads. */
	bool ok = tl_ctors == nthreads && tl_dtors == nthreads && vec_dtors == nthreads &&
		  dtor_bad == 0 && caught == want_exc && raii_live == 0 && total == 500500 &&
		  fut == "ok" && bt_bad == 0 && main_bt >= 3;
	std::printf("CXX=%s\n", ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
