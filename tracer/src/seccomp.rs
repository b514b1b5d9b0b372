//! Builds and installs the seccomp-bpf program that makes observing cheap:
//! only the syscalls in [`crate::syscalls::TRACED`] reach the tracer; every
//! other syscall runs at full speed. How a trapped call reaches us depends
//! on the mechanism: `SECCOMP_RET_USER_NOTIF` (a listener fd; the kernel
//! blocks only the calling thread until we answer) or, on kernels without
//! it, `SECCOMP_RET_TRACE` (a ptrace stop). Written by hand with libc's
//! `sock_filter` because the program is a short list of comparisons and must
//! be installed between fork and exec, where nothing may allocate.

use std::io;
use std::os::fd::RawFd;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
/// The low 32 bits of the first argument (little-endian).
const OFFSET_ARG0_LOW: u32 = 16;

#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xc000_00b7;

/// x32 syscalls on x86_64 carry this bit; they are trapped wholesale so that
/// the x32 ABI cannot open files unseen.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// How a trapped syscall reaches the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// SECCOMP_RET_USER_NOTIF: a notification on the listener fd.
    Notify,
    /// SECCOMP_RET_TRACE: a ptrace stop (the fallback).
    Ptrace,
}

pub struct Filter {
    program: Vec<libc::sock_filter>,
    trap: Trap,
}

/// Where a jump goes: the next instruction or one of the returns at the end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Trap,
    Enosys,
    CheckUntraced,
}

enum Insn {
    Load(u32),
    Jump { code: u16, k: u32, yes: To, no: To },
}

/// The syscalls refused with ENOSYS whatever the mechanism: io_uring moves
/// file access into the kernel where no filter sees it, so programs are
/// made to take their ordinary fallback (as container runtimes' default
/// seccomp profiles do).
fn refused_always() -> &'static [i64] {
    &[libc::SYS_io_uring_setup]
}

/// Refused under ptrace only: clone3's flags live in memory the filter
/// cannot read, so CLONE_UNTRACED could not be caught there; glibc (and
/// every runtime we know) falls back to clone on ENOSYS, whose flags the
/// filter can read.
fn refused_under_ptrace() -> &'static [i64] {
    &[libc::SYS_clone3]
}

impl Filter {
    /// Trap `traced` and any syscall of a foreign ABI (i386 via int 0x80,
    /// x32): the tracer cannot see those cheaply, so it sees all of them.
    /// Under ptrace, also trap `clone` with CLONE_UNTRACED, so that the
    /// tracer can clear that flag and no child escapes it.
    pub fn new(traced: &[i64], trap: Trap) -> Filter {
        let mut insns = vec![
            Insn::Load(OFFSET_ARCH),
            Insn::Jump {
                code: BPF_JEQ_K,
                k: AUDIT_ARCH_NATIVE,
                yes: To::Next,
                no: To::Trap,
            },
            Insn::Load(OFFSET_NR),
        ];
        #[cfg(target_arch = "x86_64")]
        insns.push(Insn::Jump {
            code: BPF_JGE_K,
            k: X32_SYSCALL_BIT,
            yes: To::Trap,
            no: To::Next,
        });
        let eq = |nr: i64, to: To| Insn::Jump {
            code: BPF_JEQ_K,
            k: nr as u32,
            yes: to,
            no: To::Next,
        };
        insns.extend(refused_always().iter().map(|&nr| eq(nr, To::Enosys)));
        if trap == Trap::Ptrace {
            insns.extend(refused_under_ptrace().iter().map(|&nr| eq(nr, To::Enosys)));
            insns.push(eq(libc::SYS_clone, To::CheckUntraced));
        }
        insns.extend(traced.iter().map(|&nr| eq(nr, To::Trap)));
        Filter {
            program: assemble(&insns, trap),
            trap,
        }
    }

    pub fn trap(&self) -> Trap {
        self.trap
    }

    /// Installs the filter on the calling thread; sets no_new_privs first
    /// unless `keep_privileges` (the caller has CAP_SYS_ADMIN, so the kernel
    /// accepts a filter without it and setuid programs keep working).
    /// Returns the listener fd (close-on-exec) for a `Trap::Notify` filter.
    /// Async-signal-safe: called in the forked child before exec.
    pub fn install(&self, keep_privileges: bool) -> io::Result<Option<RawFd>> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut _,
        };
        // SAFETY: plain syscalls; `prog` points at memory that outlives them.
        unsafe {
            if !keep_privileges && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let install = |flags: libc::c_ulong| {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            match self.trap {
                Trap::Ptrace => {
                    if install(0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(None)
                }
                Trap::Notify => {
                    // WAIT_KILLABLE_RECV (5.19): once we have read a
                    // notification, an ordinary signal no longer aborts and
                    // restarts the waiting call (which would notify twice).
                    let mut fd = install(
                        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                    );
                    if fd < 0 && *libc::__errno_location() == libc::EINVAL {
                        fd = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);
                    }
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(Some(fd as RawFd))
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

/// Does this kernel know SECCOMP_RET_USER_NOTIF (5.0)? Whether it can also
/// let a call continue (5.5) is learnt from the first answer.
pub fn user_notif_available() -> bool {
    let action = SECCOMP_RET_USER_NOTIF;
    // SAFETY: the kernel reads one u32.
    unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        ) == 0
    }
}

/// May this process install a filter without no_new_privs? The kernel
/// allows it with CAP_SYS_ADMIN (root, or that capability in our user
/// namespace); then setuid and setcap programs inside the job keep their
/// privileges.
pub fn can_keep_privileges() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: version 3 takes a header and two data structs.
    let ok = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } == 0;
    ok && data[0].effective & (1 << CAP_SYS_ADMIN) != 0
}

/// Lays out `insns`, then the returns: ALLOW (reached by falling through),
/// TRAP, ENOSYS, and the CLONE_UNTRACED check (load the first argument,
/// trap if the flag is set).
fn assemble(insns: &[Insn], trap: Trap) -> Vec<libc::sock_filter> {
    let trap_action = match trap {
        Trap::Notify => SECCOMP_RET_USER_NOTIF,
        Trap::Ptrace => SECCOMP_RET_TRACE,
    };
    let allow_at = insns.len();
    let trap_at = allow_at + 1;
    let enosys_at = allow_at + 2;
    let check_at = allow_at + 3;
    let target = |to: To, at: usize| -> u8 {
        let dest = match to {
            To::Next => at + 1,
            To::Trap => trap_at,
            To::Enosys => enosys_at,
            To::CheckUntraced => check_at,
        };
        // Every jump is forward and the program is far shorter than 256.
        (dest - at - 1) as u8
    };
    let mut program: Vec<libc::sock_filter> = insns
        .iter()
        .enumerate()
        .map(|(at, insn)| match *insn {
            Insn::Load(offset) => stmt(BPF_LD_W_ABS, offset),
            Insn::Jump { code, k, yes, no } => libc::sock_filter {
                code,
                jt: target(yes, at),
                jf: target(no, at),
                k,
            },
        })
        .collect();
    program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    program.push(stmt(BPF_RET_K, trap_action));
    program.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    // The CLONE_UNTRACED check: BPF jumps only forward, so it ends in
    // returns of its own.
    program.push(stmt(BPF_LD_W_ABS, OFFSET_ARG0_LOW));
    program.push(libc::sock_filter {
        code: BPF_JSET_K,
        jt: 0,
        jf: 1,
        k: libc::CLONE_UNTRACED as u32,
    });
    program.push(stmt(BPF_RET_K, trap_action));
    program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    program
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the BPF program on one `seccomp_data` (nr, arch, first argument).
    fn eval(program: &[libc::sock_filter], nr: i64, arch: u32, arg0: u64) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = &program[pc];
            match ins.code {
                BPF_LD_W_ABS => {
                    acc = match ins.k {
                        OFFSET_NR => nr as u32,
                        OFFSET_ARCH => arch,
                        OFFSET_ARG0_LOW => arg0 as u32,
                        other => panic!("load of offset {other}"),
                    };
                    pc += 1;
                }
                BPF_RET_K => return ins.k,
                code => {
                    let taken = match code {
                        BPF_JEQ_K => acc == ins.k,
                        BPF_JGE_K => acc >= ins.k,
                        BPF_JSET_K => acc & ins.k != 0,
                        other => panic!("opcode {other}"),
                    };
                    pc += 1 + if taken { ins.jt } else { ins.jf } as usize;
                }
            }
        }
    }

    #[test]
    fn traced_calls_trap_and_others_run() {
        for (trap, action) in [
            (Trap::Notify, SECCOMP_RET_USER_NOTIF),
            (Trap::Ptrace, SECCOMP_RET_TRACE),
        ] {
            let f = Filter::new(crate::syscalls::TRACED, trap);
            for &nr in crate::syscalls::TRACED {
                assert_eq!(eval(&f.program, nr, AUDIT_ARCH_NATIVE, 0), action);
            }
            assert_eq!(
                eval(&f.program, libc::SYS_read, AUDIT_ARCH_NATIVE, 0),
                SECCOMP_RET_ALLOW
            );
            assert_eq!(eval(&f.program, 3, 0x4000_0003, 0), action, "foreign ABI");
            assert_eq!(
                eval(&f.program, libc::SYS_io_uring_setup, AUDIT_ARCH_NATIVE, 0),
                SECCOMP_RET_ERRNO | libc::ENOSYS as u32
            );
        }
    }

    #[test]
    fn under_ptrace_untraced_clones_trap_and_clone3_is_refused() {
        let f = Filter::new(crate::syscalls::TRACED, Trap::Ptrace);
        let untraced = (libc::CLONE_UNTRACED | libc::CLONE_VM) as u64;
        assert_eq!(
            eval(&f.program, libc::SYS_clone, AUDIT_ARCH_NATIVE, untraced),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            eval(
                &f.program,
                libc::SYS_clone,
                AUDIT_ARCH_NATIVE,
                libc::SIGCHLD as u64
            ),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            eval(&f.program, libc::SYS_clone3, AUDIT_ARCH_NATIVE, 0),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        let n = Filter::new(crate::syscalls::TRACED, Trap::Notify);
        for nr in [libc::SYS_clone, libc::SYS_clone3] {
            assert_eq!(
                eval(&n.program, nr, AUDIT_ARCH_NATIVE, untraced),
                SECCOMP_RET_ALLOW
            );
        }
    }
}
