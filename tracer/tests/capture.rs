//! Capture fidelity (TARGETS.md): each test runs a real program under the
//! tracer and states its ground truth, the exact inputs and outputs with
//! their hashes; the report must match it exactly, nothing missing and
//! nothing extra.

mod common;
use common::{hash, set, Workspace};

#[test]
fn open_openat_and_openat2_reads_and_writes_are_all_seen() {
    let ws = Workspace::new();
    let h1 = ws.write("a.txt", b"one");
    let h2 = ws.write("b.txt", b"two");
    let h3 = ws.write("c.txt", b"three");
    let prog = ws.cc(
        "opens",
        r#"
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        #include <linux/openat2.h>
        #include <string.h>
        static void drain(int fd) { char b[64]; while (read(fd, b, sizeof b) > 0) {} close(fd); }
        int main(void) {
            drain(open("a.txt", O_RDONLY));
            drain(openat(AT_FDCWD, "b.txt", O_RDONLY));
            struct open_how how; memset(&how, 0, sizeof how); how.flags = O_RDONLY;
            drain(syscall(SYS_openat2, AT_FDCWD, "c.txt", &how, sizeof how));
            how.flags = O_WRONLY | O_CREAT | O_TRUNC; how.mode = 0644;
            int fd = syscall(SYS_openat2, AT_FDCWD, "out2.txt", &how, sizeof how);
            write(fd, "via openat2", 11); close(fd);
            fd = open("out1.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
            write(fd, "via open", 8); close(fd);
            open("missing.txt", O_RDONLY);
            return 0;
        }"#,
        &[],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.exit_code(), 0);
    assert_eq!(
        out.inputs(),
        set(&[
            (ws.path("a.txt"), h1),
            (ws.path("b.txt"), h2),
            (ws.path("c.txt"), h3)
        ])
    );
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("out1.txt"), hash(b"via open")),
            (ws.path("out2.txt"), hash(b"via openat2"))
        ])
    );
}

#[test]
fn relative_and_dirfd_relative_paths_resolve_after_chdir() {
    let ws = Workspace::new();
    let ha = ws.write("sub/a.txt", b"in sub");
    let hb = ws.write("other/b.txt", b"in other");
    let prog = ws.cc(
        "dirs",
        r#"
        #include <fcntl.h>
        #include <unistd.h>
        #include <stdio.h>
        int main(int argc, char **argv) {
            char b[64];
            if (chdir("sub") != 0) return 1;
            int fd = open("a.txt", O_RDONLY); read(fd, b, sizeof b); close(fd);
            int dir = open("../other", O_RDONLY | O_DIRECTORY);
            fd = openat(dir, "b.txt", O_RDONLY); read(fd, b, sizeof b); close(fd);
            if (fchdir(dir) != 0) return 2;
            fd = open("c.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644); write(fd, "c", 1); close(fd);
            fd = openat(dir, "../sub/d.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644); write(fd, "d", 1); close(fd);
            return 0;
        }"#,
        &[],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(
        out.inputs(),
        set(&[(ws.path("sub/a.txt"), ha), (ws.path("other/b.txt"), hb)])
    );
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("other/c.txt"), hash(b"c")),
            (ws.path("sub/d.txt"), hash(b"d"))
        ])
    );
}

#[test]
fn a_file_changed_in_place_is_an_input_with_its_old_content_and_an_output_with_its_new() {
    let ws = Workspace::new();
    let before = ws.write("data.bin", b"0123456789");
    let before_cfg = ws.write("cfg.txt", b"lr=0.1\n");
    let out = ws.py(concat!(
        "f = open('data.bin', 'r+b'); f.seek(2); f.write(b'XY'); f.close()\n",
        // sed -i style: read, write a temp file, rename it over the original.
        "s = open('cfg.txt').read().replace('0.1', '0.2')\n",
        "open('cfg.txt.tmp', 'w').write(s)\n",
        "import os; os.replace('cfg.txt.tmp', 'cfg.txt')\n",
    ));
    assert_eq!(
        out.inputs(),
        set(&[
            (ws.path("cfg.txt"), before_cfg),
            (ws.path("data.bin"), before)
        ])
    );
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("cfg.txt"), hash(b"lr=0.2\n")),
            (ws.path("data.bin"), hash(b"01XY456789"))
        ])
    );
}

#[test]
fn write_to_temp_then_rename_records_only_the_target() {
    let ws = Workspace::new();
    let out = ws.py("import os\nopen('model.pt.tmp', 'wb').write(b'weights')\nos.rename('model.pt.tmp', 'model.pt')\n");
    assert_eq!(out.inputs(), set(&[]));
    assert_eq!(
        out.outputs(),
        set(&[(ws.path("model.pt"), hash(b"weights"))])
    );
}

#[test]
fn a_temp_file_created_and_deleted_is_neither_input_nor_output() {
    let ws = Workspace::new();
    let h = ws.write("in.txt", b"abc");
    let out = ws.py(concat!(
        "import os\n",
        "open('scratch', 'w').write('tmp'); open('scratch').read(); os.unlink('scratch')\n",
        "open('out.txt', 'w').write(open('in.txt').read().upper())\n",
    ));
    assert_eq!(out.inputs(), set(&[(ws.path("in.txt"), h)]));
    assert_eq!(out.outputs(), set(&[(ws.path("out.txt"), hash(b"ABC"))]));
}

#[test]
fn mmap_reads_and_writes_are_attributed_through_their_open() {
    let ws = Workspace::new();
    let h = ws.write("in.bin", &[7u8; 8192]);
    let prog = ws.cc(
        "mm",
        r#"
        #include <fcntl.h>
        #include <unistd.h>
        #include <sys/mman.h>
        int main(void) {
            int in = open("in.bin", O_RDONLY);
            unsigned char *p = mmap(0, 8192, PROT_READ, MAP_PRIVATE, in, 0);
            int out = open("out.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
            ftruncate(out, 4096);
            unsigned char *q = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, out, 0);
            for (int i = 0; i < 4096; i++) q[i] = p[i] + 1;
            msync(q, 4096, MS_SYNC);
            return 0;
        }"#,
        &[],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.inputs(), set(&[(ws.path("in.bin"), h)]));
    assert_eq!(
        out.outputs(),
        set(&[(ws.path("out.bin"), hash(&[8u8; 4096]))])
    );
}

#[test]
fn threads_opening_files_concurrently_are_all_seen() {
    let ws = Workspace::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for i in 0..8 {
        let content = format!("shard {i}");
        inputs.push((
            ws.path(&format!("in{i}")),
            ws.write(&format!("in{i}"), content.as_bytes()),
        ));
        outputs.push((
            ws.path(&format!("out{i}")),
            hash(format!("shard {i}!").as_bytes()),
        ));
    }
    let prog = ws.cc(
        "threads",
        r#"
        #include <fcntl.h>
        #include <unistd.h>
        #include <stdio.h>
        #include <pthread.h>
        static void *work(void *arg) {
            long i = (long)arg; char name[16], buf[64];
            snprintf(name, sizeof name, "in%ld", i);
            int fd = open(name, O_RDONLY); int n = read(fd, buf, sizeof buf - 1); close(fd);
            buf[n] = '!';
            snprintf(name, sizeof name, "out%ld", i);
            fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644); write(fd, buf, n + 1); close(fd);
            return 0;
        }
        int main(void) {
            pthread_t t[8];
            for (long i = 0; i < 8; i++) pthread_create(&t[i], 0, work, (void *)i);
            for (int i = 0; i < 8; i++) pthread_join(t[i], 0);
            return 0;
        }"#,
        &["-pthread"],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.inputs(), set(&inputs));
    assert_eq!(out.outputs(), set(&outputs));
}

#[test]
fn fork_vfork_and_exec_chains_are_followed() {
    let ws = Workspace::new();
    let ha = ws.write("a.txt", b"read by the forked child");
    let hb = ws.write("b.txt", b"read by cat after vfork+exec");
    let hc = ws.write("c.txt", b"read by the re-exec'd program");
    let prog = ws.cc(
        "chain",
        r#"
        #include <fcntl.h>
        #include <unistd.h>
        #include <string.h>
        #include <sys/wait.h>
        static void copy(const char *from, const char *to) {
            char b[256]; int in = open(from, O_RDONLY); int n = read(in, b, sizeof b); close(in);
            int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644); write(out, b, n); close(out);
        }
        int main(int argc, char **argv) {
            if (argc > 1 && strcmp(argv[1], "again") == 0) { copy("c.txt", "from_exec.txt"); return 0; }
            pid_t p = fork();
            if (p == 0) { copy("a.txt", "from_fork.txt"); _exit(0); }
            waitpid(p, 0, 0);
            p = vfork();
            if (p == 0) { execl("/bin/sh", "sh", "-c", "cat b.txt > from_vfork.txt", (char *)0); _exit(127); }
            waitpid(p, 0, 0);
            execl(argv[0], argv[0], "again", (char *)0);
            return 1;
        }"#,
        &[],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.exit_code(), 0);
    assert_eq!(
        out.inputs(),
        set(&[
            (ws.path("a.txt"), ha.clone()),
            (ws.path("b.txt"), hb.clone()),
            (ws.path("c.txt"), hc.clone())
        ])
    );
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("from_exec.txt"), hc),
            (ws.path("from_fork.txt"), ha),
            (ws.path("from_vfork.txt"), hb)
        ])
    );
}

#[test]
fn shell_pipelines_record_every_stage() {
    let ws = Workspace::new();
    let h = ws.write("words.txt", b"b\na\nb\nc\n");
    let hs = ws.write(
        "script.sh",
        b"sort \"$1\" | uniq -c | sort -rn > counts.txt\nwc -l < \"$1\" > lines.txt\n",
    );
    let out =
        ws.sh("sh script.sh words.txt && cat words.txt | tr a-z A-Z | tee upper.txt > /dev/null");
    assert_eq!(
        out.inputs(),
        set(&[(ws.path("script.sh"), hs), (ws.path("words.txt"), h)])
    );
    let counts = ws.read("counts.txt");
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("counts.txt"), hash(&counts)),
            (ws.path("lines.txt"), hash(b"4\n")),
            (ws.path("upper.txt"), hash(b"B\nA\nB\nC\n")),
        ])
    );
}

#[test]
fn a_statically_linked_binary_is_traced_like_any_other() {
    let ws = Workspace::new();
    let h = ws.write("in.txt", b"static");
    let prog = ws.cc(
        "static",
        r#"
        #include <fcntl.h>
        #include <unistd.h>
        int main(void) {
            char b[64]; int fd = open("in.txt", O_RDONLY); int n = read(fd, b, sizeof b); close(fd);
            fd = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644); write(fd, b, n); close(fd);
            return 3;
        }"#,
        &["-static"],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.exit_code(), 3);
    assert_eq!(out.inputs(), set(&[(ws.path("in.txt"), h.clone())]));
    assert_eq!(out.outputs(), set(&[(ws.path("out.txt"), h)]));
}

#[test]
fn symlinks_are_recorded_as_the_files_they_resolve_to() {
    let ws = Workspace::new();
    let h = ws.write("real/data.csv", b"x,y\n");
    ws.write("real/model.bin", b"old");
    std::os::unix::fs::symlink(ws.path("real/data.csv"), ws.path("data.csv")).expect("symlink");
    std::os::unix::fs::symlink("real", ws.path("linkdir")).expect("symlink");
    let out =
        ws.py("open('linkdir/model.bin', 'wb').write(open('data.csv').read().encode() * 2)\n");
    assert_eq!(out.inputs(), set(&[(ws.path("real/data.csv"), h)]));
    assert_eq!(
        out.outputs(),
        set(&[(ws.path("real/model.bin"), hash(b"x,y\nx,y\n"))])
    );
}

#[test]
fn a_hard_link_is_an_output_with_the_same_hash() {
    let ws = Workspace::new();
    let out = ws.py("import os\nopen('w.bin', 'wb').write(b'w')\nos.link('w.bin', 'alias.bin')\n");
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("alias.bin"), hash(b"w")),
            (ws.path("w.bin"), hash(b"w"))
        ])
    );
    assert_eq!(out.inputs(), set(&[]));
}

#[test]
fn copy_file_range_and_sendfile_copies_are_seen_through_their_opens() {
    let ws = Workspace::new();
    let h = ws.write("src.bin", &[42u8; 100_000]);
    let out = ws.py(concat!(
        "import os\n",
        "i = os.open('src.bin', os.O_RDONLY); o = os.open('cfr.bin', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n",
        "n = 100000\nwhile n: n -= os.copy_file_range(i, o, n)\n",
        "os.lseek(i, 0, 0); s = os.open('sf.bin', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n",
        "n = 100000\nwhile n: n -= os.sendfile(s, i, None, n)\n",
    ));
    assert_eq!(out.inputs(), set(&[(ws.path("src.bin"), h.clone())]));
    assert_eq!(
        out.outputs(),
        set(&[(ws.path("cfr.bin"), h.clone()), (ws.path("sf.bin"), h)])
    );
}

#[test]
fn a_directory_written_as_a_dataset_is_one_tree_artifact() {
    let ws = Workspace::new();
    let out = ws.py(concat!(
        "import os\n",
        "os.makedirs('dataset/train')\n",
        "for i in range(3): open(f'dataset/train/shard-{i}.bin', 'wb').write(bytes([i]) * 10)\n",
        "open('dataset/meta.json', 'w').write('{}')\n",
        "open('summary.txt', 'w').write('3 shards')\n",
    ));
    let entries: Vec<(Vec<u8>, roar_tracer::hash::FileHash)> = [
        ("meta.json", b"{}".to_vec()),
        ("train/shard-0.bin", vec![0u8; 10]),
        ("train/shard-1.bin", vec![1u8; 10]),
        ("train/shard-2.bin", vec![2u8; 10]),
    ]
    .into_iter()
    .map(|(rel, data)| {
        (
            rel.as_bytes().to_vec(),
            roar_tracer::hash::FileHash {
                hash: *blake3::hash(&data).as_bytes(),
                size: data.len() as u64,
                digests: Default::default(),
            },
        )
    })
    .collect();
    let tree = roar_tracer::job::tree_object(&entries).expect("tree");
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("dataset"), tree.id()),
            (ws.path("summary.txt"), hash(b"3 shards"))
        ])
    );
    assert_eq!(out.kind_of(&ws.path("dataset")), "tree");
    let report = out.report.as_ref().expect("report");
    assert_eq!(report["trees"], serde_json::json!([tree.id()]));
    let id = tree.id();
    assert!(
        out.store
            .join("objects")
            .join(&id[..2])
            .join(&id[2..])
            .is_file(),
        "tree object stored"
    );
}

#[test]
fn a_dataset_written_under_a_temporary_name_and_renamed_is_one_tree() {
    let ws = Workspace::new();
    let out = ws.py(concat!(
        "import os\n",
        "os.mkdir('ds.partial')\n",
        "for i in range(2): open(f'ds.partial/{i}.bin', 'wb').write(b'x' * i)\n",
        "os.rename('ds.partial', 'ds')\n",
    ));
    let entries: Vec<(Vec<u8>, roar_tracer::hash::FileHash)> = (0..2u64)
        .map(|i| {
            let data = vec![b'x'; i as usize];
            (
                format!("{i}.bin").into_bytes(),
                roar_tracer::hash::FileHash {
                    hash: *blake3::hash(&data).as_bytes(),
                    size: i,
                    digests: Default::default(),
                },
            )
        })
        .collect();
    let tree = roar_tracer::job::tree_object(&entries).expect("tree");
    assert_eq!(out.outputs(), set(&[(ws.path("ds"), tree.id())]));
}

#[test]
fn reads_under_ignored_prefixes_are_filtered_and_the_store_is_never_an_artifact() {
    let ws = Workspace::new();
    ws.write("lib/site.py", b"x = 1");
    let h = ws.write("in.txt", b"real input");
    let store = ws.store();
    let script = format!(
        "open('lib/site.py').read(); open('in.txt').read(); import os; os.makedirs('{s}/objects', exist_ok=True); open('{s}/objects/junk', 'w').write('j'); open('lib/gen.py', 'w').write('y')",
        s = store.display()
    );
    let lib = ws.path("lib");
    let out = ws.run_with(
        &[common::python(), "-I", "-c", &script],
        &["--ignore-prefix", &lib],
    );
    assert_eq!(out.inputs(), set(&[(ws.path("in.txt"), h)]));
    assert_eq!(out.outputs(), set(&[]));
    assert!(
        out.report.as_ref().expect("report")["filtered_count"]
            .as_u64()
            .expect("count")
            >= 1
    );
}

#[test]
fn paths_matching_an_ignore_glob_are_filtered_like_prefixes() {
    let ws = Workspace::new();
    let h = ws.write("in.txt", b"real input");
    ws.write("old.log", b"read but ignored");
    let script = "open('in.txt').read(); open('old.log').read(); import os; \
        os.makedirs('sub', exist_ok=True); open('sub/new.log', 'w').write('l'); \
        open('x.tmp', 'w').write('t'); open('out.txt', 'w').write('o')";
    let root = ws.path("");
    let root = root.trim_end_matches('/');
    let any_log = format!("{root}/**/*.log");
    let top_tmp = format!("{root}/*.tmp");
    let out = ws.run_with(
        &[common::python(), "-I", "-c", script],
        &["--ignore-glob", &any_log, "--ignore-glob", &top_tmp],
    );
    assert_eq!(out.inputs(), set(&[(ws.path("in.txt"), h)]));
    assert_eq!(
        out.outputs(),
        set(&[(ws.path("out.txt"), blake3::hash(b"o").to_hex().to_string())])
    );
}

/// An output rewritten through a shared mapping after another descriptor
/// of it was closed: the second write touches a page already dirty, so
/// neither mtime nor ctime moves. Whatever was hashed while the command
/// ran, the recorded hash is the final content.
#[test]
fn an_output_rewritten_through_a_mapping_is_recorded_with_its_final_content() {
    let ws = Workspace::new();
    let prog = ws.cc(
        "remap",
        r#"
        #include <fcntl.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/mman.h>
        int main(void) {
            int fd = open("out.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
            char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED) return 2;
            memcpy(m, "first", 5);
            close(open("out.bin", O_WRONLY)); /* a close-after-write event */
            usleep(300000);                    /* long enough to be hashed */
            memcpy(m, "final", 5);             /* no fault: no new ctime */
            munmap(m, 4096);
            close(fd);
            return 0;
        }"#,
        &[],
    );
    let out = ws.run(&[&prog]);
    assert_eq!(out.exit_code(), 0);
    let content = ws.read("out.bin");
    assert_eq!(&content[..5], b"final");
    assert_eq!(out.outputs(), set(&[(ws.path("out.bin"), hash(&content))]));
}

/// Inputs are hashed as soon as they are opened and outputs once closed,
/// while the command still runs: the end of the run only confirms them (the
/// report counts those), and what it records is the same content. A file
/// the command changes afterwards is hashed again.
#[test]
fn files_are_hashed_while_the_command_runs_and_the_end_only_confirms() {
    let ws = Workspace::new();
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let h_in = ws.write("big-input.bin", &input);
    let out = ws.py(concat!(
        "import time\n",
        "data = open('big-input.bin', 'rb').read()\n",
        "open('copy.bin', 'wb').write(data)\n",
        "open('changed.txt', 'w').write('before')\n",
        "time.sleep(0.5)\n",
        "open('changed.txt', 'a').write(' and after')\n",
    ));
    assert_eq!(out.exit_code(), 0);
    assert_eq!(
        out.inputs(),
        set(&[(ws.path("big-input.bin"), h_in.clone())])
    );
    assert_eq!(
        out.outputs(),
        set(&[
            (ws.path("changed.txt"), hash(b"before and after")),
            (ws.path("copy.bin"), h_in),
        ])
    );
    let report = out.report.as_ref().expect("report");
    // big-input.bin and copy.bin were hashed during the 0.5 s (changed.txt
    // may have been too, once it settled after its last write).
    let early = report["hashed_while_running"].as_u64().expect("a count");
    assert!((2..=3).contains(&early), "{report}");
}
