//! The syscalls that name, create, move or remove files, or run programs:
//! the only ones the seccomp filter sends to the tracer. Everything that only
//! moves data through an already-open descriptor (read, write, mmap,
//! sendfile, copy_file_range, splice, ftruncate, fallocate) is left out on
//! purpose: the `open` that produced the descriptor already said whether the
//! job reads or writes that file. docs/tracer.md gives the full reasoning.

/// What one trapped call means for the job, with its arguments still as
/// addresses in the tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Open {
        dirfd: i32,
        path: u64,
        flags: i32,
    },
    /// openat2: the flags live in a `struct open_how` in the tracee.
    Openat2 {
        dirfd: i32,
        path: u64,
        how: u64,
    },
    Truncate {
        path: u64,
    },
    Rename {
        olddirfd: i32,
        old: u64,
        newdirfd: i32,
        new: u64,
        flags: u32,
    },
    Link {
        olddirfd: i32,
        old: u64,
        newdirfd: i32,
        new: u64,
        flags: i32,
    },
    Unlink {
        dirfd: i32,
        path: u64,
        flags: i32,
    },
    Mkdir {
        dirfd: i32,
        path: u64,
    },
    Mknod {
        dirfd: i32,
        path: u64,
        mode: u32,
    },
    Exec {
        dirfd: i32,
        path: u64,
        flags: i32,
    },
    /// chdir or fchdir: the cwd we cached for this process is stale.
    Chdir,
}

const CWD: i32 = libc::AT_FDCWD;

/// The syscall numbers the filter traps on this architecture.
#[cfg(target_arch = "x86_64")]
pub const TRACED: &[i64] = &[
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_creat,
    libc::SYS_truncate,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_mknod,
    libc::SYS_mknodat,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_chdir,
    libc::SYS_fchdir,
];

#[cfg(target_arch = "aarch64")]
pub const TRACED: &[i64] = &[
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_truncate,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_unlinkat,
    libc::SYS_mkdirat,
    libc::SYS_mknodat,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_chdir,
    libc::SYS_fchdir,
];

/// Turns a trapped syscall number and its raw arguments into a [`Call`].
/// Returns None for a number the filter does not trap.
pub fn decode(nr: i64, a: [u64; 6]) -> Option<Call> {
    // Arguments are C ints in registers: truncating to 32 bits is the ABI.
    let int = |i: usize| a[i] as i32;
    #[cfg(target_arch = "x86_64")]
    {
        let legacy = match nr {
            libc::SYS_open => Some(Call::Open {
                dirfd: CWD,
                path: a[0],
                flags: int(1),
            }),
            libc::SYS_creat => Some(Call::Open {
                dirfd: CWD,
                path: a[0],
                flags: libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            }),
            libc::SYS_rename => Some(Call::Rename {
                olddirfd: CWD,
                old: a[0],
                newdirfd: CWD,
                new: a[1],
                flags: 0,
            }),
            libc::SYS_link => Some(Call::Link {
                olddirfd: CWD,
                old: a[0],
                newdirfd: CWD,
                new: a[1],
                flags: 0,
            }),
            libc::SYS_unlink => Some(Call::Unlink {
                dirfd: CWD,
                path: a[0],
                flags: 0,
            }),
            libc::SYS_mkdir => Some(Call::Mkdir {
                dirfd: CWD,
                path: a[0],
            }),
            libc::SYS_mknod => Some(Call::Mknod {
                dirfd: CWD,
                path: a[0],
                mode: a[1] as u32,
            }),
            libc::SYS_renameat => Some(Call::Rename {
                olddirfd: int(0),
                old: a[1],
                newdirfd: int(2),
                new: a[3],
                flags: 0,
            }),
            _ => None,
        };
        if legacy.is_some() {
            return legacy;
        }
    }
    Some(match nr {
        libc::SYS_openat => Call::Open {
            dirfd: int(0),
            path: a[1],
            flags: int(2),
        },
        libc::SYS_openat2 => Call::Openat2 {
            dirfd: int(0),
            path: a[1],
            how: a[2],
        },
        libc::SYS_truncate => Call::Truncate { path: a[0] },
        libc::SYS_renameat2 => Call::Rename {
            olddirfd: int(0),
            old: a[1],
            newdirfd: int(2),
            new: a[3],
            flags: a[4] as u32,
        },
        #[cfg(target_arch = "aarch64")]
        libc::SYS_renameat => Call::Rename {
            olddirfd: int(0),
            old: a[1],
            newdirfd: int(2),
            new: a[3],
            flags: 0,
        },
        libc::SYS_linkat => Call::Link {
            olddirfd: int(0),
            old: a[1],
            newdirfd: int(2),
            new: a[3],
            flags: int(4),
        },
        libc::SYS_unlinkat => Call::Unlink {
            dirfd: int(0),
            path: a[1],
            flags: int(2),
        },
        libc::SYS_mkdirat => Call::Mkdir {
            dirfd: int(0),
            path: a[1],
        },
        libc::SYS_mknodat => Call::Mknod {
            dirfd: int(0),
            path: a[1],
            mode: a[2] as u32,
        },
        libc::SYS_execve => Call::Exec {
            dirfd: CWD,
            path: a[0],
            flags: 0,
        },
        libc::SYS_execveat => Call::Exec {
            dirfd: int(0),
            path: a[1],
            flags: int(4),
        },
        libc::SYS_chdir | libc::SYS_fchdir => Call::Chdir,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_traced_number_decodes() {
        for &nr in TRACED {
            assert!(
                decode(nr, [0; 6]).is_some(),
                "syscall {nr} is trapped but not decoded"
            );
        }
        assert_eq!(decode(libc::SYS_read, [0; 6]), None);
    }

    #[test]
    fn dirfd_arguments_keep_their_sign() {
        let at_fdcwd = libc::AT_FDCWD as i64 as u64;
        assert_eq!(
            decode(
                libc::SYS_openat,
                [at_fdcwd, 7, libc::O_RDONLY as u64, 0, 0, 0]
            ),
            Some(Call::Open {
                dirfd: libc::AT_FDCWD,
                path: 7,
                flags: libc::O_RDONLY
            })
        );
    }
}
