//! What tracing means for one program: `roar-tracer --preflight --command
//! NAME` examines the file `run` would execute (resolved on PATH as `run`
//! resolves it, through `#!` interpreters) and says, check by check, how the
//! mechanism the preflight found would treat it: a foreign ABI the tracer
//! cannot read, a setuid program under no_new_privs, a program that calls
//! ptrace under the ptrace fallback. Nothing is executed: the file is read.

use crate::preflight::Preflight;
use crate::process::{self, LaunchError};
use goblin::elf::{header, program_header, Elf};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Linux follows at most this many `#!` interpreters (BINPRM's recursion limit).
const MAX_INTERPRETERS: usize = 4;
/// The kernel reads a `#!` line from the first 256 bytes (BINPRM_BUF_SIZE).
const SHEBANG_BYTES: usize = 256;

/// One verdict, as roar-cli's check rows: name, ok, detail.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

pub struct Report {
    pub asked: String,
    /// What `run` would execute (None: not found or not executable).
    pub path: Option<PathBuf>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn json(&self) -> Value {
        json!({
            "asked": self.asked,
            "path": self.path.as_ref().map(|p| p.to_string_lossy()),
            "ok": self.ok(),
            "checks": self.checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail})).collect::<Vec<_>>(),
        })
    }
}

/// A path as text in the report; the front end that prints it escapes it
/// (roar/display.py printable), JSON escapes it by itself.
fn shown(path: &Path) -> String {
    path.to_string_lossy().to_string()
}

/// Examines `name` (a program name or path) for the mechanism `pre` found.
pub fn check(name: &OsStr, pre: &Preflight) -> Report {
    let asked = name.to_string_lossy().to_string();
    let mut checks = Vec::new();
    let path = match process::resolve(name) {
        Ok(p) => p,
        Err(e) => {
            let detail = match e {
                LaunchError::NotFound => format!("command not found: {asked}"),
                LaunchError::NotExecutable => format!("not executable: {asked}"),
            };
            checks.push(Check {
                name: "command",
                ok: false,
                detail,
            });
            return Report {
                asked,
                path: None,
                checks,
            };
        }
    };
    checks.push(Check {
        name: "command",
        ok: true,
        detail: shown(&path),
    });
    if let Some(what) = privileged_program(path.as_os_str().as_bytes()) {
        checks.push(Check {
            name: "privileges",
            ok: pre.privileged,
            detail: format!("{what}: such programs {}", pre.setuid()),
        });
    }
    let mut file = path.clone();
    for depth in 0..=MAX_INTERPRETERS {
        let bytes = match read_head(&file) {
            Ok(b) => b,
            Err(e) => {
                checks.push(Check {
                    name: "program",
                    ok: false,
                    detail: format!("cannot read {}: {e}", shown(&file)),
                });
                break;
            }
        };
        if bytes.starts_with(b"#!") {
            match interpreter(&bytes) {
                Some(next) if depth < MAX_INTERPRETERS => {
                    checks.push(Check {
                        name: "script",
                        ok: true,
                        detail: format!("{} runs {}", shown(&file), shown(&next)),
                    });
                    file = next;
                    continue;
                }
                _ => checks.push(Check {
                    name: "script",
                    ok: false,
                    detail: format!(
                        "{}: its #! interpreter cannot be found or nests too deep, so exec fails",
                        shown(&file)
                    ),
                }),
            }
        } else if bytes.starts_with(b"\x7fELF") {
            elf_checks(&file, &bytes, pre, &mut checks);
        } else {
            checks.push(Check {
                name: "program",
                ok: false,
                detail: format!("{}: neither an ELF program nor a #! script: exec fails (ENOEXEC) unless a shell runs it", shown(&file)),
            });
        }
        break;
    }
    Report {
        asked,
        path: Some(path),
        checks,
    }
}

/// The file, mapped: the ELF parser touches only its headers and symbol tables.
fn read_head(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    // SAFETY: read-only mapping of a program file; a program being rewritten
    // while it is examined is the user's race, as for exec itself.
    unsafe { memmap2::Mmap::map(&file) }
}

/// The interpreter of a `#!` line, resolved as the kernel and `env` would.
fn interpreter(head: &[u8]) -> Option<PathBuf> {
    let line = &head[2..head.len().min(SHEBANG_BYTES)];
    // No newline in the buffer: the kernel takes the whole of it as the line.
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let first = Path::new(OsStr::from_bytes(words.next()?));
    if first.file_name() == Some(OsStr::new("env")) {
        // `#!/usr/bin/env [-S] python3`: the first word that is not an option.
        let program = words.find(|w| !w.starts_with(b"-"))?;
        return process::resolve(OsStr::from_bytes(program)).ok();
    }
    // The kernel takes the path as written (relative to the working directory).
    let first = if first.as_os_str().as_bytes().contains(&b'/') {
        first.to_path_buf()
    } else {
        Path::new(".").join(first)
    };
    process::resolve(first.as_os_str()).ok()
}

/// The ELF machine and class the tracer reads: its own.
#[cfg(target_arch = "x86_64")]
const NATIVE: (u16, bool) = (header::EM_X86_64, true);
#[cfg(target_arch = "aarch64")]
const NATIVE: (u16, bool) = (header::EM_AARCH64, true);
/// 32-bit programs this kernel runs natively, through a second syscall ABI.
#[cfg(target_arch = "x86_64")]
const COMPAT: &[u16] = &[header::EM_386, header::EM_X86_64];
#[cfg(target_arch = "aarch64")]
const COMPAT: &[u16] = &[header::EM_ARM];

fn elf_checks(path: &Path, bytes: &[u8], pre: &Preflight, checks: &mut Vec<Check>) {
    let elf = match Elf::parse(bytes) {
        Ok(elf) => elf,
        Err(e) => {
            checks.push(Check {
                name: "program",
                ok: false,
                detail: format!("{}: a damaged ELF file ({e})", shown(path)),
            });
            return;
        }
    };
    let machine = header::machine_to_str(elf.header.e_machine).to_lowercase();
    let bits = if elf.is_64 { 64 } else { 32 };
    let interp = elf
        .program_headers
        .iter()
        .any(|ph| ph.p_type == program_header::PT_INTERP);
    let linkage = match (interp, elf.interpreter) {
        (true, Some(loader)) => format!("dynamically linked ({loader})"),
        (true, None) => "dynamically linked".to_string(),
        // A static binary makes its system calls itself; the filter sees them
        // all the same (an LD_PRELOAD tracer would see none).
        (false, _) if (elf.header.e_machine, elf.is_64) == NATIVE => {
            "statically linked: traced at the system-call level like any program".to_string()
        }
        (false, _) => "statically linked".to_string(),
    };
    checks.push(Check {
        name: "program",
        ok: true,
        detail: format!("{}: ELF {bits}-bit {machine}, {linkage}", shown(path)),
    });
    if (elf.header.e_machine, elf.is_64) != NATIVE {
        if COMPAT.contains(&elf.header.e_machine) {
            // observe.rs: a foreign-ABI call is trapped but not decoded.
            checks.push(Check {
                name: "abi",
                ok: false,
                detail: format!("a {bits}-bit {machine} program: the tracer reads only the native ABI, so its file access would not be recorded (the job says so in its warnings)"),
            });
        } else {
            checks.push(Check {
                name: "abi",
                ok: true,
                detail: format!("built for {machine}: it runs here only through an emulator registered with binfmt_misc, and roar records the emulator's file access"),
            });
        }
        return;
    }
    let calls_ptrace = if interp {
        Some(
            elf.dynsyms
                .iter()
                .any(|s| s.is_import() && elf.dynstrtab.get_at(s.st_name) == Some("ptrace")),
        )
    } else if elf.syms.is_empty() {
        None // stripped: cannot tell
    } else {
        Some(
            elf.syms
                .iter()
                .any(|s| !s.is_import() && elf.strtab.get_at(s.st_name) == Some("ptrace")),
        )
    };
    let under_ptrace = pre.mechanism() == Some("ptrace");
    match calls_ptrace {
        Some(true) => checks.push(Check {
            name: "ptrace",
            ok: !under_ptrace,
            detail: format!("it calls ptrace: debuggers and tracers {}", pre.debuggers()),
        }),
        None if under_ptrace => checks.push(Check {
            name: "ptrace",
            ok: true,
            detail: format!("stripped and statically linked: whether it calls ptrace cannot be told; if it does, it {}", pre.debuggers()),
        }),
        _ => {}
    }
}

/// "setuid", "setgid" or "setcap" for a program that gains privileges when
/// executed; None for an ordinary one.
pub fn privileged_program(path: &[u8]) -> Option<&'static str> {
    let p = Path::new(OsStr::from_bytes(path));
    let meta = std::fs::metadata(p).ok()?;
    let mode = meta.permissions().mode();
    if mode & libc::S_ISUID != 0 {
        return Some("setuid");
    }
    if mode & libc::S_ISGID != 0 && mode & 0o010 != 0 {
        return Some("setgid");
    }
    let name = b"security.capability\0";
    let mut c_path = path.to_vec();
    c_path.push(0);
    // SAFETY: both strings are NUL-terminated; a NULL buffer of size 0 asks
    // only for the attribute's size.
    let size = unsafe {
        libc::getxattr(
            c_path.as_ptr().cast(),
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            0,
        )
    };
    (size > 0).then_some("setcap")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Mechanism;
    use std::io::Write;

    fn preflight(notify: bool, privileged: bool) -> Preflight {
        Preflight {
            wanted: Mechanism::Auto,
            notify,
            ptrace: true,
            seccomp: true,
            privileged,
            kernel: "test".into(),
            arch: "test".into(),
            problems: Vec::new(),
        }
    }

    /// A minimal i386 executable: the ELF header and one PT_LOAD.
    fn elf32_i386() -> Vec<u8> {
        let mut b = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for half in [2u16, 3] {
            b.extend(half.to_le_bytes()); // e_type EXEC, e_machine EM_386
        }
        for word in [1u32, 0x0804_8000, 52, 0, 0] {
            b.extend(word.to_le_bytes()); // version, entry, phoff, shoff, flags
        }
        for half in [52u16, 32, 1, 40, 0, 0] {
            b.extend(half.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        for word in [1u32, 0, 0x0804_8000, 0x0804_8000, 84, 84, 5, 0x1000] {
            b.extend(word.to_le_bytes());
        }
        b
    }

    fn program(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn verdicts(r: &Report) -> Vec<(&str, bool)> {
        r.checks.iter().map(|c| (c.name, c.ok)).collect()
    }

    #[test]
    fn a_32_bit_program_is_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = program(dir.path(), "old", &elf32_i386());
        let r = check(path.as_os_str(), &preflight(true, true));
        assert_eq!(
            verdicts(&r),
            [("command", true), ("program", true), ("abi", false)]
        );
        assert!(r.checks[1]
            .detail
            .ends_with("ELF 32-bit 386, statically linked"));
        assert!(r.checks[2].detail.contains("would not be recorded"));
    }

    #[test]
    fn a_script_is_judged_by_its_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let old = program(dir.path(), "old", &elf32_i386());
        let line = format!("#!{} -x\necho\n", old.display());
        let script = program(dir.path(), "s.sh", line.as_bytes());
        let r = check(script.as_os_str(), &preflight(true, true));
        assert_eq!(
            verdicts(&r),
            [
                ("command", true),
                ("script", true),
                ("program", true),
                ("abi", false)
            ]
        );
        let dangling = program(dir.path(), "d.sh", b"#!/nonexistent/sh\n");
        let r = check(dangling.as_os_str(), &preflight(true, true));
        assert_eq!(verdicts(&r), [("command", true), ("script", false)]);
        let text = program(dir.path(), "t", b"plain words\n");
        assert_eq!(
            verdicts(&check(text.as_os_str(), &preflight(true, true)))[1],
            ("program", false)
        );
    }

    #[test]
    fn setuid_keeps_privileges_only_when_privileged() {
        let dir = tempfile::tempdir().unwrap();
        let path = program(dir.path(), "suid", &elf32_i386());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4755)).unwrap();
        for privileged in [true, false] {
            let r = check(path.as_os_str(), &preflight(true, privileged));
            assert_eq!(r.checks[1].name, "privileges");
            assert_eq!(r.checks[1].ok, privileged);
        }
    }

    #[test]
    fn not_found_and_not_executable() {
        let dir = tempfile::tempdir().unwrap();
        let r = check(
            OsStr::new("roar-no-such-program-here"),
            &preflight(true, true),
        );
        assert_eq!(
            r.checks[0].detail,
            "command not found: roar-no-such-program-here"
        );
        assert!(r.path.is_none() && !r.ok());
        let path = dir.path().join("data");
        std::fs::write(&path, b"x").unwrap();
        let r = check(path.as_os_str(), &preflight(true, true));
        assert!(r.checks[0].detail.starts_with("not executable: "));
    }
}
