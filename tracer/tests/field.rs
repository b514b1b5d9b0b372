//! Programs people run every day, under the tracer (issue "the tracer in the
//! field"): each test runs the same command untraced (the ground truth) and
//! traced, and checks the same exit status, stdout and files on disk, and
//! that the files are recorded right. Tests name the mechanism they need;
//! the fallback's known limits are tested as what actually happens.

mod common;
use common::{hash, side_by_side, Workspace};
use std::process::Command;
use std::time::{Duration, Instant};

fn tool(name: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .expect("sh runs");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "{name} is not installed (`make test` installs it)"
    );
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `strace [options] -e trace=openat -o trace.txt cat a.txt`, untraced and
/// under user notification.
fn strace_cat(options: &[&str]) -> common::SideBySide {
    let strace = tool("strace");
    side_by_side(&["--mechanism", "notify"], |ws| {
        ws.write("a.txt", b"hello\n");
        let mut argv = vec![strace.clone()];
        argv.extend(options.iter().map(|o| o.to_string()));
        argv.extend(["-e", "trace=openat", "-o", "trace.txt", "cat", "a.txt"].map(String::from));
        argv
    })
}

#[test]
fn strace_inside_a_job_traces_the_command_and_both_are_recorded() {
    let run = strace_cat(&["-f"]);
    // trace.txt holds pids and addresses: its content differs between runs.
    run.assert_same_except(&["trace.txt"]);
    let trace = text(&run.traced_ws.read("trace.txt"));
    assert!(
        trace.contains("openat(AT_FDCWD, \"a.txt\", O_RDONLY) = 3"),
        "{trace}"
    );
    let ws = &run.traced_ws;
    assert_eq!(
        run.traced.inputs().get(&ws.path("a.txt")),
        Some(&hash(b"hello\n"))
    );
    assert_eq!(
        run.traced.outputs().get(&ws.path("trace.txt")),
        Some(&hash(&ws.read("trace.txt")))
    );
}

#[test]
fn gdb_inside_a_job_runs_the_program_and_its_output_is_recorded() {
    let gdb = tool("gdb");
    let run = side_by_side(&["--mechanism", "notify"], |ws| {
        let prog = ws.cc(
            "prog",
            r#"
            #include <stdio.h>
            int main(void) {
                FILE *f = fopen("out.txt", "w"); fputs("from the debuggee\n", f); fclose(f);
                puts("ran"); return 0;
            }"#,
            &["-g"],
        );
        vec![
            gdb.clone(),
            "-batch".into(),
            "-ex".into(),
            "run".into(),
            prog,
        ]
    });
    // gdb names the inferior's pid ("process 1234"): compare without digits.
    let digitless = |b: &[u8]| {
        text(b)
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect::<String>()
    };
    assert_eq!(run.traced.output.status.code(), run.plain.status.code());
    assert_eq!(
        digitless(&run.traced.output.stdout),
        digitless(&run.plain.stdout)
    );
    assert!(
        text(&run.traced.output.stdout).contains("exited normally"),
        "{}",
        text(&run.traced.output.stdout)
    );
    assert_eq!(run.traced_ws.files(), run.plain_ws.files());
    let ws = &run.traced_ws;
    assert_eq!(
        run.traced.outputs().get(&ws.path("out.txt")),
        Some(&hash(b"from the debuggee\n"))
    );
}

/// Seccomp returns the highest-precedence action of all filters:
/// SECCOMP_RET_USER_NOTIF (ours) beats a nested strace's SECCOMP_RET_TRACE,
/// so `strace --seccomp-bpf` inside a job does not see the calls we trap.
/// The command itself runs exactly as untraced and is recorded.
#[test]
fn a_nested_strace_seccomp_bpf_misses_the_calls_roar_traps() {
    let run = strace_cat(&["-f", "--seccomp-bpf"]);
    run.assert_same_except(&["trace.txt"]);
    assert!(text(&run.plain_ws.read("trace.txt")).contains("\"a.txt\""));
    assert!(!text(&run.traced_ws.read("trace.txt")).contains("openat("));
    let ws = &run.traced_ws;
    assert_eq!(
        run.traced.inputs().get(&ws.path("a.txt")),
        Some(&hash(b"hello\n"))
    );
}

/// Under the ptrace fallback the command is already traced: a debugger
/// inside it cannot attach (docs/tracer.md says so; user notification lifts it).
#[test]
fn under_the_ptrace_fallback_a_nested_strace_cannot_attach() {
    let strace = tool("strace");
    let ws = Workspace::new();
    let out = ws.run_with(
        &[&strace, "-o", "/dev/null", "true"],
        &["--mechanism", "ptrace"],
    );
    assert_ne!(out.output.status.code(), Some(0));
    assert!(text(&out.output.stderr).contains("Operation not permitted"));
}

const UNTRACED_CLONE: &str = r#"
    #define _GNU_SOURCE
    #include <fcntl.h>
    #include <sched.h>
    #include <signal.h>
    #include <stdio.h>
    #include <string.h>
    #include <errno.h>
    #include <unistd.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <linux/sched.h>
    /* What LeakSanitizer does: a child created with CLONE_UNTRACED (tried
       with clone3 first, as glibc does, then clone). */
    static long untraced_child(void) {
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_UNTRACED;
        args.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0 && errno == ENOSYS)
            pid = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
        return pid;
    }
    int main(void) {
        long pid = untraced_child();
        if (pid < 0) { perror("clone"); return 3; }
        if (pid == 0) {
            char buf[64] = {0};
            int in = open("in.txt", O_RDONLY);
            if (in < 0) { perror("child open"); _exit(1); }
            read(in, buf, sizeof buf - 1); close(in);
            int out = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (out < 0) { perror("child open for writing"); _exit(2); }
            write(out, buf, strlen(buf)); close(out);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("child exit %d\n", WEXITSTATUS(status));
        return WEXITSTATUS(status);
    }"#;

#[test]
fn a_child_created_with_clone_untraced_opens_files_and_is_recorded() {
    for mechanism in ["notify", "ptrace"] {
        let run = side_by_side(&["--mechanism", mechanism], |ws| {
            ws.write("in.txt", b"copied by the child\n");
            vec![ws.cc("untraced", UNTRACED_CLONE, &[])]
        });
        run.assert_same();
        assert_eq!(
            text(&run.traced.output.stdout),
            "child exit 0\n",
            "{mechanism}"
        );
        let ws = &run.traced_ws;
        let content = hash(b"copied by the child\n");
        assert_eq!(
            run.traced.inputs().get(&ws.path("in.txt")),
            Some(&content),
            "{mechanism}"
        );
        assert_eq!(
            run.traced.outputs().get(&ws.path("out.txt")),
            Some(&content),
            "{mechanism}"
        );
    }
}

#[test]
fn an_address_sanitizer_build_exits_as_untraced_and_is_recorded() {
    let run = side_by_side(&["--mechanism", "notify"], |ws| {
        ws.write("in.txt", b"checked\n");
        let prog = ws.cc(
            "asan",
            r#"
            #include <stdio.h>
            #include <stdlib.h>
            int main(void) {
                char *kept = malloc(32);
                FILE *in = fopen("in.txt", "r"); char line[64] = {0};
                fgets(line, sizeof line, in); fclose(in);
                FILE *out = fopen("out.txt", "w"); fputs(line, out); fclose(out);
                free(kept);
                puts("clean");
                return 0;
            }"#,
            &["-fsanitize=address", "-g"],
        );
        vec![prog]
    });
    run.assert_same();
    assert_eq!(run.traced.output.status.code(), Some(0));
    let ws = &run.traced_ws;
    assert_eq!(
        run.traced.outputs().get(&ws.path("out.txt")),
        Some(&hash(b"checked\n"))
    );
}

/// The command starts a daemon that detaches itself (setsid, its streams
/// on /dev/null) after writing one file, and writes another 2 s later.
const DAEMON: &str = "setsid sh -c 'echo early > early.txt; sleep 2; echo late > late.txt' \
    </dev/null >/dev/null 2>&1 & \
    while [ ! -s early.txt ]; do sleep 0.01; done; echo started";

fn wait_for(path: &std::path::Path, within: Duration) {
    let start = Instant::now();
    while !path.exists() && start.elapsed() < within {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_command_that_starts_a_daemon_returns_and_the_daemon_is_let_go() {
    let plain_ws = Workspace::new();
    let traced_ws = Workspace::new();
    let argv = ["/bin/sh".to_string(), "-c".into(), DAEMON.into()];
    let plain = plain_ws.untraced(&argv);
    let start = Instant::now();
    let traced = traced_ws.run_with(&["/bin/sh", "-c", DAEMON], &["--mechanism", "notify"]);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(traced.output.status.code(), plain.status.code());
    assert_eq!(traced.output.stdout, plain.stdout);
    let stderr = text(&traced.output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("roar: let go of ") && lines[0].contains("sleep 2"),
        "{stderr}"
    );
    let outputs = traced.outputs();
    assert_eq!(
        outputs.get(&traced_ws.path("early.txt")),
        Some(&hash(b"early\n"))
    );
    assert!(!outputs.contains_key(&traced_ws.path("late.txt")));
    // The daemon goes on, its file calls still answered: both end alike.
    wait_for(&plain_ws.root().join("late.txt"), Duration::from_secs(10));
    wait_for(&traced_ws.root().join("late.txt"), Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(traced_ws.files(), plain_ws.files());
}

/// Under the ptrace fallback the daemon stays traced, so the run waits for
/// it and records what it wrote (docs/tracer.md, Known limits).
#[test]
fn under_the_ptrace_fallback_a_daemon_is_waited_for() {
    let ws = Workspace::new();
    let out = ws.run_with(&["/bin/sh", "-c", DAEMON], &["--mechanism", "ptrace"]);
    assert_eq!(text(&out.output.stdout), "started\n");
    assert_eq!(
        out.outputs().get(&ws.path("late.txt")),
        Some(&hash(b"late\n"))
    );
}

const PRINT_EUID: &str = r#"
    #include <stdio.h>
    #include <unistd.h>
    int main(void) { printf("euid %d\n", (int)geteuid()); return 0; }"#;

fn am_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// With CAP_SYS_ADMIN the filter goes in without no_new_privs: a setuid
/// program (here setuid to nobody, run by root) takes its owner's identity
/// exactly as untraced.
#[test]
fn with_the_privilege_to_skip_no_new_privs_a_setuid_program_keeps_its_privileges() {
    if !am_root() || !roar_tracer::seccomp::can_keep_privileges() {
        // Without root this machine cannot make a setuid-to-another-user
        // program, and without CAP_SYS_ADMIN the filter needs
        // no_new_privs: the warning path is what happens then.
        return a_setuid_program_run_without_privileges_is_named_in_a_warning();
    }
    let run = side_by_side(&[], |ws| {
        let prog = ws.cc("whoami", PRINT_EUID, &[]);
        std::os::unix::fs::chown(&prog, Some(65534), None).expect("chown");
        std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o4755))
            .expect("chmod u+s");
        vec![prog]
    });
    run.assert_same();
    assert_eq!(text(&run.traced.output.stdout), "euid 65534\n");
    assert_eq!(text(&run.traced.output.stderr), "");
}

/// Without that privilege no_new_privs is set, the program runs without its
/// privileges, and the tracer says so once, naming it.
#[test]
fn a_setuid_program_run_without_privileges_is_named_in_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let ws = Workspace::new();
    let prog = ws.cc("whoami", PRINT_EUID, &[]);
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o4755)).expect("chmod u+s");
    let (uid, gid) = if am_root() {
        (65534, 65534)
    } else {
        // SAFETY: getuid/getgid cannot fail.
        unsafe { (libc::getuid(), libc::getgid()) }
    };
    for dir in [ws.root(), ws.bins.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    // The unprivileged user may not reach the build's own binary (a checkout in a
    // 0700 directory, as `mktemp -d` makes): run a copy from the open bins dir.
    let tracer = ws.bins.path().join("roar-tracer");
    std::fs::copy(common::TRACER, &tracer).expect("copy the tracer");
    let template = ws.command(&[&prog], &[]);
    let mut cmd = Command::new(&tracer);
    cmd.current_dir(ws.root()).args(template.get_args());
    cmd.uid(uid).gid(gid);
    let plain = Command::new(&prog)
        .uid(uid)
        .gid(gid)
        .output()
        .expect("runs");
    let traced = cmd.output().expect("tracer runs");
    assert_eq!(traced.status.code(), Some(0), "{}", text(&traced.stderr));
    // SAFETY: geteuid cannot fail.
    let owner = unsafe { libc::geteuid() };
    assert_eq!(
        text(&plain.stdout),
        format!("euid {owner}\n"),
        "untraced: setuid works"
    );
    assert_eq!(
        text(&traced.stdout),
        format!("euid {uid}\n"),
        "traced: no_new_privs"
    );
    let stderr = text(&traced.stderr);
    assert_eq!(
        stderr,
        format!(
            "roar: {prog} is setuid: under roar it runs without its privileges (no_new_privs); \
             run roar as root (or with CAP_SYS_ADMIN) to keep them\n"
        )
    );
}

/// A program that opens and reads its input through io_uring when it can,
/// and falls back to open/read when io_uring_setup fails, as real ones do.
const IO_URING: &str = r#"
    #define _GNU_SOURCE
    #include <fcntl.h>
    #include <stdio.h>
    #include <string.h>
    #include <unistd.h>
    #include <sys/mman.h>
    #include <sys/syscall.h>
    #include <linux/io_uring.h>
    static int open_with_uring(const char *path) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        int ring = syscall(SYS_io_uring_setup, 4, &p);
        if (ring < 0) return -2;
        size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
        char *sq = mmap(0, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
        char *cq = mmap(0, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
        struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe),
            PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES);
        if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return -3;
        memset(&sqes[0], 0, sizeof sqes[0]);
        sqes[0].opcode = IORING_OP_OPENAT;
        sqes[0].fd = AT_FDCWD;
        sqes[0].addr = (unsigned long)path;
        sqes[0].open_flags = O_RDONLY;
        unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
        unsigned *array = (unsigned *)(sq + p.sq_off.array);
        array[*tail & *(unsigned *)(sq + p.sq_off.ring_mask)] = 0;
        __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
        if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, 0, 0) < 0) return -4;
        unsigned head = *(unsigned *)(cq + p.cq_off.head);
        struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
        return cqes[head & *(unsigned *)(cq + p.cq_off.ring_mask)].res;
    }
    int main(void) {
        int fd = open_with_uring("in.txt");
        fprintf(stderr, fd >= 0 ? "io_uring\n" : "fallback\n");
        if (fd < 0) fd = open("in.txt", O_RDONLY);
        char buf[64] = {0};
        read(fd, buf, sizeof buf - 1);
        FILE *out = fopen("out.txt", "w"); fputs(buf, out); fclose(out);
        fputs(buf, stdout);
        return 0;
    }"#;

#[test]
fn io_uring_is_refused_so_files_go_through_the_ordinary_calls_and_are_recorded() {
    for mechanism in ["notify", "ptrace"] {
        let run = side_by_side(&["--mechanism", mechanism], |ws| {
            ws.write("in.txt", b"through a ring\n");
            vec![ws.cc("uring", IO_URING, &[])]
        });
        run.assert_same();
        assert_eq!(text(&run.traced.output.stdout), "through a ring\n");
        let enabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|v| v.trim() == "0")
            .unwrap_or(true);
        if enabled {
            assert_eq!(
                text(&run.plain.stderr),
                "io_uring\n",
                "untraced uses the ring"
            );
        }
        assert_eq!(text(&run.traced.output.stderr), "fallback\n", "{mechanism}");
        let ws = &run.traced_ws;
        let content = hash(b"through a ring\n");
        assert_eq!(run.traced.inputs().get(&ws.path("in.txt")), Some(&content));
        assert_eq!(
            run.traced.outputs().get(&ws.path("out.txt")),
            Some(&content)
        );
    }
}

/// `tr a-z A-Z < in.txt > out.txt 2> /dev/null` in `ws`, traced (with
/// `extra`) or not; stdout is created and truncated here, as a shell does.
fn redirected(ws: &Workspace, extra: Option<&[&str]>) -> std::process::ExitStatus {
    use std::fs::File;
    let argv = ["/bin/sh", "-c", "tr a-z A-Z"];
    let mut cmd = match extra {
        Some(extra) => ws.command(&argv, extra),
        None => {
            let mut cmd = Command::new(argv[0]);
            cmd.args(&argv[1..]).current_dir(ws.root());
            cmd
        }
    };
    cmd.stdin(File::open(ws.root().join("in.txt")).expect("in.txt"))
        .stdout(File::create(ws.root().join("out.txt")).expect("out.txt"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("runs")
}

#[test]
fn files_read_through_inherited_descriptors_are_inputs_and_written_ones_nothing() {
    for mechanism in ["notify", "ptrace"] {
        let plain = Workspace::new();
        plain.write("in.txt", b"shouted\n");
        assert!(redirected(&plain, None).success());
        let ws = Workspace::new();
        let input = ws.write("in.txt", b"shouted\n");
        let status = redirected(&ws, Some(&["--mechanism", mechanism]));
        assert_eq!(status.code(), Some(0), "{mechanism}");
        assert_eq!(ws.read("out.txt"), plain.read("out.txt"));
        assert_eq!(ws.read("out.txt"), b"SHOUTED\n");
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(ws.bins.path().join("report.json")).expect("a report"),
        )
        .expect("JSON");
        let outcome = common::Outcome {
            output: std::process::Output {
                status,
                stdout: Vec::new(),
                stderr: Vec::new(),
            },
            report: Some(report),
            store: ws.store(),
        };
        let path = |name: &str| ws.path(name);
        assert_eq!(
            outcome.inputs(),
            common::set(&[(path("in.txt"), input)]),
            "{mechanism}"
        );
        // The shell's `> out.txt` is not the job's output (docs/tracer.md).
        assert_eq!(outcome.outputs(), common::set(&[]), "{mechanism}");
    }
}
