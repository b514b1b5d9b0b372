//! One trapped call, whichever mechanism delivered it (a user notification
//! or a ptrace stop): decode it, read its paths out of the waiting process,
//! and tell the recorder. Reading and recording are two steps so that the
//! user-notification loop can check, in between, that the process is still
//! the one that made the call (its pid could have been reused).

use crate::classify::Recorder;
use crate::memory;
use crate::paths::{absolute, to_bytes};
use crate::program::privileged_program;
use crate::ptrace::Pid;
use crate::seccomp::AUDIT_ARCH_NATIVE;
use crate::syscalls::{self, Call};
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

/// A trapped call with its paths read, absolute.
#[derive(Debug, Clone)]
pub enum Event {
    Open {
        path: Vec<u8>,
        flags: i32,
    },
    Truncate(Vec<u8>),
    Rename {
        old: Vec<u8>,
        new: Vec<u8>,
        flags: u32,
    },
    Link(Vec<u8>),
    Unlink {
        path: Vec<u8>,
        flags: i32,
    },
    Mkdir(Vec<u8>),
    Mknod {
        path: Vec<u8>,
        mode: u32,
    },
    Exec(Vec<u8>),
    Chdir,
}

impl Event {
    /// True for calls that change no file (a read-only open, an exec, a
    /// chdir): they can be recorded after the caller runs on, since no
    /// "before" needs to be seen. Everything else is recorded first.
    pub fn changes_nothing(&self) -> bool {
        match self {
            Event::Open { flags, .. } => {
                flags & libc::O_ACCMODE == libc::O_RDONLY
                    && flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_TMPFILE) == 0
            }
            Event::Exec(_) | Event::Chdir => true,
            _ => false,
        }
    }
}

pub struct Observer<'a, 'h> {
    pub recorder: &'a mut Recorder<'h>,
    /// Working directories by pid, when the mechanism reports forks and
    /// exits (ptrace); otherwise read from /proc for every relative path,
    /// since a cached entry could outlive its process and meet a reused pid.
    cwds: Option<HashMap<Pid, Vec<u8>>>,
    foreign_abi_seen: bool,
    unreadable: usize,
    /// Some when the command runs with no_new_privs: the setuid and setcap
    /// programs already warned about.
    setuid_warned: Option<HashSet<Vec<u8>>>,
}

fn readlink(link: String) -> Option<Vec<u8>> {
    let target = to_bytes(&std::fs::read_link(link).ok()?);
    // Anything else ("pipe:[..]", "anon_inode:..") is not a file path.
    (target.first() == Some(&b'/')).then_some(target)
}

/// The reads the command inherits instead of making: one read-only
/// `Event::Open` per descriptor of ours without close-on-exec (0, 1, 2 and
/// above: exactly what the command inherits) that holds a regular file
/// with a name and was opened read-only. These are the shell's `< in`,
/// `3< file` around `roar run`: inputs, as if the command had opened them
/// first. Descriptors open for writing (`> out`, `2>> log`, `5<> rw`) give
/// nothing (a read-write one's content at the start could not be told from
/// what the command left): roar writes its own messages to its stderr, which may be the
/// same file, a log the user appends to existed before the job (and `roar
/// pop` deletes a job's outputs), and a harness's captured stdout is not
/// the job's product. Pipes, terminals, sockets, `/dev/null`, directories
/// and deleted files give nothing. Call before opening any descriptor
/// without close-on-exec.
pub fn inherited_opens() -> Vec<Event> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    fds.into_iter().filter_map(inherited_open).collect()
}

fn inherited_open(fd: i32) -> Option<Event> {
    // SAFETY: fcntl and fstat only query a descriptor number; one closed
    // meanwhile (the directory listing's own) makes them fail.
    let (flags, st) = unsafe {
        let fd_flags = libc::fcntl(fd, libc::F_GETFD);
        if fd_flags < 0 || fd_flags & libc::FD_CLOEXEC != 0 {
            return None;
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return None;
        }
        (libc::fcntl(fd, libc::F_GETFL), st)
    };
    if flags < 0
        || flags & libc::O_ACCMODE != libc::O_RDONLY
        || st.st_mode & libc::S_IFMT != libc::S_IFREG
        || st.st_nlink == 0
    {
        return None;
    }
    let path = readlink(format!("/proc/self/fd/{fd}"))?;
    // The name must still lead to this file (not to one put in its place).
    let named = std::fs::metadata(std::ffi::OsStr::from_bytes(&path)).ok()?;
    (named.dev() == st.st_dev && named.ino() == st.st_ino).then_some(Event::Open { path, flags })
}

impl<'a, 'h> Observer<'a, 'h> {
    /// `cache_cwds`: the mechanism reports forks and exits (ptrace).
    /// `no_new_privs`: the filter was installed with it, so setuid programs
    /// lose their privileges and the user is told when one runs.
    pub fn new(recorder: &'a mut Recorder<'h>, cache_cwds: bool, no_new_privs: bool) -> Self {
        Observer {
            recorder,
            cwds: cache_cwds.then(HashMap::new),
            foreign_abi_seen: false,
            unreadable: 0,
            setuid_warned: no_new_privs.then(HashSet::new),
        }
    }

    /// A child starts in its parent's working directory.
    pub fn forked(&mut self, parent: Pid, child: Pid) {
        if let Some(cwds) = &mut self.cwds {
            if let Some(cwd) = cwds.get(&parent).cloned() {
                cwds.insert(child, cwd);
            }
        }
    }

    pub fn gone(&mut self, pid: Pid) {
        if let Some(cwds) = &mut self.cwds {
            cwds.remove(&pid);
        }
    }

    fn cwd(&mut self, pid: Pid) -> Option<Vec<u8>> {
        if let Some(cwd) = self.cwds.as_ref().and_then(|c| c.get(&pid)) {
            return Some(cwd.clone());
        }
        let cwd = readlink(format!("/proc/{pid}/cwd"))?;
        if let Some(cwds) = &mut self.cwds {
            cwds.insert(pid, cwd.clone());
        }
        Some(cwd)
    }

    /// The absolute path a (dirfd, path) pair names in process `pid`.
    fn path(&mut self, pid: Pid, dirfd: i32, addr: u64) -> Option<Vec<u8>> {
        let raw = match memory::read_cstring(pid, addr) {
            Ok(raw) => raw,
            Err(_) => {
                self.unreadable += 1;
                return None;
            }
        };
        if raw.first() == Some(&b'/') {
            return Some(absolute(b"/", &raw));
        }
        let base = if dirfd == libc::AT_FDCWD {
            self.cwd(pid)?
        } else {
            readlink(format!("/proc/{pid}/fd/{dirfd}"))?
        };
        Some(absolute(&base, &raw))
    }

    /// Decodes the call `pid` is waiting in and reads its paths. None: not
    /// a call we record (or its arguments could not be read).
    pub fn read(&mut self, pid: Pid, arch: u32, nr: u64, args: [u64; 6]) -> Option<Event> {
        if arch != AUDIT_ARCH_NATIVE {
            self.foreign_abi_seen = true;
            return None;
        }
        // x32 calls share the x86_64 numbers of these syscalls.
        #[cfg(target_arch = "x86_64")]
        let nr = (nr & !0x4000_0000) as i64;
        #[cfg(not(target_arch = "x86_64"))]
        let nr = nr as i64;
        Some(match syscalls::decode(nr, args)? {
            Call::Open { dirfd, path, flags } => Event::Open {
                path: self.path(pid, dirfd, path)?,
                flags,
            },
            Call::Openat2 { dirfd, path, how } => {
                let flags = memory::read_u64(pid, how).ok()?;
                Event::Open {
                    path: self.path(pid, dirfd, path)?,
                    flags: flags as i32,
                }
            }
            Call::Truncate { path } => Event::Truncate(self.path(pid, libc::AT_FDCWD, path)?),
            Call::Rename {
                olddirfd,
                old,
                newdirfd,
                new,
                flags,
            } => Event::Rename {
                old: self.path(pid, olddirfd, old)?,
                new: self.path(pid, newdirfd, new)?,
                flags,
            },
            Call::Link { newdirfd, new, .. } => Event::Link(self.path(pid, newdirfd, new)?),
            Call::Unlink { dirfd, path, flags } => Event::Unlink {
                path: self.path(pid, dirfd, path)?,
                flags,
            },
            Call::Mkdir { dirfd, path } => Event::Mkdir(self.path(pid, dirfd, path)?),
            Call::Mknod { dirfd, path, mode } => Event::Mknod {
                path: self.path(pid, dirfd, path)?,
                mode,
            },
            // fexecve (execveat with "" and AT_EMPTY_PATH) resolves to the
            // descriptor's own path, as `path` does for an empty name.
            Call::Exec { dirfd, path, .. } => Event::Exec(self.path(pid, dirfd, path)?),
            Call::Chdir => Event::Chdir,
        })
    }

    /// Records `event`; runs while the process still waits in the call, so
    /// a file about to change is seen as it was.
    pub fn record(&mut self, event: Event) {
        match event {
            Event::Open { path, flags } => self.recorder.open(path, flags),
            Event::Truncate(path) => self.recorder.truncate(path),
            Event::Rename { old, new, flags } => self.recorder.rename(old, new, flags),
            Event::Link(new) => self.recorder.link(new),
            Event::Unlink { path, flags } => self.recorder.unlink(path, flags),
            Event::Mkdir(path) => self.recorder.mkdir(path),
            Event::Mknod { path, mode } => self.recorder.mknod(path, mode),
            Event::Exec(path) => {
                self.warn_if_privileged_program(&path);
                self.recorder.exec(path);
            }
            Event::Chdir => {
                if let Some(cwds) = &mut self.cwds {
                    cwds.clear();
                }
            }
        }
    }

    /// Under no_new_privs a setuid, setgid or setcap program runs without
    /// its privileges (and typically fails): say so once per program, as it
    /// starts, so the user knows why.
    fn warn_if_privileged_program(&mut self, path: &[u8]) {
        let Some(warned) = &mut self.setuid_warned else {
            return;
        };
        if warned.contains(path) {
            return;
        }
        let Some(what) = privileged_program(path) else {
            return;
        };
        warned.insert(path.to_vec());
        let shown = String::from_utf8_lossy(path).escape_debug().to_string();
        let line = format!(
            "{shown} is {what}: under roar it runs without its privileges (no_new_privs); \
             run roar as root (or with CAP_SYS_ADMIN) to keep them"
        );
        eprintln!("roar: {line}");
        self.recorder.warnings.push(line);
    }

    /// Adds what the observation itself could not do to the job's warnings.
    pub fn finish(self) {
        if self.foreign_abi_seen {
            self.recorder.warnings.push(
                "a 32-bit (foreign ABI) process ran; its file access was not recorded".into(),
            );
        }
        if self.unreadable > 0 {
            self.recorder.warnings.push(format!(
                "{} path arguments could not be read",
                self.unreadable
            ));
        }
    }
}
