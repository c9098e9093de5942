//! `invctl build` for real: cross-compiles every function with
//! cargo-zigbuild and checks what comes out. Slow (minutes when cold); it
//! uses its own target folder because the running `cargo test` holds the
//! lock of the usual one.

mod util;

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn build_target_dir() -> PathBuf {
    util::repo_root().join("target/build-test")
}

fn invctl_build(args: &[&str]) -> std::process::Output {
    invctl_build_in(&util::repo_root(), args)
}

fn invctl_build_in(folder: &Path, args: &[&str]) -> std::process::Output {
    util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .arg("build")
            .args(args)
            .args(["--output", "json"])
            .current_dir(folder)
            .env_remove(invctl::build::WORKSPACE_ENV)
            .env("CARGO_TARGET_DIR", build_target_dir()),
    )
}

fn report(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "invctl build failed:\n{}",
        util::text(output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The newest GLIBC_x.y the binary needs, read from its dynamic strings.
fn newest_glibc(file: &object::File) -> (u32, u32) {
    let dynstr = file
        .section_by_name(".dynstr")
        .expect("a dynamically linked binary")
        .data()
        .unwrap();
    dynstr
        .split(|b| *b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok()?.strip_prefix("GLIBC_"))
        .map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
            (parts.next().unwrap(), parts.next().unwrap_or(0))
        })
        .max()
        .expect("glibc symbols")
}

fn bootstrap_of(zip_path: &Path) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(fs::read(zip_path).unwrap())).unwrap();
    assert_eq!(archive.len(), 1, "{}: only bootstrap", zip_path.display());
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "bootstrap");
    assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut binary).unwrap();
    binary
}

#[test]
fn builds_every_function_as_a_reproducible_arm64_zip() {
    let first = report(&invctl_build(&[]));
    assert_eq!(first["architecture"], "arm64");
    let functions = first["functions"].as_array().unwrap();

    // One zip per function in the template, and nothing else.
    let template: Value = serde_json::from_str(
        &invctl::stack::synthesize(invctl::stack::Architecture::Arm64)
            .unwrap()
            .template
            .to_json(),
    )
    .unwrap();
    let mut in_template: Vec<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, _)| id.as_str())
        .collect();
    let mut built: Vec<&str> = functions
        .iter()
        .map(|f| f["logicalId"].as_str().unwrap())
        .collect();
    in_template.sort();
    built.sort();
    assert_eq!(built, in_template);

    for function in functions {
        let path = PathBuf::from(function["zip"].as_str().unwrap());
        let bytes = fs::read(&path).unwrap();
        assert_eq!(function["sha256"], sha256(&bytes), "{}", path.display());
        assert_eq!(function["bytes"], bytes.len());
        let binary = bootstrap_of(&path);
        let elf = object::File::parse(&*binary).unwrap();
        assert_eq!(
            elf.architecture(),
            object::Architecture::Aarch64,
            "{}",
            path.display()
        );
        let glibc = newest_glibc(&elf);
        assert!(
            glibc <= (2, 34),
            "{} needs GLIBC_{}.{}",
            path.display(),
            glibc.0,
            glibc.1
        );
    }

    // Nothing changed: nothing rewritten, the same hashes.
    // Run from another folder, invctl finds the tree it was built from
    // (as a binary installed with `cargo install --path .` does).
    let elsewhere = tempfile::tempdir().unwrap();
    let second = report(&invctl_build_in(elsewhere.path(), &[]));
    for (a, b) in functions
        .iter()
        .zip(second["functions"].as_array().unwrap())
    {
        assert_eq!(b["status"], "unchanged", "{}", b["function"]);
        assert_eq!(a["sha256"], b["sha256"]);
    }

    // A real recompilation of the same source gives the same bytes.
    let source = util::repo_root().join("lambdas/order-generator/src/main.rs");
    let text = fs::read(&source).unwrap();
    fs::write(&source, &text).unwrap();
    let zip = PathBuf::from(functions[0]["zip"].as_str().unwrap());
    fs::remove_file(&zip).unwrap();
    let third = report(&invctl_build(&["--function", "order-generator"]));
    let rebuilt = &third["functions"][0];
    assert_eq!(rebuilt["function"], "order-generator");
    assert_eq!(rebuilt["status"], "written");
    assert_eq!(
        rebuilt["sha256"], functions[0]["sha256"],
        "the rebuild is byte-identical"
    );
}

#[test]
fn a_missing_cross_compiler_is_named_with_its_install_command() {
    let workspace = tempfile::tempdir().unwrap();
    fs::write(workspace.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    fs::create_dir(workspace.path().join("lambdas")).unwrap();
    let output = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .args(["build", "--workspace"])
            .arg(workspace.path())
            .env("PATH", "/usr/bin:/bin"),
    );
    assert_eq!(output.status.code(), Some(4), "{}", util::text(&output));
    let text = util::text(&output);
    assert!(text.contains("cargo-zigbuild is not installed"), "{text}");
    assert!(text.contains("pip install cargo-zigbuild=="), "{text}");
}

#[test]
fn build_refuses_unknown_functions_and_foreign_folders() {
    let output = util::run(Command::new(assert_cmd::cargo::cargo_bin("invctl")).args([
        "build",
        "--function",
        "nope",
    ]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        util::text(&output).contains("reserve-stock"),
        "the valid names are listed"
    );

    // A folder named as the tree that is not one is refused, naming where
    // it came from.
    let elsewhere = tempfile::tempdir().unwrap();
    let named = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .arg("build")
            .current_dir(elsewhere.path())
            .env(invctl::build::WORKSPACE_ENV, elsewhere.path()),
    );
    assert_eq!(named.status.code(), Some(1), "{}", util::text(&named));
    assert!(
        util::text(&named).contains(&format!(
            "{} (from INVCTL_WORKSPACE) is not an invctl source tree",
            elsewhere.path().display()
        )),
        "{}",
        util::text(&named)
    );
    let flagged = util::run(
        Command::new(assert_cmd::cargo::cargo_bin("invctl"))
            .args(["build", "--workspace"])
            .arg(elsewhere.path())
            .env_remove(invctl::build::WORKSPACE_ENV),
    );
    assert_eq!(flagged.status.code(), Some(1));
    assert!(
        util::text(&flagged).contains("(from --workspace) is not an invctl source tree"),
        "{}",
        util::text(&flagged)
    );
}
