//! Helpers shared by the end-to-end tests: run the binary, scratch folders, bad-input checks.

// Test helpers outside `#[test]` functions: a failed setup step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `fusionrt` with `args`.
pub fn fusionrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fusionrt"))
        .args(args)
        .output()
        .expect("the fusionrt binary runs")
}

/// An empty folder under the target directory, named `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts a bad-input failure: exit code 2, one line on stderr containing `needle`, no panic.
pub fn assert_bad_input(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
}
