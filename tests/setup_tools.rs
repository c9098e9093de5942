//! `scripts/setup-tools.sh` on machines that lack a prerequisite: each one
//! missing is named on a line of its own with how to get it, and nothing
//! is installed. The machine is simulated by a PATH holding only stand-in
//! tools (small scripts that answer the version questions as a real tool
//! would), so no case here gets as far as installing.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A stand-in tool on the simulated PATH.
fn tool(bin: &Path, name: &str, script: &str) {
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Python `version`, with or without a working venv module.
fn python(bin: &Path, version: &str, venv: bool) {
    let venv_exit = if venv { 0 } else { 1 };
    tool(
        bin,
        "python3",
        &format!(
            "case \"$2\" in *ensurepip*) exit {venv_exit} ;; *version_info*) echo {version} ;; esac"
        ),
    );
}

/// cargo and rustc `version`; the sysroot has no arm64 target.
fn rust(bin: &Path, version: &str, sysroot: &Path) {
    tool(bin, "cargo", "exit 0");
    tool(
        bin,
        "rustc",
        &format!(
            "case \"$1\" in --version) echo 'rustc {version} (abc 2025-01-01)' ;; --print) echo {} ;; esac",
            sysroot.display()
        ),
    );
}

fn node(bin: &Path, version: &str) {
    tool(bin, "node", &format!("echo v{version}"));
    tool(bin, "npm", "exit 0");
}

fn setup_tools(bin: &Path, args: &[&str]) -> Output {
    util::run(
        Command::new("/bin/bash")
            .arg(util::repo_root().join("scripts/setup-tools.sh"))
            .args(args)
            .env_clear()
            .env("PATH", bin),
    )
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn assert_refused(output: &Output, expected: &[&str]) {
    assert_eq!(output.status.code(), Some(1), "{}", util::text(output));
    let said = lines(output);
    // One line per missing prerequisite, then the closing line.
    assert_eq!(said.len(), expected.len() + 1, "{said:#?}");
    for (line, start) in said.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("setup-tools: {start}")),
            "{line:?} does not start with {start:?}"
        );
    }
    assert!(said.last().unwrap().contains("nothing was installed"));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("installing"),
        "{}",
        util::text(output)
    );
}

#[test]
fn a_bare_machine_is_told_every_missing_prerequisite_at_once() {
    let bin = tempfile::tempdir().unwrap();
    let output = setup_tools(bin.path(), &[]);
    assert_refused(
        &output,
        &[
            "python3 (3.9 or newer, with venv) is missing: install it (Debian/Ubuntu: apt-get install python3 python3-venv",
            "Rust (cargo and rustc 1.89 or newer) is missing: install it with rustup (https://rustup.rs)",
            "Node.js 18 or newer with npm is missing",
        ],
    );
    // The demo needs no Node.js.
    let demo = setup_tools(bin.path(), &["--demo"]);
    assert_refused(
        &demo,
        &["python3 (3.9 or newer", "Rust (cargo and rustc 1.89"],
    );
}

/// A machine with every prerequisite but what a case changes.
struct Machine {
    python: Option<(&'static str, bool)>,
    rust: &'static str,
    node: Option<&'static str>,
    rustup: bool,
}

const COMPLETE: Machine = Machine {
    python: Some(("3.11", true)),
    rust: "1.90.0",
    node: Some("20.1.0"),
    rustup: true,
};

impl Machine {
    fn install(&self, bin: &Path, sysroot: &Path) {
        if let Some((version, venv)) = self.python {
            python(bin, version, venv);
        }
        rust(bin, self.rust, sysroot);
        if let Some(version) = self.node {
            node(bin, version);
        }
        if self.rustup {
            tool(bin, "rustup", "exit 0");
        }
    }
}

#[test]
fn each_prerequisite_missing_in_turn_is_named_alone() {
    let sysroot = tempfile::tempdir().unwrap();
    let cases = [
        (
            Machine { python: Some(("3.11", false)), ..COMPLETE },
            "python3 has no working venv module, which the project's .venv needs: install it (Debian/Ubuntu: apt-get install python3-venv)",
        ),
        (
            Machine { python: Some(("3.8", true)), ..COMPLETE },
            "python3 is 3.8; 3.9 or newer is needed",
        ),
        (
            Machine { rust: "1.80.1", ..COMPLETE },
            "rustc is 1.80.1; 1.89 or newer is needed: rustup update",
        ),
        (
            Machine { node: None, ..COMPLETE },
            "Node.js 18 or newer with npm is missing (the workflow validators)",
        ),
        (
            Machine { node: Some("16.20.2"), ..COMPLETE },
            "node is 16.20.2; 18 or newer is needed",
        ),
        (
            Machine { rustup: false, ..COMPLETE },
            "rustup is missing, so the Rust target aarch64-unknown-linux-gnu (the Lambda functions' cross build) cannot be added",
        ),
    ];
    for (machine, expected) in cases {
        let bin = tempfile::tempdir().unwrap();
        machine.install(bin.path(), sysroot.path());
        let output = setup_tools(bin.path(), &[]);
        assert_refused(&output, &[expected]);
    }
}

#[test]
fn a_toolchain_that_has_the_arm64_target_needs_no_rustup_and_the_demo_never_does() {
    let sysroot = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    // Missing python keeps the script from installing anything here.
    rust(bin.path(), "1.90.0", sysroot.path());
    node(bin.path(), "20.1.0");
    let without_target = setup_tools(bin.path(), &[]);
    assert!(lines(&without_target)
        .iter()
        .any(|l| l.contains("rustup is missing")));
    let demo = setup_tools(bin.path(), &["--demo"]);
    assert!(!lines(&demo).iter().any(|l| l.contains("rustup")));
    std::fs::create_dir_all(sysroot.path().join("lib/rustlib/aarch64-unknown-linux-gnu")).unwrap();
    let with_target = setup_tools(bin.path(), &[]);
    assert_refused(&with_target, &["python3 (3.9 or newer"]);
}
