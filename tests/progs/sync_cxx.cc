// sync_cxx - libstdc++'s synchronization under green: std::mutex, recursive_timed_mutex,
// condition_variable::wait_for, shared_mutex, std::async/future, std::atomic wait/notify
// (syscall(SYS_futex) inside libstdc++), counting_semaphore, latch, barrier, jthread with
// stop_token.  Prints `name=value` lines and check=ok when every count is exact.
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <latch>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

static int failures;

static void report(const char *name, long got, long want)
{
	std::printf("%s=%ld/%ld\n", name, got, want);
	if (got != want)
		failures++;
}

int main(int argc, char **argv)
{
	int T = argc > 1 ? std::atoi(argv[1]) : 16;
	int N = argc > 2 ? std::atoi(argv[2]) : 2000;
	std::setvbuf(stdout, nullptr, _IOLBF, 0);

	{ // std::mutex
		std::mutex m;
		long c = 0;
		std::vector<std::thread> ts;
		for (int i = 0; i < T; i++)
			ts.emplace_back([&] {
				for (int k = 0; k < N; k++) {
					std::lock_guard g(m);
					c++;
				}
			});
		for (auto &t : ts)
			t.join();
		report("std_mutex", c, (long)T * N);
	}
	{ // recursive_timed_mutex, try_lock_for
		std::recursive_timed_mutex m;
		m.lock();
		m.lock();
		bool other = true;
		std::thread([&] { other = m.try_lock_for(20ms); }).join();
		m.unlock();
		m.unlock();
		report("timed_mutex_other_timed_out", !other, 1);
	}
	{ // condition_variable::wait_for: a timeout, then a notification
		std::mutex m;
		std::condition_variable cv;
		bool ready = false;
		std::unique_lock l(m);
		auto t0 = std::chrono::steady_clock::now();
		bool got = cv.wait_for(l, 20ms, [&] { return ready; });
		report("cv_wait_for_timeout", !got && std::chrono::steady_clock::now() - t0 >= 15ms, 1);
		std::thread t([&] {
			std::lock_guard g(m);
			ready = true;
			cv.notify_one();
		});
		got = cv.wait_for(l, 10s, [&] { return ready; });
		l.unlock();
		t.join();
		report("cv_wait_for_notified", got, 1);
	}
	{ // shared_mutex
		std::shared_mutex sm;
		long a = 0, b = 0, bad = 0;
		std::atomic<long> reads{0};
		std::vector<std::thread> ts;
		for (int i = 0; i < T; i++)
			ts.emplace_back([&, i] {
				for (int k = 0; k < N; k++) {
					if ((k + i) % 4 == 0) {
						std::unique_lock g(sm);
						a++;
						b++;
					} else {
						std::shared_lock g(sm);
						if (a != b)
							bad++;
						reads++;
					}
				}
			});
		for (auto &t : ts)
			t.join();
		report("shared_mutex_writes_plus_reads", a + reads, (long)T * N);
		report("shared_mutex_torn", bad, 0);
	}
	{ // std::async and futures (libstdc++'s __atomic_futex_unsigned)
		std::vector<std::future<long>> fs;
		for (int i = 0; i < T; i++)
			fs.push_back(std::async(std::launch::async, [i] { return (long)i; }));
		long sum = 0;
		for (auto &f : fs)
			sum += f.get();
		report("async_sum", sum, (long)T * (T - 1) / 2);
		std::promise<int> p;
		auto f = p.get_future();
		bool timed_out = f.wait_for(10ms) == std::future_status::timeout;
		std::thread t([&] { p.set_value(42); });
		report("future_value", f.get(), 42);
		t.join();
		report("future_wait_for_timeout", timed_out, 1);
	}
	{ // std::atomic wait/notify: a ping-pong
		std::atomic<int> turn{0};
		long hops = 0;
		std::thread t([&] {
			for (int k = 0; k < N; k++) {
				turn.wait(0);
				hops++;
				turn.store(0);
				turn.notify_one();
			}
		});
		for (int k = 0; k < N; k++) {
			turn.store(1);
			turn.notify_one();
			turn.wait(1);
		}
		t.join();
		report("atomic_wait_hops", hops, N);
	}
	{ // counting_semaphore, latch, barrier
		std::counting_semaphore<> sem(2);
		std::atomic<int> inside{0}, peak{0};
		std::latch done(T);
		std::barrier bar(T);
		std::atomic<int> phases{0};
		std::vector<std::thread> ts;
		for (int i = 0; i < T; i++)
			ts.emplace_back([&] {
				for (int k = 0; k < 50; k++) {
					sem.acquire();
					int n = ++inside;
					int p = peak.load();
					while (n > p && !peak.compare_exchange_weak(p, n))
						;
					--inside;
					sem.release();
					bar.arrive_and_wait();
				}
				phases++;
				done.count_down();
			});
		done.wait();
		for (auto &t : ts)
			t.join();
		report("semaphore_peak_le_2", peak.load() <= 2, 1);
		report("barrier_threads", phases.load(), T);
	}
	{ // jthread and stop_token with condition_variable_any
		std::mutex m;
		std::condition_variable_any cv;
		long loops = 0;
		{
			std::jthread jt([&](std::stop_token st) {
				std::unique_lock l(m);
				while (!st.stop_requested()) {
					cv.wait(l, st, [] { return false; });
					loops++;
				}
			});
			std::this_thread::sleep_for(5ms);
		} // request_stop + join
		report("jthread_stopped", loops >= 1, 1);
	}
	std::printf("check=%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
