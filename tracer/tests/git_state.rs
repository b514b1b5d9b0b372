//! The git state the front end records, against git itself as ground
//! truth: the commit and branch `git` names, and a patch that is exactly
//! `git diff HEAD` for the changes git's own status reports (tracked files
//! only), which `git apply` then applies to a clean checkout.

use roar_tracer::git_state::{self, GitState};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "-c",
            "core.quotepath=off",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn repo_with(files: &[(&[u8], &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    for (name, content) in files {
        let path = dir.path().join(OsStr::from_bytes(name));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "first"]);
    dir
}

fn state(dir: &Path) -> GitState {
    git_state::read(dir)
        .expect("readable")
        .expect("a repository with a commit")
}

/// `git diff HEAD`, full index hashes shortened to 7 as roar writes them.
fn git_diff_head(dir: &Path) -> Vec<u8> {
    git(
        dir,
        &[
            "diff",
            "HEAD",
            "--no-color",
            "--no-ext-diff",
            "--abbrev=7",
            "--no-renames",
        ],
    )
}

#[test]
fn a_clean_repository_has_its_commit_branch_and_remote_and_no_patch() {
    let dir = repo_with(&[(b"train.py", b"print(1)\n")]);
    git(
        dir.path(),
        &["remote", "add", "origin", "https://example.com/r.git"],
    );
    let s = state(&dir.path().join("."));
    let head = String::from_utf8(git(dir.path(), &["rev-parse", "HEAD"])).expect("utf-8");
    assert_eq!(s.commit, head.trim());
    assert_eq!(s.branch.as_deref(), Some("main"));
    assert_eq!(s.remote.as_deref(), Some("https://example.com/r.git"));
    assert_eq!(s.repo, dir.path().as_os_str().as_bytes());
    assert!(!s.dirty() && s.patch.is_empty());
}

#[test]
fn a_subdirectory_finds_its_repository_and_untracked_files_do_not_count() {
    let dir = repo_with(&[(b"src/a.py", b"a\n")]);
    std::fs::write(dir.path().join("src/new.txt"), "untracked").expect("write");
    let s = state(&dir.path().join("src"));
    assert_eq!(s.repo, dir.path().as_os_str().as_bytes());
    assert!(!s.dirty());
}

#[test]
fn edits_deletions_staged_files_and_modes_give_git_diffs_own_patch() {
    let dir = repo_with(&[
        (b"edit.py", b"one\ntwo\nthree\nfour\nfive\nsix\nseven\n"),
        (b"gone.txt", b"bye\n"),
        (b"tail.txt", b"no newline at the end"),
        (b"run.sh", b"echo hi\n"),
        (b"same.txt", b"same\n"),
    ]);
    let p = dir.path();
    std::fs::write(
        p.join("edit.py"),
        "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\n",
    )
    .expect("w");
    std::fs::remove_file(p.join("gone.txt")).expect("rm");
    std::fs::write(p.join("tail.txt"), "no newline at the end, still").expect("w");
    std::fs::set_permissions(
        p.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(p.join("staged.py"), "new = 1\n").expect("w");
    git(p, &["add", "staged.py"]);
    // Touched but unchanged: stat differs, content does not.
    std::fs::write(p.join("same.txt"), "same\n").expect("w");
    let s = state(p);
    assert!(s.dirty());
    assert_eq!(
        String::from_utf8_lossy(&s.patch),
        String::from_utf8_lossy(&git_diff_head(p))
    );
}

#[test]
fn the_patch_applies_to_a_clean_checkout_of_the_commit() {
    let dir = repo_with(&[(b"a.txt", b"1\n2\n3\n"), (b"b.txt", b"x\n")]);
    let p = dir.path();
    std::fs::write(p.join("a.txt"), "1\n2\n3\n4\n").expect("w");
    std::fs::remove_file(p.join("b.txt")).expect("rm");
    std::fs::write(p.join("c.txt"), "added\n").expect("w");
    git(p, &["add", "c.txt"]);
    let s = state(p);
    let clone = tempfile::tempdir().expect("tempdir");
    git(
        clone.path(),
        &["clone", "-q", p.to_str().expect("utf-8"), "."],
    );
    git(clone.path(), &["checkout", "-q", "--detach", &s.commit]);
    std::fs::write(clone.path().join("roar.patch"), &s.patch).expect("w");
    git(clone.path(), &["apply", "roar.patch"]);
    assert_eq!(
        std::fs::read(clone.path().join("a.txt")).expect("r"),
        b"1\n2\n3\n4\n"
    );
    assert!(!clone.path().join("b.txt").exists());
    assert_eq!(
        std::fs::read(clone.path().join("c.txt")).expect("r"),
        b"added\n"
    );
}

#[test]
fn a_tracked_file_whose_name_is_not_utf8_is_diffed_like_any_other() {
    let name: &[u8] = b"caf\xe9.txt";
    let dir = repo_with(&[(name, b"old\n"), (b"plain.txt", b"p\n")]);
    let s = state(dir.path());
    assert!(!s.dirty(), "a clean tree stays clean");
    std::fs::write(dir.path().join(OsStr::from_bytes(name)), "new\n").expect("w");
    let s = state(dir.path());
    assert!(s.dirty());
    assert!(s.patch.windows(name.len()).any(|w| w == name));
    assert_eq!(s.patch, git_diff_head(dir.path()));
}

#[test]
fn a_binary_change_is_named_not_diffed() {
    let dir = repo_with(&[(b"w.bin", b"\0\x01\x02")]);
    std::fs::write(dir.path().join("w.bin"), b"\0\x01\x03").expect("w");
    let s = state(dir.path());
    assert!(String::from_utf8_lossy(&s.patch).contains("Binary files a/w.bin and b/w.bin differ\n"));
}

#[test]
fn outside_a_repository_or_before_the_first_commit_there_is_no_state() {
    let plain = tempfile::tempdir().expect("tempdir");
    assert_eq!(git_state::read(plain.path()).expect("ok"), None);
    git(plain.path(), &["init", "-q"]);
    assert_eq!(git_state::read(plain.path()).expect("ok"), None);
}

#[test]
fn a_detached_head_has_no_branch() {
    let dir = repo_with(&[(b"a", b"a\n")]);
    git(dir.path(), &["checkout", "-q", "--detach"]);
    assert_eq!(state(dir.path()).branch, None);
}

#[test]
fn changes_staged_by_a_soft_reset_count_though_the_index_cache_tree_is_valid() {
    // After `reset --soft`, the index (and its cache tree) is the later
    // commit's while HEAD names the earlier one: the difference is staged.
    let dir = repo_with(&[(b"a.txt", b"one\n")]);
    std::fs::write(dir.path().join("a.txt"), "two\n").expect("w");
    git(dir.path(), &["commit", "-qam", "second"]);
    git(dir.path(), &["reset", "-q", "--soft", "HEAD~1"]);
    let s = state(dir.path());
    assert!(s.dirty());
    assert_eq!(s.patch, git_diff_head(dir.path()));
}
