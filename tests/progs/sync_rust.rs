// sync_rust - Rust std's synchronization under green: Mutex, Condvar (wait_timeout),
// RwLock, Barrier, mpsc channels, thread::park/unpark, thread::scope, Once and atomics.
// std's futex-based primitives call libc's syscall(SYS_futex, ...), which green emulates.
// Prints `name=got/want` lines and check=ok when every count is exact.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex, Once, RwLock};
use std::thread;
use std::time::{Duration, Instant};

static mut FAILURES: u32 = 0;

fn report(name: &str, got: u64, want: u64) {
    println!("{}={}/{}", name, got, want);
    if got != want {
        unsafe { FAILURES += 1 };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let t: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);

    // Mutex
    let m = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..t)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..n {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    report("mutex", *m.lock().unwrap(), (t * n) as u64);

    // Condvar: a timeout, then a producer/consumer count
    let pair = Arc::new((Mutex::new(0usize), Condvar::new()));
    {
        let (l, c) = &*pair;
        let g = l.lock().unwrap();
        let t0 = Instant::now();
        let (_g, r) = c.wait_timeout(g, Duration::from_millis(20)).unwrap();
        report("condvar_timeout", (r.timed_out() && t0.elapsed() >= Duration::from_millis(15)) as u64, 1);
    }
    let producers: Vec<_> = (0..t)
        .map(|_| {
            let p = pair.clone();
            thread::spawn(move || {
                for _ in 0..n {
                    let (l, c) = &*p;
                    *l.lock().unwrap() += 1;
                    c.notify_one();
                }
            })
        })
        .collect();
    {
        let (l, c) = &*pair;
        let mut g = l.lock().unwrap();
        while *g < t * n {
            g = c.wait(g).unwrap();
        }
        report("condvar_items", *g as u64, (t * n) as u64);
    }
    for h in producers {
        h.join().unwrap();
    }

    // RwLock
    let rw = Arc::new(RwLock::new((0u64, 0u64)));
    let torn = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..t)
        .map(|i| {
            let rw = rw.clone();
            let torn = torn.clone();
            thread::spawn(move || {
                for k in 0..n {
                    if (k + i) % 4 == 0 {
                        let mut w = rw.write().unwrap();
                        w.0 += 1;
                        w.1 += 1;
                    } else {
                        let r = rw.read().unwrap();
                        if r.0 != r.1 {
                            torn.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    report("rwlock_torn", torn.load(Ordering::Relaxed) as u64, 0);

    // Barrier: exactly one leader per round
    let b = Arc::new(Barrier::new(t));
    let leaders = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..t)
        .map(|_| {
            let b = b.clone();
            let leaders = leaders.clone();
            thread::spawn(move || {
                for _ in 0..100 {
                    if b.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    report("barrier_leaders", leaders.load(Ordering::Relaxed) as u64, 100);

    // mpsc: bounded and unbounded channels
    let (tx, rx) = mpsc::sync_channel::<u64>(4);
    let hs: Vec<_> = (0..t)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for _ in 0..n {
                    tx.send(1).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let sum: u64 = rx.iter().sum();
    for h in hs {
        h.join().unwrap();
    }
    report("mpsc_sync_sum", sum, (t * n) as u64);
    let (tx, rx) = mpsc::channel::<u64>();
    let h = thread::spawn(move || (0..n as u64).for_each(|i| tx.send(i).unwrap()));
    let sum: u64 = rx.iter().sum();
    h.join().unwrap();
    report("mpsc_sum", sum, (n as u64) * (n as u64 - 1) / 2);
    let (_tx, rx) = mpsc::channel::<u64>();
    report("mpsc_recv_timeout", rx.recv_timeout(Duration::from_millis(10)).is_err() as u64, 1);

    // park/unpark ping-pong
    let flag = Arc::new(AtomicBool::new(false));
    let main = thread::current();
    let f2 = flag.clone();
    let h = thread::spawn(move || {
        for _ in 0..n {
            while !f2.swap(false, Ordering::AcqRel) {
                thread::park();
            }
            main.unpark();
        }
    });
    let mut hops = 0u64;
    for _ in 0..n {
        flag.store(true, Ordering::Release);
        h.thread().unpark();
        // Until the child has taken the flag: park may return early (a token an earlier
        // section left, or the timeout), and a second store before the child's swap
        // would be lost, leaving the child parked for good (natively too).
        while flag.load(Ordering::Acquire) {
            thread::park_timeout(Duration::from_millis(100));
        }
        hops += 1;
    }
    h.join().unwrap();
    report("park_hops", hops, n as u64);

    // scope + Once
    static ONCE: Once = Once::new();
    let runs = AtomicUsize::new(0);
    let count = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..t {
            s.spawn(|| {
                ONCE.call_once(|| {
                    runs.fetch_add(1, Ordering::Relaxed);
                });
                count.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    report("scope_threads", count.load(Ordering::Relaxed) as u64, t as u64);
    report("once_runs", runs.load(Ordering::Relaxed) as u64, 1);

    let f = unsafe { FAILURES };
    println!("check={}", if f == 0 { "ok" } else { "FAIL" });
    std::process::exit(if f == 0 { 0 } else { 1 });
}
