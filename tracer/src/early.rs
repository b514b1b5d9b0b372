//! Hashing while the command runs, on the core it leaves idle, so that the
//! end of the run only confirms: an input is hashed as soon as it is opened
//! (its content then is what was read), an output as soon as it is closed
//! (inotify IN_CLOSE_WRITE on the directories the job writes in, and
//! IN_MOVED_TO for write-then-rename). Results go into the hasher's
//! in-run map, keyed by file identity; at the end a file whose identity is
//! unchanged is not read again, and one that changed is (so a file changed
//! later in place is still caught).
//!
//! The worker is one thread at SCHED_IDLE (and the idle I/O class): it
//! never takes a core or the disk from the command or the event loop, and
//! on a busy machine it simply does nothing and the end of the run hashes
//! as before. A file is hashed only once its ctime is older than
//! `SETTLED_IN_RUN_NS`, and only while nobody has it open for writing
//! (see `hash.rs`).

use crate::hash::{now_ns, Hasher, Role, SETTLED_IN_RUN_NS};
use crate::hash_cache::Identity;
use crate::paths::{as_path, split_parent};
use crate::signals;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;
use std::thread::{Scope, ScopedJoinHandle};

/// While work comes in, the worker naps this long between looks instead of
/// being woken for each file (a wake-up is a system call on the event
/// loop's path)...
const NAP_MS: i32 = 10;
/// ...and after this many empty naps it sleeps until woken.
const DEEP_SLEEP_AFTER_NAPS: u32 = 10;

#[derive(Default)]
struct State {
    queue: VecDeque<(Vec<u8>, Role)>,
    /// Watched directories by inotify watch descriptor.
    dirs: HashMap<i32, Vec<u8>>,
    /// The worker sleeps until woken: a push must wake it.
    sleeping: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: OwnedFd,
    inotify: OwnedFd,
    /// The worker's thread id, to lift its idle priority when the end of
    /// the run waits for it.
    tid: AtomicI32,
    /// Set when the run ends: a big file in hand is left to the end's
    /// parallel pass.
    abandon: AtomicBool,
}

/// The event loop's handle on the worker.
pub struct Early<'s> {
    shared: &'s Shared,
    watched: HashSet<Vec<u8>>,
    worker: Option<ScopedJoinHandle<'s, ()>>,
}

/// What `Early::start` needs to outlive the worker.
pub struct Resources {
    shared: Shared,
}

impl Resources {
    pub fn new() -> io::Result<Resources> {
        // SAFETY: plain syscalls creating fds we own.
        let (wake, inotify) = unsafe {
            let wake = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
            if wake < 0 {
                return Err(io::Error::last_os_error());
            }
            let wake = OwnedFd::from_raw_fd(wake);
            let inotify = libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK);
            if inotify < 0 {
                return Err(io::Error::last_os_error());
            }
            (wake, OwnedFd::from_raw_fd(inotify))
        };
        Ok(Resources {
            shared: Shared {
                state: Mutex::new(State::default()),
                wake,
                inotify,
                tid: AtomicI32::new(0),
                abandon: AtomicBool::new(false),
            },
        })
    }
}

fn wake(fd: RawFd) {
    let one = 1u64;
    // SAFETY: writing 8 bytes to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

impl<'s> Early<'s> {
    /// Starts the worker in `scope`. Call after the command is forked: the
    /// tracer must have one thread when it forks.
    pub fn start<'e>(
        scope: &'s Scope<'s, 'e>,
        resources: &'s Resources,
        hasher: &'s Hasher,
    ) -> Early<'s> {
        let shared = &resources.shared;
        signals::ignore_lease_breaks();
        let worker = std::thread::Builder::new()
            .name("roar-early-hash".into())
            .spawn_scoped(scope, move || work(shared, hasher))
            .ok();
        Early {
            shared,
            watched: HashSet::new(),
            worker,
        }
    }

    fn push(&self, path: &[u8], role: Role) {
        let Ok(mut state) = self.shared.state.lock() else {
            return;
        };
        state.queue.push_back((path.to_vec(), role));
        if std::mem::take(&mut state.sleeping) {
            wake(self.shared.wake.as_raw_fd());
        }
    }

    /// A file the command opened for reading.
    pub fn input(&mut self, path: &[u8]) {
        if self.worker.is_some() {
            self.push(path, Role::Input);
        }
    }

    /// A file the command writes: hashed once closed.
    pub fn output(&mut self, path: &[u8]) {
        if self.worker.is_none() {
            return;
        }
        let Some((dir, _)) = split_parent(path) else {
            return;
        };
        if self.watched.contains(dir) {
            return;
        }
        self.watched.insert(dir.to_vec());
        let Ok(c_dir) = CString::new(dir) else {
            return;
        };
        // SAFETY: a NUL-terminated path and our inotify fd.
        let wd = unsafe {
            libc::inotify_add_watch(
                self.shared.inotify.as_raw_fd(),
                c_dir.as_ptr(),
                libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO | libc::IN_ONLYDIR,
            )
        };
        if wd >= 0 {
            if let Ok(mut state) = self.shared.state.lock() {
                state.dirs.insert(wd, dir.to_vec());
            }
        }
    }

    /// Stops the worker (it drops a big file in hand, finishes a small one
    /// at normal priority) and waits for it. What it did not get to is
    /// hashed at the end.
    pub fn stop(mut self) {
        self.shared.abandon.store(true, Ordering::SeqCst);
        if let Ok(mut state) = self.shared.state.lock() {
            state.stop = true;
        }
        wake(self.shared.wake.as_raw_fd());
        let tid = self.shared.tid.load(Ordering::SeqCst);
        if tid > 0 {
            set_policy(tid, libc::SCHED_OTHER);
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn set_policy(tid: libc::pid_t, policy: libc::c_int) {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: the kernel reads one sched_param.
    unsafe { libc::sched_setscheduler(tid, policy, &param) };
}

/// When `path` may be hashed (now, or later if its ctime is too recent),
/// with its stat; None if it is not a regular file any more.
fn due(path: &[u8]) -> Option<(i64, std::fs::Metadata)> {
    let meta = std::fs::metadata(as_path(path))
        .ok()
        .filter(|m| m.is_file())?;
    let at = Identity::of(&meta).ctime_ns + SETTLED_IN_RUN_NS + 1_000_000;
    Some((at, meta))
}

fn work(shared: &Shared, hasher: &Hasher) {
    signals::block_in_this_thread();
    // SAFETY: gettid has no arguments.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
    shared.tid.store(tid, Ordering::SeqCst);
    set_policy(0, libc::SCHED_IDLE);
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    const IOPRIO_CLASS_IDLE: libc::c_int = 3;
    // SAFETY: ioprio_set takes no pointers; 0 is the calling thread.
    unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            IOPRIO_CLASS_IDLE << 13,
        )
    };
    // Files not yet settled, by when they will be.
    let mut later: Vec<(i64, Vec<u8>, Role)> = Vec::new();
    let mut events = vec![0u8; 64 * 1024];
    let mut idle_naps = 0;
    loop {
        let mut work: Vec<(Vec<u8>, Role)> = {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            if state.stop {
                return;
            }
            state.queue.drain(..).collect()
        };
        work.extend(
            closed_files(shared, &mut events)
                .into_iter()
                .map(|p| (p, Role::Output)),
        );
        let now = now_ns();
        let (ready, waiting): (Vec<_>, Vec<_>) = later.drain(..).partition(|(at, _, _)| *at <= now);
        later = waiting;
        work.extend(ready.into_iter().map(|(_, p, role)| (p, role)));
        idle_naps = if work.is_empty() { idle_naps + 1 } else { 0 };
        for (path, role) in work {
            if shared.state.lock().map(|s| s.stop).unwrap_or(true) {
                return;
            }
            match due(&path) {
                Some((at, _)) if at > now_ns() => later.push((at, path, role)),
                Some((_, stat)) => {
                    let _ = hasher.hash_in_background(as_path(&path), stat, &shared.abandon, role);
                }
                None => {}
            }
        }
        // Nap briefly while work comes in (the event loop need not wake us:
        // a push is then just a locked append); after a quiet spell, sleep
        // until woken, by a push, a closed file or a file settling.
        let settles = later
            .iter()
            .map(|(at, _, _)| ((at - now_ns()).max(0) / 1_000_000 + 1) as i32)
            .min();
        let timeout = if idle_naps < DEEP_SLEEP_AFTER_NAPS {
            settles.map_or(NAP_MS, |ms| ms.min(NAP_MS))
        } else {
            settles.unwrap_or(-1)
        };
        {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            if state.stop {
                return;
            }
            if !state.queue.is_empty() {
                continue;
            }
            state.sleeping = timeout < 0;
        }
        let mut fds = [
            libc::pollfd {
                fd: shared.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: shared.inotify.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a live array of two pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if fds[0].revents != 0 {
            let mut counter = 0u64;
            // SAFETY: reading the eventfd's 8-byte counter (non-blocking).
            unsafe {
                libc::read(
                    shared.wake.as_raw_fd(),
                    (&mut counter as *mut u64).cast(),
                    8,
                )
            };
        }
        if let Ok(mut state) = shared.state.lock() {
            state.sleeping = false;
        }
    }
}

/// The files closed after writing (or renamed into place) in watched
/// directories since the last call.
fn closed_files(shared: &Shared, buf: &mut [u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        // SAFETY: reading inotify events into our buffer (non-blocking fd).
        let n = unsafe {
            libc::read(
                shared.inotify.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n <= 0 {
            return out;
        }
        let Ok(state) = shared.state.lock() else {
            return out;
        };
        let mut at = 0usize;
        let header = std::mem::size_of::<libc::inotify_event>();
        while at + header <= n as usize {
            // SAFETY: the kernel wrote whole events; read_unaligned copes
            // with the byte buffer's alignment.
            let event: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
            let name_at = at + header;
            let name_end = (name_at + event.len as usize).min(n as usize);
            let name = &buf[name_at..name_end];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(dir) = state.dirs.get(&event.wd) {
                if !name.is_empty() {
                    let mut path = dir.clone();
                    if path.as_slice() != b"/" {
                        path.push(b'/');
                    }
                    path.extend_from_slice(std::ffi::OsStr::from_bytes(name).as_bytes());
                    out.push(path);
                }
            }
            at = name_end;
        }
    }
}
