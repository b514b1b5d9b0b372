//! Builds and installs the seccomp-bpf program that makes tracing cheap:
//! only the syscalls in [`crate::syscalls::TRACED`] stop in the tracer
//! (SECCOMP_RET_TRACE); every other syscall runs at full speed.
//! Written by hand with libc's `sock_filter` because the program is a flat
//! list of comparisons and must be installed between fork and exec, where
//! nothing may allocate.

use std::io;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH_NATIVE: u32 = 0xc000_00b7;

/// x32 syscalls on x86_64 carry this bit; they are trapped wholesale so that
/// the x32 ABI cannot open files unseen.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub struct Filter {
    program: Vec<libc::sock_filter>,
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

impl Filter {
    /// Trap `traced` and any syscall of a foreign ABI (i386 via int 0x80, x32);
    /// the tracer cannot see those cheaply, so it sees all of them.
    pub fn new(traced: &[i64]) -> Filter {
        let mut program = Vec::with_capacity(traced.len() + 8);
        // Layout: [checks...] ALLOW TRACE. Each jump target is computed from
        // the final length, so build the checks first.
        let checks = traced.len() + if cfg!(target_arch = "x86_64") { 4 } else { 3 };
        let trace_at = checks + 1;
        let to_trace = |at: usize| (trace_at - at - 1) as u8;
        program.push(stmt(BPF_LD_W_ABS, OFFSET_ARCH));
        program.push(jump(BPF_JEQ_K, AUDIT_ARCH_NATIVE, 0, to_trace(1)));
        program.push(stmt(BPF_LD_W_ABS, OFFSET_NR));
        #[cfg(target_arch = "x86_64")]
        {
            let at = program.len();
            program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, to_trace(at), 0));
        }
        for &nr in traced {
            let at = program.len();
            program.push(jump(BPF_JEQ_K, nr as u32, to_trace(at), 0));
        }
        program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
        program.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
        debug_assert_eq!(program.len(), trace_at + 1);
        Filter { program }
    }

    /// Sets no_new_privs and installs the filter on the calling thread.
    /// Async-signal-safe: called in the forked child before exec.
    pub fn install(&self) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut _,
        };
        // SAFETY: plain syscalls; `prog` points at memory that outlives them.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_jumps_to_the_trace_return() {
        let f = Filter::new(crate::syscalls::TRACED);
        let last = f.program.len() - 1;
        assert_eq!(f.program[last].k, SECCOMP_RET_TRACE);
        assert_eq!(f.program[last - 1].k, SECCOMP_RET_ALLOW);
        for (i, ins) in f.program.iter().enumerate() {
            if ins.code == BPF_JEQ_K && ins.k != AUDIT_ARCH_NATIVE {
                assert_eq!(i + 1 + ins.jt as usize, last, "instruction {i}");
            }
        }
    }
}
